"""The bench's figures as terminal tables: the machine, the step times, scaling, start-up, reproducibility, targets."""

from __future__ import annotations

import sys

from ..styles import LABELS, LIBRARY, SHORT

NONE = "—"        # a figure that does not apply here (the floor where seed.py does not run the net)


def _us(s):
    """Seconds as whole microseconds (one decimal below 10 µs)."""
    return f"{s * 1e6:,.0f}" if s >= 1e-5 else f"{s * 1e6:.1f}"


def _t(s):
    """A duration with a unit that fits it."""
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


def format_table(result, out=None):
    out = out or sys.stdout
    m, st = result["machine"], result["settings"]
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p(f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}; {st['threads']} threads; device {m['device']}")
    p(f"  NumPy {m['numpy']['version']}: BLAS {m['numpy']['blas']}, kernels {m['numpy']['blas_kernels']}, "
      f"{m['numpy']['blas_threads']} threads")
    p(f"  torch {m['torch']['version']}: BLAS {m['torch']['blas']}, CPU capability {m['torch']['cpu_capability']}, "
      f"{m['torch']['threads']} threads" + (f", GPU {m['torch']['gpu']}" if "gpu" in m["torch"] else ""))
    p(f"  wider vector kernels: {m['wide_vectors']}")
    lb = m.get("load_before")
    if lb:
        p(f"  load average at start {lb[0]:.2f}, at end {m['load_after'][0]:.2f}"
          + ("  (busy machine: timings are noisy)" if max(lb[0], m["load_after"][0]) > (m["cores"] or 1) else ""))
    p("\none training step (µs): median [IQR] over "
      f"{st['rounds']} rounds x {st['steps']} steps; bare = the lesson's MLP.step, "
      "traced = run + read per phase, as the harness does")
    for b in result["bound"]:
        p(f"\n== {b['preset']}, N={b['N']}, {b['dtype']}: {b['flops'] / 1e6:.3g} MFLOP of matmul per step; "
          f"bound: NumPy {_us(b['numpy']['median_s'])} µs ({b['numpy']['gflop_s']:.1f} GFLOP/s)"
          + (f", torch {_us(b['torch']['median_s'])} µs ({b['torch']['gflop_s']:.1f} GFLOP/s)" if "torch" in b else ""))
        p(f"{'style':<16}{'bare':>10}{'[IQR]':>10}{'traced':>10}{'[IQR]':>10}{'tracing':>9}"
          f"{'x bound':>9}{'x NumPy':>9}{'overhead':>10}{'floor':>9}{'x bound':>9}{'x floor':>9}")
        rows = [r for r in result["steps"] if (r["preset"], r["dtype"]) == (b["preset"], b["dtype"])]
        for r in rows:
            xn = "" if r["x_numpy"] is None else f"{r['x_numpy']:.2f}"
            floor = (f"{NONE:>9}{NONE:>9}{NONE:>9}" if r["floor"] is None
                     else f"{_us(r['floor']['median_s']):>9}{r['floor_x_bound']:>9.2f}{r['x_floor']:>9.2f}")
            p(f"{LABELS[r['style']]:<16}{_us(r['bare']['median_s']):>10}{_us(r['bare']['iqr_s']):>10}"
              f"{_us(r['traced']['median_s']):>10}{_us(r['traced']['iqr_s']):>10}{r['tracing_overhead']:>+9.0%}"
              f"{r['x_bound']:>9.2f}{xn:>9}{_us(r['overhead_s']):>10}{floor}")
        nn = next((r for r in rows if r["style"] == "torch_nn" and r["floor_forms"]), None)
        if nn:
            p("floor = the lesson's seed.py, the same step in the fewest operations; nn, by torch.optim.SGD form: "
              + ", ".join(f"{f} {_us(v)}" for f, v in nn["floor_forms"].items()))
        elif rows and all(r["floor"] is None for r in rows):
            p(f"floor {NONE}: the lesson's seed.py runs the two-layer net only")
    sc = result["scaling"]
    p(f"\nbatch-size scaling, {sc['preset']} {sc['dtype']}: bare step (µs), and as a multiple of its own bound")
    p(f"{'N':>6}{'MFLOP':>9}{'bound np':>10}{'bound t':>10}"
      + "".join(f"{SHORT[s]:>10} {'x':>6}" for s in sc["styles"]))
    for i, n in enumerate(sc["sizes"]):
        cells = ""
        for s, v in sc["styles"].items():
            bound = sc["bound"][LIBRARY[s]][i]
            cells += f"{_us(v[i]):>10} {v[i] / bound:>6.2f}"
        p(f"{n:>6}{sc['flops'][i] / 1e6:>9.3g}{_us(sc['bound']['numpy'][i]):>10}{_us(sc['bound']['torch'][i]):>10}"
          + cells)
    su = result["startup"]
    p("\nstart-up")
    p("  import (fresh interpreter): " + ", ".join(f"{SHORT[s]} {_t(v)}" for s, v in su["import_s"].items()))
    p("  build the two-layer net (first / then): "
      + ", ".join(f"{SHORT[s]} {_t(su['first_build_s'][s])} / {_t(v)}" for s, v in su["build_s"].items()))
    c = result.get("compare_cost")
    if c:
        p(f"\ncompare's cost: {c['command']}, median of {len(c['rounds'])} round(s)")
        p(f"  wall {_t(c['wall_s'])} (exit {c['exit']}); imports {_t(c['imports_s'])} ({c['import_line']}); "
          f"the lessons' bare steps for the same runs {_t(c['bare_s'])}")
        p(f"  wall / (imports + bare steps) = {c['x_floor']:.2f}; the harness's share of the wall time "
          f"{c['harness_share']:.0%}")
        p(f"  beside one CPU-bound process: {_t(c['busy_wall_s'])} (exit {c['busy_exit']}), "
          f"{c['busy_slowdown']:.2f}x its quiet time")
    rep = result["reproducible"]
    bad = [k for k, r in rep.items() if not r["identical"]]
    n = sum(r["tensors"] for r in rep.values())
    p(f"\nreproducibility: two runs per style, preset and dtype, same seed and {st['threads']} threads: "
      + ("every tensor bit-identical" if not bad else "DIFFERENT in " + "; ".join(
          f"{k} ({rep[k]['first_difference']})" for k in bad))
      + f" ({n} tensors over {st['repro_steps']} steps each)")
    p("\ntargets")
    width = max(len(t["target"]) for t in result["targets"]) + 2
    for t in result["targets"]:
        verdict = {True: "met", False: "NOT MET", None: "not measured in this run"}[t["met"]]
        v = t["value"]
        if v is None:
            shown = ""
        elif "tracing" in t["target"]:
            shown = f"{v:+.0%}"
        else:
            shown = f"{v:.2f}x"
        if t.get("floor") is not None and not t["met"]:
            verdict += f" (the floor, the lesson's seed.py: {t['floor']:.2f}x)"
        p(f"  {t['target']:<{width}}{shown:>8}  {verdict}")
    p(f"\n(bench took {result['seconds']:.0f} s)")
