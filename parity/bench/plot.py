"""`bench --plot PATH`: the batch-size scaling of the two-layer net as one PNG, written atomically."""

from __future__ import annotations

import numpy as np

from ..files import pyplot, save_figure
from ..styles import LABELS, LIBRARY

COLORS = {"numpy": "tab:blue", "torch_manual": "tab:orange", "torch_autograd": "tab:green", "torch_nn": "tab:red"}


def plot(result, path):
    """Left: µs per sample against N, each style and both bounds; right: each style as a multiple of its bound."""
    plt = pyplot()
    import matplotlib.ticker
    sc = result["scaling"]
    N = np.array(sc["sizes"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    for s, v in sc["styles"].items():
        v = np.array(v)
        bound = np.array(sc["bound"][LIBRARY[s]])
        ax1.loglog(N, v / N * 1e6, "o-", color=COLORS.get(s), label=LABELS[s])
        ax2.semilogx(N, v / bound, "o-", color=COLORS.get(s), label=LABELS[s])
    for lib, style in (("numpy", "--"), ("torch", ":")):
        ax1.loglog(N, np.array(sc["bound"][lib]) / N * 1e6, style, color="black",
                   label=f"matmul bound ({'NumPy' if lib == 'numpy' else 'torch'})")
    ax1.set_xlabel("batch size N")
    ax1.set_ylabel("µs per sample (step time / N)")
    ax1.set_title(f"two-layer net, {sc['dtype']}: time per sample")
    ax1.legend(fontsize=8)
    ax1.grid(True, which="both", alpha=0.3)
    ax2.axhline(1.0, color="black", linewidth=0.8)
    ax2.set_xlabel("batch size N")
    ax2.set_ylabel("step time / own matmul bound")
    ax2.set_title("fixed per-step overhead fades as N grows")
    ax2.set_yscale("log")
    ax2.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax2.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax2.set_yticks([0.5, 1, 1.3, 2, 3, 5, 10])
    ax2.legend(fontsize=8)
    ax2.grid(True, which="both", alpha=0.3)
    m = result["machine"]
    fig.suptitle(f"{m['cpu']}, {m['cores']} cores, {result['settings']['threads']} threads; "
                 f"NumPy {m['numpy']['version']} ({m['numpy']['blas']}), torch {m['torch']['version']}", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)
