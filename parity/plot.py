"""`compare --plot PATH`: one PNG that explains a run without the terminal.

One row per run (preset). Left: the loss of every style, step by step, on a log
scale; when the styles agree their curves lie on top of each other, so each is
drawn with its own line style. Right: for each pair of styles, the largest
scaled error over every tensor and phase at each step, against the tolerance
line; a pair agrees while its curve stays under the line. Drawn headless (Agg).
"""

from __future__ import annotations

import numpy as np

from .files import pyplot, save_figure
from .report import verdict
from .styles import LABELS, SHORT

# Errors of exactly 0 (bit-identical styles) cannot sit on a log axis: they are
# drawn at this floor, which the axis label states.
FLOOR = 1e-18

_LINES = [dict(lw=4.0, ls="-", alpha=0.35), dict(lw=2.0, ls="--"), dict(lw=1.5, ls=":"),
          dict(lw=1.0, ls="-.")]


def plot(reports, path):
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    n = len(reports)
    fig, axes = plt.subplots(n, 2, figsize=(15, 4.2 * n + 0.6), squeeze=False)
    for row, rep in zip(axes, reports):
        ax_loss, ax_err = row
        steps = np.arange(rep.steps_run)
        v = verdict(rep)
        # -- loss curves -----------------------------------------------------
        for k, s in enumerate(rep.styles):
            loss = np.asarray(rep.losses[s][:rep.steps_run], dtype=float)
            loss = np.where(loss > 0, loss, np.nan)     # a loss of exactly 0 has no place on a log axis
            dots = dict(marker="o", ms=4) if np.count_nonzero(np.isfinite(loss)) < 3 else {}   # a point, not a line
            ax_loss.plot(steps, loss, label=LABELS[s], **_LINES[k % len(_LINES)], **dots)
        ax_loss.set_yscale("log")
        shown = [v for s in rep.styles for v in rep.losses[s][:rep.steps_run] if np.isfinite(v) and v > 0]
        if shown and max(shown) < 1.01 * min(shown):    # a flat curve (or one point): a decade each side, not
            ax_loss.set_ylim(min(shown) / 10, max(shown) * 10)      # ticks that all read the same number
        ax_loss.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_err.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_loss.set_xlabel("step")
        ax_loss.set_ylabel(f"loss ({rep.spec.loss})")
        ax_loss.set_title(f"{rep.spec.name}: loss of each style (curves overlap when they agree)", fontsize=10)
        ax_loss.legend(fontsize=8)
        ax_loss.grid(True, which="major", alpha=0.3)
        # -- per-step largest difference per pair ----------------------------
        # each error as a fraction of its own tolerance: a pair agrees while its curve stays under 1
        with np.errstate(divide="ignore", invalid="ignore"):
            err = rep.error_array() / rep.tolerance_array()
        judged = rep.judged_steps()      # a diverged run: the steps before it (the blow-up's are not judged)
        err = err[:judged]
        if err.size:
            per_step = np.nan_to_num(err.max(axis=1), nan=np.inf, posinf=1e300)   # (steps, pairs)
            dots = dict(marker="o", ms=4) if judged < 3 else {}
            for p, (a, b) in enumerate(rep.pairs):
                # identical pairs draw the same curve: each its own width and dash, so all stay visible
                ax_err.plot(steps[:judged], np.maximum(per_step[:, p], FLOOR), label=f"{SHORT[a]} vs {SHORT[b]}",
                            lw=max(0.8, 3.5 - 0.5 * p), ls=["-", "--", "-.", ":", "-", "--"][p % 6], alpha=0.8,
                            **dots)
        if judged < rep.steps_run:
            ax_err.axvline(judged, color="red", lw=1, ls=":")
            ax_err.annotate(f"diverged at step {judged}: from here\nthe numbers are the blow-up's, not judged",
                            xy=(judged, 0.5), xycoords=("data", "axes fraction"), fontsize=8, color="red",
                            ha="right")
        ax_err.axhline(1.0, color="red", ls="--", lw=1.5, label="the tolerance")
        # room above the line for the legend; the band above it is where a pair disagrees
        top = max(1.0, float(np.nanmax(np.where(np.isfinite(err), err, 0), initial=0))) * 1e5
        ax_err.set_ylim(FLOOR / 5, top)
        ax_err.axhspan(1.0, top, color="red", alpha=0.06)
        ax_err.text(0.01, 3.0, "above the line: the pair disagrees", transform=ax_err.get_yaxis_transform(),
                    fontsize=8, color="red", va="bottom")
        ax_err.text(0.01, FLOOR * 1.6, "bit for bit identical (error 0)", transform=ax_err.get_yaxis_transform(),
                    fontsize=8, color="gray", va="bottom")
        if rep.first is not None:
            d = rep.first
            ax_err.axvline(d.step, color="black", lw=1, ls=":")
            ax_err.annotate(f"first disagreement: step {d.step}\n{d.phase} {d.tensor}, {SHORT[d.pair[0]]} vs "
                            f"{SHORT[d.pair[1]]}", xy=(d.step, 1.0), xytext=(0.45, 0.55),
                            textcoords="axes fraction", fontsize=8,
                            arrowprops=dict(arrowstyle="->", lw=0.8))
        if rep.diverged is not None:
            ax_loss.axvline(rep.diverged.step, color="red", lw=1, ls=":")
            ax_loss.annotate(f"diverged at step {rep.diverged.step}", xy=(rep.diverged.step, 0.9),
                             xycoords=("data", "axes fraction"), fontsize=8, color="red")
        ax_err.set_yscale("log")
        ax_err.set_xlabel("step")
        ax_err.set_ylabel(f"largest error ÷ its tolerance, all tensors (0 at {FLOOR:g})")
        ax_err.set_title(f"{rep.spec.name}: each pair's largest difference per step — {v.upper()}",
                         fontsize=10, color="green" if v == "agree" else "red")
        # beside the axes, not over them: six styles make 15 pairs, a legend that would hide the band
        ax_err.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
        ax_err.grid(True, which="major", alpha=0.3)
    first = reports[0].spec
    count = len(reports[0].styles)
    count = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}.get(count, str(count))
    fig.suptitle(f"mlp-parity: {count} styles of one MLP, compared after every phase of every step "
                 f"({first.dtype}; a pair agrees while its curve stays under the red line, its tolerance)", fontsize=11)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)
