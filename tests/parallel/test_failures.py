"""A rank that raises or hangs ends the run with a message naming the rank, the step and the phase; never a hang.

Each case breaks its group, so each starts its own (with a short timeout, 5 s).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from parity import lockstep
from parity.parallel import Group, ParallelError
from parity.spec import two_layer

VARIANTS = Path(__file__).parent / "variants"
TIMEOUT = 5


def start_compare(steps, stderr=subprocess.PIPE, preexec_fn=None, **env):
    """`compare` of nn and allreduce on 2 ranks, in a process group of its own (the harness leads it)."""
    return subprocess.Popen([sys.executable, "-m", "parity", "compare", "--preset", "two-layer", "--styles",
                             "nn,allreduce", "--steps", str(steps)], cwd=Path(__file__).resolve().parents[2],
                            stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1", **env), preexec_fn=preexec_fn)


def run_variant(name):
    t0 = time.perf_counter()
    with Group(2, timeout=TIMEOUT) as group:
        with pytest.raises(ParallelError) as caught:
            lockstep.run(two_layer(steps=2), ("torch_nn", "torch_allreduce"), group=group,
                         variants={"torch_allreduce": str(VARIANTS / f"{name}.py")})
        procs = group.procs
    assert all(not p.is_alive() for p in procs)          # every rank ended when the group closed
    return str(caught.value), time.perf_counter() - t0


def test_a_rank_that_raises_is_named_with_its_step_and_phase():
    message, _ = run_variant("rank1_raises")
    assert message.startswith("rank 1 failed at step 0, phase backward: RuntimeError: rank 1 fails on purpose")
    # rank 0 waited in its all_reduce for rank 1 until gloo's timeout, and said so
    assert "rank 0 then failed at step 0, phase allreduce" in message


def test_a_rank_that_hangs_is_named_and_the_run_ends_within_the_timeouts():
    message, seconds = run_variant("rank1_hangs")
    assert message.startswith(f"rank 1 hangs at step 0, phase backward (no word for {TIMEOUT} s)")
    assert "rank 0 failed at step 0, phase allreduce" in message
    assert seconds < 120                                  # start-up, gloo's timeout, the wait for the others


def test_ctrl_c_mid_run_ends_the_ranks_quietly_and_says_interrupted():
    # Ctrl-C in a terminal reaches the whole process group, the ranks too: they ignore it (a rank that took it
    # died mid-message, with a traceback of its own), and the harness ends them. Exit 130, one line.
    proc = start_compare(400)
    try:
        line = proc.stdout.readline()             # "starting 2 ranks ...": the ranks are being spawned
        assert "starting 2 ranks" in line, line
        time.sleep(4)                             # into the run (or the ranks' start-up, on a slow machine)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "interrupted: nothing was written", err


@pytest.mark.parametrize("to", ["harness", "group"])
def test_sigterm_mid_run_cleans_up_as_ctrl_c_does_and_exits_143(tmp_path, to):
    # `kill PID` (SIGTERM, to the harness alone): by default Python ends at once, and the ranks' folder was left
    # in the temporary directory. Taken as Ctrl-C is: the ranks end, the folder goes, one line, 128 + 15.
    # Started as a background job is (`mlp-parity compare ... &`: Ctrl-C ignored), where SIGTERM is how it stops;
    # sent to the harness alone (`kill PID`) or to its whole process group, ranks too (`kill %1`).
    proc = start_compare(3000, TMPDIR=str(tmp_path), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert "starting 2 ranks" in proc.stdout.readline()
        time.sleep(4)
        assert list(tmp_path.glob("parity-ranks-*"))       # the group's folder, while it runs
        if to == "harness":
            proc.send_signal(signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)                      # a rank left in the group?
            except ProcessLookupError:
                break
            time.sleep(0.5)
        else:
            pytest.fail("ranks still alive 30 s after the harness took SIGTERM")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    assert proc.returncode == 143, err[-2000:]
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "interrupted: nothing was written", err
    assert not list(tmp_path.glob("parity-ranks-*"))


def test_a_read_cut_by_ctrl_c_marks_the_group_and_close_reads_nothing_more(monkeypatch):
    # a Ctrl-C that lands while a message is read may cut it in half: every later read would wait for
    # bytes that never come (the run hung in close). The group is marked, and close() ends the ranks unread.
    with Group(2, timeout=TIMEOUT) as group:
        def cut(*args, **kwargs):
            raise KeyboardInterrupt
        monkeypatch.setattr(group, "receive", cut)
        with pytest.raises(KeyboardInterrupt):
            group._get(1.0, what="at step 0")
        assert group.cut and group.broken
        reads = []
        monkeypatch.setattr(group, "receive", lambda *a, **k: reads.append(1) or ("never",))
        t0 = time.perf_counter()
        group.close()
        assert reads == [] and time.perf_counter() - t0 < 10
        assert all(not p.is_alive() for p in group.procs)


def test_a_rank_killed_in_the_middle_of_a_message_ends_the_run_not_hangs_it():
    # kill -9 of a rank while it wrote a large message left its first part in the pipe, which the other ranks
    # hold open: the harness waited for the rest for ever (found hung after 8 minutes). The first part of a
    # message whose rank is dead is now a ParallelError within a second or two, and close() reads no more.
    import struct
    with Group(2, timeout=TIMEOUT) as group:
        os.write(group.outbox._writer.fileno(), struct.pack("!i", 100_000) + b"x" * 10)    # 10 bytes of 100 000
        group.procs[0].kill()
        group.procs[0].join()
        t0 = time.perf_counter()
        with pytest.raises(ParallelError, match="cut off mid-way.*rank 0 exited"):
            group._get(60.0, what="at step 0")
        assert time.perf_counter() - t0 < 5 and group.cut
        t0 = time.perf_counter()
    assert time.perf_counter() - t0 < 10 and all(not p.is_alive() for p in group.procs)


def test_the_ranks_leave_when_the_harness_is_killed(tmp_path):
    # SIGKILL leaves no `finally`: the ranks see their parent gone and leave. Their outbox's writer thread
    # used to wait forever for a reader (each rank holds the pipe open for the others): they never exited.
    # (Nothing removes the group's folder after a SIGKILL: it is made in this test's own temporary folder.)
    proc = start_compare(3000, stderr=subprocess.DEVNULL, TMPDIR=str(tmp_path))
    group = proc.pid                                  # the harness leads its own process group; the ranks are in it
    try:
        assert "starting 2 ranks" in proc.stdout.readline()
        time.sleep(5)                                 # the ranks running the session
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)                   # anyone left in the group?
            except ProcessLookupError:
                break
            time.sleep(0.5)
        else:
            pytest.fail("ranks still alive 30 s after the harness was killed")
    finally:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_dead_rank_is_named_beside_the_silence_that_passed_not_the_limit(monkeypatch):
    # "rank 0 sent nothing for 60 s" was said a second after rank 1 died: the limit, not the time that passed
    with Group(2, timeout=TIMEOUT) as group:
        group.procs[1].kill()
        group.procs[1].join()
        with pytest.raises(ParallelError) as caught:
            group._get(60.0, what="at step 0")
    text = str(caught.value)
    assert "rank 1 exited (code -9)" in text and "for 60 s" not in text, text
    said = float(text.split("rank 0 sent nothing for ")[1].split(" s")[0])
    assert said < 5, text


def test_a_ctrl_c_while_the_ranks_start_leaves_no_folder_and_no_rank(monkeypatch, tmp_path):
    # a Ctrl-C between the group's folder being made and the ranks having started left the folder (and a rank,
    # and the semaphores resource_tracker then warned of) behind: here it lands as the second rank starts.
    # The group's folder is made in a temporary directory of this test's own: another run's ranks (another
    # worker of the suite, another user) make and remove theirs in the machine's at any time.
    import glob
    import multiprocessing.context
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "parity-ranks-*")))
    assert tempfile.gettempdir() == str(tmp_path) and not before
    started = []
    real = multiprocessing.context.SpawnProcess.start

    def start(self):
        if started:
            raise KeyboardInterrupt
        started.append(self)
        real(self)
    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", start)
    with pytest.raises(KeyboardInterrupt):
        Group(2, timeout=TIMEOUT)
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "parity-ranks-*"))) == before
    started[0].join(timeout=10)
    assert not started[0].is_alive()


LEAVES_BY_OS_EXIT = """
import os, sys
from parity.parallel import Group
if __name__ == "__main__":
    group = Group(2, timeout=60)         # held, as the command's Ranks holds its groups to the end
    group.close()
    sys.stderr.flush()
    os._exit(0)
"""


def test_a_closed_group_leaves_no_semaphore_for_the_resource_tracker_even_after_os_exit(tmp_path):
    # An interrupted run leaves by os._exit (parity.__main__), past the exit-time cleanup that unlinks the
    # queues' semaphores: the resource tracker then warned of 9 "leaked semaphore objects" on stderr, after the
    # run's last line. Closing the group releases them. (A file: the ranks are spawned, and import it.)
    script = tmp_path / "leave.py"
    script.write_text(LEAVES_BY_OS_EXIT)
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[2])))
    assert out.returncode == 0 and "leaked" not in out.stderr and out.stderr == "", out.stderr
