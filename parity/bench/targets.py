"""The project's speed targets, each with the value measured in a run and whether it was met."""

from __future__ import annotations

from ..styles import SHORT

TARGET_X_BOUND = 1.3          # every style at most 1.3× its own matmul bound (two-layer, N=64, float32, 2 threads)
TARGET_TRACING = 0.30         # tracing adds at most 30% to a step of the two-layer net
TARGET_COMPARE_S = 10.0       # `make compare` under 10 s on a warm machine
TARGET_THREADS = 2


def targets(result, st):
    """Each target with the measured value and met or not (None: not measured in this run); the bound targets
    also carry the style's floor (its seed.py step) as a multiple of the same bound."""
    out = []
    key = [r for r in result["steps"] if r["preset"] == "two-layer" and r["dtype"] == "float32" and r["N"] == 64]
    where = "two-layer, N=64, float32, 2 threads"
    usable = bool(key) and st.threads == TARGET_THREADS and st.device == "cpu"
    for s in st.styles:
        r = next((r for r in key if r["style"] == s), None)
        v = r["x_bound"] if r and usable else None
        floor = r["floor_x_bound"] if r and usable else None
        out.append({"target": f"{SHORT[s]} step <= {TARGET_X_BOUND}x its matmul bound ({where})",
                    "value": v, "limit": TARGET_X_BOUND, "met": None if v is None else v <= TARGET_X_BOUND,
                    "floor": floor})
    for s in st.styles:
        r = next((r for r in key if r["style"] == s), None)
        v = r["tracing_overhead"] if r and usable else None
        out.append({"target": f"{SHORT[s]} tracing adds <= {TARGET_TRACING:.0%} ({where})",
                    "value": v, "limit": TARGET_TRACING, "met": None if v is None else v <= TARGET_TRACING})
    c = result["startup"]["compare"]
    v = c["wall_s"] if c["full"] and c["exit"] == 0 else None
    out.append({"target": f"make compare under {TARGET_COMPARE_S:g} s wall", "value": v, "limit": TARGET_COMPARE_S,
                "met": None if v is None else v < TARGET_COMPARE_S})
    out.append({"target": "bitwise reproducible (same seed, same threads), every style", "value": None, "limit": None,
                "met": result["all_reproducible"]})
    return out
