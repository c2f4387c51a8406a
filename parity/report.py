"""What `python -m parity compare` prints and writes: the terminal report and the JSON record.

The terminal report of one run (one preset) is, in this order: a heading with
the spec; on a disagreement, the first disagreement in one sentence; the table of
the largest scaled error per phase × tensor group (rows) and pair of styles
(columns), each cell marked ok or FAIL against the tolerance; the loss of each
style at a few steps; the time per step of each style; the verdict.

The JSON record follows `parity/compare.schema.json` (described in README.md).
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

from .divergence import DIVERGENCE_FACTOR
from .styles import LABELS, PHASES, SHORT, TWIN, split_name
from .tolerance import NOISE_MULTIPLE, place

SCHEMA_ID = "mlp-parity/compare/3"
SCHEMA_FILE = os.path.join(os.path.dirname(__file__), "compare.schema.json")

GREEN, RED, BOLD, RESET = "\033[32m", "\033[31m", "\033[1m", "\033[0m"


def counted(n, noun):
    """'1 epoch', '12 epochs': a count and its noun, singular for one."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"

def verdict(report):
    if report.diverged is not None:
        return "diverged"
    return "agree" if report.first is None else "disagree"


def loss_steps(steps_run, count=5):
    """The steps whose loss is shown: the first, a few evenly spaced middle ones, the last."""
    if steps_run <= 0:
        return []
    return sorted({int(round(s)) for s in np.linspace(0, steps_run - 1, min(count, steps_run))})


def per_step_seconds(report):
    """{style: {phase: seconds per step, ..., "total": seconds per step}}."""
    n = max(report.steps_run, 1)
    out = {}
    for s, phases in report.seconds.items():
        row = {ph: t / n for ph, t in phases.items()}
        row["total"] = sum(phases.values()) / n
        out[s] = row
    return out


def disagreement_sentence(d):
    """The first disagreement as the terminal report prints it."""
    return f"The styles first disagree at {d.sentence()}."


def tolerance_words(report):
    """The tolerance of a run in a few words, for the report's head line."""
    if report.policy == "fixed":
        return f"tolerance {report.tol:g} (fixed)"
    if report.shadow_dtype is None:
        return f"tolerance {report.tol:g} (no error came near it, so no shadow was needed)"
    if all(s in TWIN for s in report.styles) and report.spec.dtype == "float32":   # alone: their lessons' noise
        twins = " and ".join(dict.fromkeys(LABELS[TWIN[s]] for s in report.styles))
        return (f"tolerance {NOISE_MULTIPLE}× the rounding noise {twins} (the lessons they run, in one process) "
                f"show against their {report.shadow_dtype} shadows, at least {report.tol:g}")
    return (f"tolerance {NOISE_MULTIPLE}× the rounding noise each style shows against its {report.shadow_dtype} "
            f"shadow, at least {report.tol:g}")


def _within(report):
    return f"{report.tol:g}" if report.shadow_dtype is None else f"{NOISE_MULTIPLE}× their rounding noise"


def _times(m):
    """A margin as '×16', '×740', '×1.1e3', '×inf' (no error at all)."""
    if not math.isfinite(m):
        return "×inf"
    return f"×{m:.3g}" if m < 1e3 else f"×{m:.2g}".replace("e+0", "e").replace("e+", "e")


def _paint(text, colour, colour_on):
    return f"{colour}{text}{RESET}" if colour_on else text


