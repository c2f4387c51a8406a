"""python -m parity compare with the data-parallel styles: short names, --world-size, refusals before any work."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]


def compare(*args, timeout=600):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "parity", "compare", *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=timeout)
    return out, time.perf_counter() - t0


def test_compare_runs_the_data_parallel_styles_by_their_short_names():
    # the README's command (README.md, "Data parallel"): the seed's two-layer net on 2 ranks
    out, _ = compare("--preset", "two-layer", "--styles", "nn,allreduce,ddp", "--steps", "20")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "nn~allreduce" in text and "nn~ddp" in text and "allreduce~ddp" in text
    assert "\nallreduce dW " in text                         # the phase between backward and update
    assert "data parallel: 2 ranks (gloo on 127.0.0.1, one thread each)" in text
    assert "times 1/K = N_local/N" in text                   # the rescaling of δ, explained where printed
    assert "AGREE" in text and "Traceback" not in out.stderr


def test_world_size_4_on_shuffled_batches_with_a_partial_last_one():
    out, _ = compare("--preset", "two-layer", "--styles", "autograd,allreduce", "--world-size", "4",
                     "--batch-size", "24", "--steps", "4")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "data parallel: 4 ranks" in out.stdout and "AGREE" in out.stdout


@pytest.mark.parametrize("args,says", [
    (["--preset", "two-layer", "--styles", "nn,ddp", "--world-size", "3"],
     "two-layer: --world-size 3 does not split the whole batch of 64 rows into equal shares: give a world size "
     "that divides it (e.g. --world-size 8), or another --batch-size"),
    (["--preset", "two-layer", "--styles", "nn,ddp", "--batch-size", "24", "--world-size", "16"],
     "two-layer: --world-size 16 does not split the batches of 24, 16 rows"),
    (["--styles", "nn,autograd", "--world-size", "2"], "--world-size 2 is for the data-parallel styles"),
    (["--styles", "nn,ddp", "--world-size", "0"], "--world-size must be a whole number >= 1"),
    (["--styles", "nn,dpp"], "unknown style 'dpp'"),
], ids=["not-a-divisor", "partial-batch", "no-parallel-style", "zero", "typo"])
def test_a_bad_world_size_is_refused_in_one_line_before_any_work(args, says):
    out, seconds = compare(*args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], out.stderr
    assert "starting" not in out.stdout                      # no rank was started


def test_a_default_world_size_of_1_says_why_where_the_batches_do_not_split_in_two(tmp_path):
    # batches of 25 and 14 rows: 2 ranks cannot share them, so one rank runs: no all-reduce is tested, and it says so,
    # in the text and in the JSON
    out, _ = compare("--preset", "two-layer", "--styles", "autograd,allreduce", "--batch-size", "25", "--steps", "1",
                     "--json", str(tmp_path / "run.json"))
    assert out.returncode == 0, out.stdout + out.stderr
    said = ("world size 1: its batches of 25, 14 rows, which 2 ranks cannot share equally, so one rank holds each "
            "whole batch and no all-reduce is tested")
    assert said in out.stdout
    doc = json.loads((tmp_path / "run.json").read_text())
    jsonschema.Draft202012Validator(json.loads((ROOT / "parity" / "compare.schema.json").read_text())).validate(doc)
    (run,) = doc["runs"]
    p = run["parallel"]
    assert p["world_size"] == 1 and any(said in line for line in p["said"]) and p["notes"] == {"torch_allreduce": []}
    # one rank holds every row: nothing is split, rescaled or averaged, and nothing said of it
    assert not any(line.strip().startswith(("δ:", "allreduce:", "each step's batch")) for line in p["said"])
    assert "starting 1 rank (gloo on 127.0.0.1, one thread) ..." in out.stdout
    assert p["where"] == {} and set(p["build_seconds"]) == {"torch_allreduce"}


def test_a_world_size_whose_ranks_do_not_fit_in_memory_is_refused_before_any_rank_starts(monkeypatch):
    # 64 ranks took 14.5 GB: on a machine with 4 GB free they cannot all start, and it is said before any does
    from parity import parallel
    from parity.options import UsageError
    from parity.parallel.command import Ranks
    from parity.spec import two_layer
    monkeypatch.setattr(parallel, "available_memory", lambda: 4 * 2**30)
    with pytest.raises(UsageError) as caught:
        Ranks(("torch_nn", "torch_ddp"), [two_layer()], 64)
    assert str(caught.value) == ("--world-size 64 starts 64 processes of about 0.22 GB each (14.4 GB), more than "
                                 "the 4 GB this machine has free: give --world-size 16, the most that fit and split "
                                 "every batch")      # (17 fit, but do not split the 64 rows)
    Ranks(("torch_nn", "torch_ddp"), [two_layer()], 16)          # 3.6 GB: taken
    monkeypatch.setattr(parallel, "available_memory", lambda: 100 * 2**20)
    with pytest.raises(UsageError, match="not one rank fits; free some memory first"):
        Ranks(("torch_nn", "torch_ddp"), [two_layer()], 2)
    monkeypatch.setattr(parallel, "available_memory", lambda: None)
    Ranks(("torch_nn", "torch_ddp"), [two_layer()], 64)          # a machine that does not say: taken


def test_more_ranks_than_cores_are_said_to_take_turns():
    from parity.parallel.command import starting
    assert starting(2, cores=2) == "starting 2 ranks (gloo on 127.0.0.1, one thread each) ..."
    assert starting(8, cores=2) == ("starting 8 ranks (gloo on 127.0.0.1, one thread each; 8 ranks on 2 cores take "
                                    "turns, so expect it slow) ...")
