"""The machine the figures were taken on: CPU and its vector width, NumPy's and torch's BLAS, threads, load."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import numpy as np

from .settings import Settings


def _cpuinfo(field):
    """The value of the first `field` line of /proc/cpuinfo (None where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(field):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def load_average():
    """The 1, 5 and 15 minute load averages (None where the system does not report them)."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def machine_info(st: Settings):
    import torch
    flags = set((_cpuinfo("flags") or "").split())
    info = {"cpu": _cpuinfo("model name") or platform.processor() or platform.machine(),
            "cores": os.cpu_count(), "python": platform.python_version(),
            "cpu_vector": "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "unknown"),
            "load_before": load_average(), "threads": st.threads, "device": st.device}
    cfg = np.show_config(mode="dicts")
    blas = cfg.get("Build Dependencies", {}).get("blas", {})
    simd = cfg.get("SIMD Extensions", {})
    info["numpy"] = {"version": np.__version__, "blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
                     "simd_found": list(simd.get("found", [])), "simd_baseline": list(simd.get("baseline", []))}
    try:
        from threadpoolctl import threadpool_info
        pools = threadpool_info()
        blas_pool = next((p for p in pools if p.get("user_api") == "blas" and "numpy" in p.get("filepath", "")),
                         next((p for p in pools if p.get("user_api") == "blas"), {}))
        info["numpy"]["blas_threads"] = blas_pool.get("num_threads")
        info["numpy"]["blas_kernels"] = blas_pool.get("architecture")
    except ImportError:
        info["numpy"]["blas_threads"] = None
        info["numpy"]["blas_kernels"] = None
    shown = torch.__config__.show()
    m = re.search(r"BLAS_INFO=(\w+)", shown)
    mkl = re.search(r"Math Kernel Library Version ([\w.]+)", shown)
    info["torch"] = {"version": torch.__version__,
                     "blas": (m.group(1) if m else "?") + (f" {mkl.group(1)}" if mkl else ""),
                     "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                     "threads": torch.get_num_threads(),
                     "mkldnn": bool(torch.backends.mkldnn.is_available())}
    if st.device == "cuda":
        info["torch"]["gpu"] = torch.cuda.get_device_name()
    cap = info["torch"]["cpu_capability"]
    kern = info["numpy"]["blas_kernels"] or "?"
    info["wide_vectors"] = (f"CPU {info['cpu_vector']}; torch kernels {cap}; NumPy's {info['numpy']['blas']} "
                            f"matmul kernels {kern}"
                            + (" (AVX2: the CPU's AVX-512 is not used for NumPy's matmul)"
                               if kern in ("Haswell", "Zen") and info["cpu_vector"] == "AVX-512" else "")
                            + f"; NumPy's own loops up to {(info['numpy']['simd_found'] or ['baseline'])[-1]}")
    return info
