"""The K rank processes: started once, given jobs, shut down cleanly; a failing or silent rank named.

    with Group(2) as group:                 # spawns 2 processes, each joins the gloo group
        session = group.start([("torch_ddp", problem, None)], steps=5)
        per_rank = session.next(0, 0)       # {rank: (records, rows, seconds)} of job 0, step 0
        session.close()

Starting K processes costs seconds (each imports torch; see README.md), so one
group serves many runs: a session per lockstep run. The harness asks for steps as
it compares them (`next`), and the ranks run no further ahead than it asked (the
shared `horizon`), so a long run holds only a block of steps in memory.

Every wait is bounded by `timeout` seconds. A rank that raises ends the session
with a ParallelError naming the rank, the step and the phase; a rank that falls
silent (a hang) is named with the step and phase it last entered, and the others,
whose collectives gloo ends after the same timeout, are named as waiting on it.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import select
import shutil
import signal
import struct
import tempfile
import threading
import time
from multiprocessing.reduction import ForkingPickler

from ..styles import PARALLEL_PHASES
from . import worker

DEFAULT_TIMEOUT = 30.0      # seconds a rank or the harness waits on another before giving up
START_TIMEOUT = 300.0       # seconds K processes may take to import torch and meet, on a busy machine
LOOKAHEAD = 2               # steps the ranks may run past the last one asked for


class ParallelError(RuntimeError):
    """A rank failed or fell silent: the message names the rank, the step and the phase."""


class Group:
    def __init__(self, world_size, *, timeout=DEFAULT_TIMEOUT):
        if world_size < 1:
            raise ValueError(f"world size {world_size}: give 1 or more")
        self.world_size = world_size
        self.timeout = float(timeout)
        self.sessions = 0
        self.broken = None
        self.cut = False               # a read of the outbox was cut short (see _get): read nothing more
        self.folder = tempfile.mkdtemp(prefix="parity-ranks-")
        try:
            self._spawn(world_size)
        except BaseException:                # Ctrl-C while the ranks start, too: no folder, no rank left
            self.close()
            raise

    def _spawn(self, world_size):
        """Start the ranks and wait until each has joined the process group."""
        ctx = multiprocessing.get_context("spawn")
        self.outbox = ctx.Queue()
        self.inboxes = [ctx.Queue() for _ in range(world_size)]
        self.status = ctx.Array("i", [-1] * (3 * world_size), lock=False)
        self.horizon = ctx.Value("i", 0, lock=False)
        self.stop = ctx.Value("i", 0, lock=False)
        store = os.path.join(self.folder, "store")
        # gloo's sockets on the loopback interface only; each child reads these as it starts
        saved = {k: os.environ.get(k) for k in ("GLOO_SOCKET_IFNAME", "OMP_NUM_THREADS")}
        os.environ.update(GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")
        t0 = time.perf_counter()
        # The ranks ignore Ctrl-C (a terminal sends it to the whole process group): the harness alone takes it,
        # and ends them in close(). A rank that took it would die mid-message, with a traceback of its own.
        # (Ignored is kept across the spawn's exec, and Python installs no handler of its own over it.)
        quiet = threading.current_thread() is threading.main_thread()
        before = signal.signal(signal.SIGINT, signal.SIG_IGN) if quiet else None
        try:
            self.procs = [ctx.Process(target=worker.serve, name=f"rank {r}", daemon=True,
                                      args=(r, world_size, store, self.inboxes[r], self.outbox, self.status,
                                            self.horizon, self.stop, self.timeout))
                          for r in range(world_size)]
            for p in self.procs:
                p.start()
        finally:
            if quiet:
                signal.signal(signal.SIGINT, before)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        ready = set()
        try:
            while len(ready) < world_size:
                message = self._get(START_TIMEOUT, what="to start")
                if message[0] == "error":
                    raise ParallelError(f"rank {message[1]} could not join the process group: {message[-1]}")
                if message[0] == "ready":
                    ready.add(message[1])
        except BaseException:
            self.close()
            raise
        self.startup_seconds = time.perf_counter() - t0     # spawn, import torch, meet: the group's start-up

    # -- messages ----------------------------------------------------------------
    def _get(self, wait, *, what):
        """The next message from any rank; a dead rank or a silence past `wait` seconds is a ParallelError.
        A Ctrl-C that lands while a message is read may cut it in half, and every later read would then wait
        for bytes that never come: the group is marked broken (`cut`), and close() reads nothing more."""
        try:
            return self._next(wait, what=what)
        except KeyboardInterrupt:
            self.cut = True
            self.broken = self.broken or "interrupted (Ctrl-C or SIGTERM)"
            raise

    def _next(self, wait, *, what):
        deadline = time.monotonic() + wait
        while True:
            try:
                return self.receive(min(1.0, max(deadline - time.monotonic(), 0.01)))
            except queue.Empty:
                pass
            dead = [r for r, p in enumerate(self.procs) if p.exitcode is not None]
            if dead or time.monotonic() >= deadline:
                waited = min(wait, wait - (deadline - time.monotonic()))    # the silence that passed, not the limit
                self.broken = self._silence(dead, waited, what)
                raise ParallelError(self.broken)

    def receive(self, timeout):
        """The next message in the outbox, as outbox.get(timeout=...) gives it (queue.Empty where none begins
        within `timeout` s), but never waiting past the group's timeout for a message to end.

        A rank killed while it writes a message (a tensor of 800 kB goes in many writes) leaves its first part
        in the pipe; the other ranks hold the pipe open, so outbox.get would wait for the rest for ever. The
        message is read here as the queue's own reader reads it (multiprocessing.connection's framing: a 4-byte
        length, or -1 and an 8-byte one, then the pickle), each part waited for with a deadline: one that does
        not end in time, or whose rank has died, marks the group `cut` (nothing more can be read from the pipe)
        and is a ParallelError naming the ranks."""
        if self.cut:
            raise ParallelError(self.broken or "a message from the ranks was cut off")
        reader = self.outbox._reader            # the queue's receiving end (the harness is its only reader)
        if not reader.poll(timeout):
            raise queue.Empty
        fd = reader.fileno()
        deadline = time.monotonic() + self.timeout
        size, = struct.unpack("!i", self._exactly(fd, 4, deadline))
        if size == -1:
            size, = struct.unpack("!Q", self._exactly(fd, 8, deadline))
        message = ForkingPickler.loads(self._exactly(fd, size, deadline))
        self.outbox._sem.release()              # as outbox.get does: one place more in the bounded queue
        return message

    def _exactly(self, fd, n, deadline):
        """n bytes from fd, waiting no later than `deadline` (and not past a rank's death) for the rest."""
        parts = []
        while n:
            if not select.select([fd], [], [], max(0.0, min(1.0, deadline - time.monotonic())))[0]:
                dead = [r for r, p in enumerate(self.procs) if p.exitcode is not None]
                if dead or time.monotonic() >= deadline:
                    self.cut = True
                    self.broken = "a message from the ranks was cut off mid-way: " + "; ".join(
                        f"rank {r} exited (code {p.exitcode}) at {self.where(r)}" if r in dead else
                        f"rank {r} last at {self.where(r)}" for r, p in enumerate(self.procs))
                    raise ParallelError(self.broken)
                continue
            part = os.read(fd, n)
            if not part:
                self.cut = True
                self.broken = "the ranks' pipe closed in the middle of a message"
                raise ParallelError(self.broken)
            parts.append(part)
            n -= len(part)
        return b"".join(parts)

    def where(self, rank):
        """'step 3, phase backward of job 0' — where a rank last said it was."""
        job, step, phase = (self.status[3 * rank + i] for i in range(3))
        if job < 0:
            return "starting"
        if step < 0:
            return f"building job {job}"
        return f"step {step}, phase {PARALLEL_PHASES[phase]}"

    def _silence(self, dead, wait, what):
        parts = []
        for r, p in enumerate(self.procs):
            if r in dead:
                parts.append(f"rank {r} exited (code {p.exitcode}) at {self.where(r)}")
            else:
                parts.append(f"rank {r} sent nothing for {wait:.3g} s, last at {self.where(r)}")
        return f"no word from the ranks {what}: " + "; ".join(parts)

    # -- sessions ----------------------------------------------------------------
    def start(self, jobs, steps):
        """Run `jobs` [(style, problem, variant path or None)] side by side for `steps` steps: a Session."""
        if self.broken:
            raise ParallelError(f"the group can run nothing more after: {self.broken}")
        self.sessions += 1
        self.horizon.value = min(LOOKAHEAD, steps)     # the first steps at once, while the harness builds the rest
        self.stop.value = 0
        for box in self.inboxes:
            box.put(("run", self.sessions, list(jobs), steps))
        return Session(self, self.sessions, len(jobs), steps)

    # -- shutting down -----------------------------------------------------------
    def close(self):
        """Ask every rank to leave (each destroys its process group); end any that does not in time."""
        for box in getattr(self, "inboxes", []):
            try:
                box.put(("quit",))
            except (OSError, ValueError):
                pass
        # Drain what the ranks still send (steps run ahead of the last one read): a process
        # exits only once its queue has written everything out. (Not after a read was cut: they are ended.)
        deadline = time.monotonic() + (0 if self.cut else 5 if self.broken is None else 1)
        while any(p.is_alive() for p in getattr(self, "procs", [])) and time.monotonic() < deadline:
            try:
                self.receive(0.05)
            except (queue.Empty, OSError, ValueError, EOFError):
                pass
            except ParallelError:                    # cut off mid-message: nothing more can be read
                break
        for p in getattr(self, "procs", []):
            if p.is_alive():                         # silent or stuck in a collective: ended
                p.terminate()
                p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join()
        for q in [getattr(self, "outbox", None), *getattr(self, "inboxes", [])]:
            if q is not None:
                q.cancel_join_thread()
                q.close()
        # The queues' locks are named semaphores, unlinked when the queues are collected or at a normal exit;
        # an interrupted run leaves by os._exit (parity.__main__), and the resource tracker then warned of 9
        # "leaked semaphore objects". Dropped here, they are unlinked now.
        self.outbox, self.inboxes = None, []
        gc.collect()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Session:
    """One lockstep run's jobs on the group: their steps, rank by rank, as the harness asks for them."""

    def __init__(self, group, number, jobs, steps):
        self.group, self.number, self.jobs, self.steps = group, number, jobs, steps
        self.buffer = {}                 # (job, step) -> {rank: (records, rows, seconds)}
        self.build_seconds = {}          # job -> the slowest rank's seconds to build it
        self.left = set()                # ranks that have finished the session
        self.closed = False

    def next(self, job, step):
        """{rank: (records, rows, seconds)} of one job's step, waiting for the ranks (bounded)."""
        g = self.group
        g.horizon.value = max(g.horizon.value, min(step + 1 + LOOKAHEAD, self.steps))
        key = (job, step)
        while len(self.buffer.get(key, ())) < g.world_size:
            message = g._get(g.timeout * 2, what=f"at step {step}")
            kind, rank = message[0], message[1]
            if message[2] != self.number:
                continue                                      # left over from an earlier session
            if kind == "error":
                raise ParallelError(self._failure(message))
            if kind == "left":
                self.left.add(rank)
            elif kind == "built":
                self.build_seconds[message[3]] = max(self.build_seconds.get(message[3], 0.0), message[4])
            elif kind == "step":
                _, rank, _, j, t, records, rows, seconds = message
                self.buffer.setdefault((j, t), {})[rank] = (records, rows, seconds)
        return self.buffer.pop(key)

    def _failure(self, message):
        """The first failure reported, with every other rank's own word or place."""
        _, rank, _, job, step, phase, text = message
        first = f"rank {rank} failed at step {step}, phase {phase}: {text}" if step >= 0 else \
            f"rank {rank} failed building job {job}: {text}"
        others = []
        deadline = time.monotonic() + self.group.timeout + 1     # the others' collectives end by then
        pending = set(range(self.group.world_size)) - {rank}
        while pending and time.monotonic() < deadline:
            try:
                m = self.group.receive(0.5)
            except queue.Empty:
                if all(self.group.procs[r].exitcode is not None for r in pending):
                    break                        # those not heard from are dead and said nothing more
                continue
            except ParallelError:                    # a rank died mid-message: what the others said is lost
                break
            if m[0] == "error" and m[1] in pending:
                pending.discard(m[1])
                others.append(f"rank {m[1]} then failed at step {m[4]}, phase {m[5]}: {m[6]}")
        hung = [r for r in sorted(pending)]
        text = first
        if hung:                 # the rank that said nothing is the one the others waited on (killed, or stuck)
            procs = self.group.procs
            text = ("; ".join(f"rank {r} exited (code {procs[r].exitcode}) at {self.group.where(r)}"
                              if procs[r].exitcode is not None else
                              f"rank {r} hangs at {self.group.where(r)} (no word for {self.group.timeout:g} s)"
                              for r in hung) + "; " + first)
        if others:
            text += "; " + "; ".join(others)
        self.group.broken = text
        return text

    def close(self):
        """Stop the ranks after the steps already asked for (every rank stops at the same step), and
        wait until each has left the session, so the next one starts from a clean slate."""
        if self.closed or self.group.broken is not None:
            self.closed = True
            return
        self.closed = True
        g = self.group
        g.stop.value = self.number
        left = self.left
        while len(left) < g.world_size:
            message = g._get(g.timeout * 2, what="leaving a run")
            if message[0] == "error" and message[2] == self.number:
                raise ParallelError(self._failure(message))
            if message[0] == "left" and message[2] == self.number:
                left.add(message[1])
        self.buffer.clear()
