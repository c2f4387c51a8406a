"""The project's speed targets, each as a ratio measured in the run (never an absolute time), and whether it was met."""

from __future__ import annotations

from ..styles import SHORT
from ..threads import DEFAULT as TARGET_THREADS

TARGET_X_FLOOR = 1.05         # every lesson at most 1.05× its floor (its seed.py), two-layer, N=64, each dtype
TARGET_TRACING = 0.20         # tracing adds at most 20% to a step of the two-layer net
TARGET_COMPARE = 1.3          # `compare` at most 1.3× (its imports + the lessons' bare steps for the same runs)
TARGET_BUSY = 1.25            # `compare` beside one CPU-bound process at most 1.25× its quiet time


def targets(result, st):
    """Each target with the measured value and met or not (None: not measured in this run)."""
    out = []
    usable = st.threads == TARGET_THREADS and st.device == "cpu"
    where = lambda dtype: f"two-layer, N=64, {dtype}, {TARGET_THREADS} thread{'s' * (TARGET_THREADS > 1)}"  # noqa
    for dtype in ("float32", "float64"):
        key = [r for r in result["steps"] if r["preset"] == "two-layer" and r["dtype"] == dtype and r["N"] == 64]
        for s in st.styles:
            r = next((r for r in key if r["style"] == s), None)
            v = r.get("x_floor") if r and usable else None
            out.append({"target": f"{SHORT[s]} step <= {TARGET_X_FLOOR}x its floor ({where(dtype)})",
                        "value": v, "limit": TARGET_X_FLOOR, "met": None if v is None else v <= TARGET_X_FLOOR})
        for s in st.styles:
            r = next((r for r in key if r["style"] == s), None)
            v = r["tracing_overhead"] if r and usable else None
            out.append({"target": f"{SHORT[s]} tracing adds <= {TARGET_TRACING:.0%} ({where(dtype)})",
                        "value": v, "limit": TARGET_TRACING, "met": None if v is None else v <= TARGET_TRACING})
    c = result.get("compare_cost")
    full = bool(c) and c["full"] and c["exit"] == 0 and usable
    v = c["x_floor"] if full else None
    out.append({"target": f"make compare <= {TARGET_COMPARE}x (its imports + the lessons' bare steps)",
                "value": v, "limit": TARGET_COMPARE, "met": None if v is None else v <= TARGET_COMPARE})
    v = c["busy_slowdown"] if full and c["busy_exit"] == 0 else None
    out.append({"target": f"make compare beside one CPU-bound process <= {TARGET_BUSY}x its quiet time",
                "value": v, "limit": TARGET_BUSY, "met": None if v is None else v <= TARGET_BUSY})
    out.append({"target": f"bitwise reproducible (same seed, {st.threads} thread{'s' * (st.threads > 1)}), "
                          "every style", "value": None, "limit": None, "met": result["all_reproducible"]})
    return out