def format_run(report, *, colour=False, device="cpu"):
    """The terminal report of one run, as a string."""
    spec = report.spec
    lines = []
    lines.append(_paint(f"== {spec.describe()}, {counted(report.steps_run, 'step')} on {device}, "
                        f"{tolerance_words(report)}", BOLD, colour))
    if report.first is not None:
        lines.append(_paint("DISAGREE: ", RED, colour) + disagreement_sentence(report.first))
    if report.diverged is not None:
        lines.append(_paint("DIVERGED: ", RED, colour) + report.diverged.sentence(spec))

    # -- the table: phase × tensor group against the pairs ------------------------
    if report.judged_steps() == 0 and report.diverged is not None:
        lines.append("")
        lines.append(f"(no table: the run diverged at step {report.diverged.step}, before any step could be judged)")
    else:
        # Up to six pairs (four styles) a pair per column; with more (six styles make 15) a pair
        # per row and a phase × tensor group per column, so the table stays as wide as a screen.
        groups = report.by_phase_group()
        margins = report.margins_by_phase_group()
        keys = [(ph, g) for phase in report.phases for (ph, g) in groups if ph == phase]

        def cell(p, key, width):
            e, m = groups[key][p], margins[key][p]
            ok = m >= 1
            mark = 'ok' if ok else 'FAIL'
            text = (f"{e:.1e} {mark:>4}" if math.isfinite(e) else f"{'inf':>7} {mark:>4}") + f" {_times(m):>7}"
            return " " * max(1, width - len(text)) + _paint(text, GREEN if ok else RED, colour)

        heads = [f"{SHORT[a]}~{SHORT[b]}" for a, b in report.pairs]
        lines.append("")
        if len(report.pairs) <= 6:
            width = max(21, *(len(h) + 2 for h in heads))
            pw = max(9, *(len(ph) + 1 for ph in report.phases))      # "allreduce" (a data-parallel run) is 9 long
            lines.append(f"{'phase':<{pw}}{'tensor':<8}" + "".join(h.rjust(width) for h in heads))
            for key in keys:
                lines.append(f"{key[0]:<{pw}}{key[1]:<8}" + "".join(cell(p, key, width) for p in range(len(heads))))
        else:
            width = 21
            hw = max(len(h) for h in heads) + 1
            lines.append(f"{'phase':<{hw}}" + "".join(ph.rjust(width) for ph, _ in keys))
            lines.append(f"{'pair':<{hw}}" + "".join(g.rjust(width) for _, g in keys))
            for p, h in enumerate(heads):
                lines.append(f"{h:<{hw}}" + "".join(cell(p, key, width) for key in keys))
        over = "all steps"
        if report.judged_steps() < report.steps_run:       # a run that diverged: its last step is the blow-up's
            n = report.judged_steps()
            over = f"the {n} steps before the divergence" if n != 1 else "step 0, before the divergence"
        lines.append(f"(each cell: the largest scaled error over {over}, |a−b| / (scale + max(|a|,|b|)), ok when "
                     "every step is within its tolerance, and ×m: the tolerance was m times the error at the closest "
                     "step)")

    # -- the loss at a few steps, side by side ---------------------------------
    steps = loss_steps(report.steps_run)
    if steps:
        col = 20
        lines.append("")
        lines.append(f"{'loss at step':<14}" + "".join(LABELS[s].rjust(col) for s in report.styles))
        for k in steps:
            vals = [report.losses[s][k] if k < len(report.losses[s]) else math.nan for s in report.styles]
            lines.append(f"{k:<14}" + "".join(f"{v:.12g}".rjust(col) for v in vals))

    # -- time per step ------------------------------------------------------------
    if report.steps_run:
        sec = per_step_seconds(report)
        col = 20
        lines.append("")
        lines.append(f"{'ms per step':<14}" + "".join(LABELS[s].rjust(col) for s in report.styles))
        for ph in (*report.phases, "total"):
            lines.append(f"{ph:<14}" + "".join(f"{1e3 * sec[s][ph]:.3f}".rjust(col) for s in report.styles))

    # -- the verdict ------------------------------------------------------------
    lines.append("")
    v = verdict(report)
    if v == "agree":
        largest = report.error_array().max(initial=0.0)
        pairs = f"all {len(report.pairs)} pairs" if len(report.pairs) > 1 else "the pair"
        margin = min((m.min() for m in report.margins_by_phase_group().values()), default=math.inf)
        how = (f"largest error {largest:.2g}; every error at most 1/{_times(margin)[1:]} of its tolerance"
               if largest > 0 else "every error 0: the same numbers in every style")
        lines.append(_paint("AGREE", GREEN, colour) + f": {pairs} within {_within(report)} "
                     f"over {counted(report.steps_run, 'step')} ({how})")
    elif v == "disagree":
        d = report.first
        lines.append(_paint("DISAGREE", RED, colour) + f": first at {place(d.step, d.phase, d.layer, d.tensor)}, "
                     f"between {d.pair[0]} and {d.pair[1]}")
    else:
        lines.append(_paint("DIVERGED", RED, colour) + f": at step {report.diverged.step} "
                     f"in {report.diverged.style}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------


def _num(v):
    """A float for JSON: null where it is not finite (JSON has no NaN or infinity)."""
    v = float(v)
    return v if math.isfinite(v) else None


def _nums(arr):
    arr = np.asarray(arr, dtype=np.float64)
    out = arr.tolist()
    if np.all(np.isfinite(arr)):
        return out

    def clean(x):
        return [clean(i) for i in x] if isinstance(x, list) else _num(x)
    return clean(out)


def run_record(report, *, device="cpu"):
    """One run as a JSON-ready dict (see compare.schema.json)."""
    spec = dataclasses.asdict(report.spec)
    spec["sizes"] = list(spec["sizes"])
    first = None
    if report.first is not None:
        d = report.first
        first = {"step": d.step, "phase": d.phase, "tensor": d.tensor, "layer": d.layer,
                 "pair": list(d.pair), "index": list(d.index), "value_a": _num(d.value_a),
                 "value_b": _num(d.value_b), "abs_err": _num(d.abs_err), "rel_err": _num(d.rel_err),
                 "error": _num(d.error), "tolerance": d.tol, "scale": _num(d.scale), "noise": _num(d.noise),
                 "shapes": None if d.shapes is None else [None if s is None else list(s) for s in d.shapes],
                 "noise_from": None if d.noise_from is None else [d.noise_from[0], _num(d.noise_from[1]),
                                                                  _num(d.noise_from[2]), d.noise_from[3]],
                 "sentence": disagreement_sentence(d)}
    diverged = None
    if report.diverged is not None:
        dv = report.diverged
        diverged = {"step": dv.step, "style": dv.style, "loss": _num(dv.loss), "first_loss": _num(dv.first_loss),
                    "tensor": dv.tensor,
                    "factor": DIVERGENCE_FACTOR, "sentence": dv.sentence(report.spec)}
    sec = per_step_seconds(report)
    return {
        "preset": report.spec.name,
        "spec": spec,
        "device": device,
        "styles": list(report.styles),
        "pairs": [list(p) for p in report.pairs],
        "tolerance": report.tol,
        "policy": report.policy,
        "shadow_dtype": report.shadow_dtype,
        "noise_multiple": NOISE_MULTIPLE,
        "steps_run": report.steps_run,
        "tensors": [{"phase": ph, "name": name, "group": split_name(name)[0], "layer": split_name(name)[1]}
                    for ph, name in report.tensors],
        "errors": _nums(report.error_array()),
        "tolerances": _nums(report.tolerance_array()),
        "losses": {s: _nums(v) for s, v in report.losses.items()},
        "first_divergence": first,
        "diverged": diverged,
        "verdict": verdict(report),
        "parallel": _parallel_record(report),
        "timings": {s: {"seconds_per_step": sec[s]["total"],
                        "phases_seconds_per_step": {ph: sec[s][ph] for ph in PHASES},
                        "total_seconds": sum(report.seconds[s].values())}
                    for s in report.styles},
    }


def _parallel_record(report):
    """A data-parallel run's world size, what its ranks noted, which rank computed the first disagreement's
    element, and the lines the text report says after the table; null for a run of one process."""
    p = report.parallel
    if not p:
        return None
    return {"world_size": p["world_size"], "startup_seconds": p["startup_seconds"],
            "build_seconds": dict(p["build_seconds"]), "notes": {s: list(n) for s, n in p["notes"].items()},
            "where": dict(p.get("where", {})), "said": list(p.get("said", []))}


def overall_verdict(reports):
    vs = [verdict(r) for r in reports]
    for v in ("diverged", "disagree"):
        if v in vs:
            return v
    return "agree"


def json_record(reports, *, device="cpu"):
    """The whole JSON document of a compare command."""
    return {"schema": SCHEMA_ID, "verdict": overall_verdict(reports),
            "runs": [run_record(r, device=device) for r in reports]}
