"""What the bench runs: its settings, the quick ones, and the check that refuses bad ones before any work."""

from __future__ import annotations

import os

from dataclasses import dataclass

from ..options import check_device
from ..spec import PRESETS, SpecError
from ..styles import STYLES
from .targets import TARGET_THREADS

SCALING_SIZES = (1, 8, 64, 512, 4096)


class BenchError(SpecError):
    """Bad options for the bench; the message names the problem and the fix."""


@dataclass
class Settings:
    styles: tuple = STYLES
    presets: tuple = ("two-layer", "three-layer")
    dtypes: tuple = ("float32", "float64")
    sizes: tuple = SCALING_SIZES
    scaling_dtype: str = "float32"
    threads: int = TARGET_THREADS
    device: str = "cpu"
    seed: int = 0
    rounds: int = 5               # measurements are interleaved in this many rounds
    warmup: int = 5               # untimed steps before each round's timed steps
    steps: int = 40               # timed steps per round (each timed on its own)
    scaling_budget_s: float = 0.3   # time per style and size in the scaling sweep, over all rounds
    import_repeats: int = 3
    compare_args: tuple = ("compare",)
    compare_rounds: int = 2       # compare's cost: rounds of (imports, bare steps, compare quiet, compare busy)
    repro_steps: int = 10
    settle_s: float = 0.25        # pause when switching between NumPy and torch work (see timing.settle)
    quick: bool = False

    @classmethod
    def quick_settings(cls, **changes):
        base = dict(sizes=(1, 8, 64), rounds=1, warmup=1, steps=3, scaling_budget_s=0.01, import_repeats=1,
                    compare_args=("compare", "--preset", "three-layer", "--steps", "2"), repro_steps=2,
                    compare_rounds=1, settle_s=0.02, quick=True)
        base.update(changes)
        return cls(**base)

    def check(self):
        """Every bad option is refused here, before any work."""
        for s in self.styles:
            if s not in STYLES:
                raise BenchError(f"unknown style {s!r}: choose from {', '.join(STYLES)}")
        for p in self.presets:
            if p not in PRESETS:
                raise BenchError(f"unknown preset {p!r}: choose from {', '.join(PRESETS)}")
        for d in (*self.dtypes, self.scaling_dtype):
            if d not in ("float32", "float64"):
                raise BenchError(f"unknown dtype {d!r}: choose from float32, float64")
        for name in ("styles", "presets", "dtypes"):
            values = getattr(self, name)
            if not values:
                raise BenchError(f"--{name} is empty: name at least one")
            if len(set(values)) != len(values):
                raise BenchError(f"--{name} names one twice ({','.join(values)}): name each once")
        if not self.sizes or any(n < 1 for n in self.sizes):
            raise BenchError(f"--sizes must be positive batch sizes, got {','.join(map(str, self.sizes))}")
        for name in ("threads", "rounds", "steps", "import_repeats", "repro_steps", "compare_rounds"):
            if getattr(self, name) < 1:
                raise BenchError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        cores = os.cpu_count() or 1
        if self.threads > cores:            # as compare refuses it (the bench's compare would, after the timings)
            raise BenchError(f"--threads must be a whole number from 1 to {cores} (this machine has {cores} cores), "
                             f"got {self.threads}")
        from ..spec import SpecError, preset
        for n in self.sizes:                # the scaling sweep's nets, each checked as a spec now, not when reached
            try:
                preset("two-layer", dtype=self.scaling_dtype, seed=self.seed, n_samples=n)
            except SpecError as exc:
                raise BenchError(f"--sizes {n}: {exc}") from None
        if self.warmup < 0:
            raise BenchError(f"--warmup must be at least 0, got {self.warmup}")
        if self.seed < 0:
            raise BenchError(f"--seed must be at least 0, got {self.seed}")
        if self.device not in ("cpu", "cuda"):
            raise BenchError(f"unknown device {self.device!r}: choose cpu or cuda")
        check_device(self.device)
