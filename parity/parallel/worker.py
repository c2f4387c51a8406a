"""One rank: a process that joins the group, runs the jobs it is sent, and sends every phase's tensors back.

`serve` is the target of each of the K processes `parity.parallel.group.Group`
spawns. It joins the gloo process group (a file store in the group's temporary
folder; gloo's sockets on 127.0.0.1 only), says it is ready, then runs what its
inbox sends: a session is a list of jobs (a data-parallel style on a problem,
maybe a variant file) run side by side for some steps: step t of every job, then
step t + 1, so that two styles compared in lockstep are read block by block
without one waiting on the other. Each step of each job goes back on the outbox
as this rank's records (phase -> {name: NumPy array in the style's dtype}), the
rows it took and the seconds of each phase.

Nothing waits forever: a collective that waits past the group's timeout raises
(gloo's own timeout); a rank waiting for the harness to ask for more gives up once
the harness's process is gone; a rank that raises reports the step and phase it was
in and leaves; the process group is destroyed on every way out.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import time
import traceback

# Where the rank says it is: job, step, phase index (status) — read by the harness when a rank falls silent.
JOB, STEP, PHASE = 0, 1, 2
STOPPED = -1          # session.stop: the horizon is frozen and the ranks leave after it


def serve(rank, world_size, store, inbox, outbox, status, horizon, stop, timeout):
    os.environ["OMP_NUM_THREADS"] = "1"           # one thread per rank: K ranks share the cores
    import torch
    import torch.distributed as dist
    from datetime import timedelta
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world_size,
                                timeout=timedelta(seconds=timeout))
    except Exception as exc:                        # noqa: BLE001 — reported, never swallowed
        outbox.put(("error", rank, None, -1, -1, "start", f"{type(exc).__name__}: {exc}"))
        return
    try:
        outbox.put(("ready", rank, time.perf_counter() - t0))
        parent = multiprocessing.parent_process()
        while True:
            try:
                message = inbox.get(timeout=1.0)
            except queue.Empty:
                if parent is not None and not parent.is_alive():
                    return                           # the harness is gone: nothing more will come
                continue
            if message[0] == "quit":
                return
            _, session, jobs, steps = message
            if not _run_session(rank, world_size, session, jobs, steps, outbox, status, horizon, stop, timeout):
                return                               # a failure: the group cannot be trusted further
            outbox.put(("left", rank, session))
    finally:
        gc.collect()                # the DDP styles hold the group from reference cycles: freed first
        dist.destroy_process_group()
        parent = multiprocessing.parent_process()
        if parent is not None and not parent.is_alive():
            # Nobody reads the outbox any more, and the other ranks hold its pipe open: the queue's writer
            # thread would wait forever to flush what is queued, and this process could never exit.
            outbox.cancel_join_thread()


def _run_session(rank, world_size, session, jobs, steps, outbox, status, horizon, stop, timeout):
    """Run the jobs side by side; True when done (or stopped), False after a failure (reported)."""
    from .. import styles
    phases = styles.PARALLEL_PHASES
    job, step, phase = -1, -1, "build"
    base = 3 * rank
    try:
        built = []
        for job, (name, problem, variant) in enumerate(jobs):
            status[base + JOB], status[base + STEP], status[base + PHASE] = job, -1, -1
            t0 = time.perf_counter()
            built.append(styles.rank_style(name, problem, world_size=world_size, rank=rank, variant=variant))
            outbox.put(("built", rank, session, job, time.perf_counter() - t0))
        parent = multiprocessing.parent_process()
        for step in range(steps):
            phase = "waiting"
            while step >= horizon.value:             # the harness has not asked this far yet
                if stop.value == session:
                    return True
                if parent is not None and not parent.is_alive():
                    raise RuntimeError("the harness that started this rank is gone")
                time.sleep(0.001)
            for job, st in enumerate(built):
                records, seconds = {}, {}
                for k, phase in enumerate(phases):
                    status[base + JOB], status[base + STEP], status[base + PHASE] = job, step, k
                    t = time.perf_counter()
                    st.run_phase(phase)
                    seconds[phase] = time.perf_counter() - t
                    records[phase] = {n: _numpy(v) for n, v in st.record(phase).items()}
                outbox.put(("step", rank, session, job, step, records, st.rows, seconds))
        return True
    except Exception as exc:                        # noqa: BLE001 — reported with the place it happened
        where = phase
        last = traceback.extract_tb(exc.__traceback__)[-1]
        outbox.put(("error", rank, session, job, step, where,
                    f"{type(exc).__name__}: {exc} ({os.path.basename(last.filename)}:{last.lineno})"))
        return False


def _numpy(t):
    """A tensor as a NumPy copy in its own dtype (what crosses the process boundary)."""
    if hasattr(t, "detach"):
        return t.detach().cpu().numpy().copy()
    return t
