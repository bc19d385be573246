"""Local worker processes, each with its own Blender, fed frame indices by the driver.

The driver keeps the journal and the progress bar; workers only render and write frame files.
A worker that dies (killed, out of memory, Blender crash) has its frame handed to a fresh
worker; a worker that has rendered ``recycle_after`` frames exits and is replaced, so memory
stays flat over runs of any length.

Each worker talks to the driver over a pipe of its own. A queue shared by all workers guards
its pipe with a lock that a worker killed at the wrong moment takes to its grave, and every
other worker then waits forever; a private pipe just reports end-of-file, and the driver
hands that worker's frame to a fresh one.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import traceback
from collections import deque
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from typing import Any, Iterator

from simgen.errors import SimgenError
from simgen.run.frame_job import FrameRenderer, FrameResult, RendererSpec
from simgen.run.interrupt import StopRequest

POLL_SECONDS = 0.5
MAX_DEATHS_PER_FRAME = 2


@dataclass
class FrameFailed:
    """A frame whose rendering raised; the run may go on (see --max-failures)."""

    index: int
    message: str


@dataclass
class WorkerPlan:
    spec: RendererSpec
    gpu_indices: list[int] | None  # this worker's cards; None = no pinning


def _worker_main(plan: WorkerPlan, conn: Connection, recycle_after: int, parent: int) -> None:
    """One worker: build a Blender scene, then render each frame index the driver sends until None."""
    try:
        renderer = FrameRenderer(replace(plan.spec, gpu_indices=plan.gpu_indices))
    except SimgenError as exc:
        conn.send(("fatal", exc))
        return
    conn.send(("ready", (renderer.device, renderer.blender_version)))
    rendered = 0
    while recycle_after <= 0 or rendered < recycle_after:
        if not conn.poll(POLL_SECONDS):
            if os.getppid() != parent:  # the driver is gone (SIGKILL): nobody would journal what we render
                return
            continue
        try:
            index = conn.recv()
        except (EOFError, OSError):
            return
        if index is None:
            break
        try:
            conn.send(("done", renderer.render(index)))
        except SimgenError as exc:  # disk full, unwritable output: nothing later can succeed either
            conn.send(("fatal", exc))
            return
        except Exception:  # noqa: BLE001 - one broken frame must not take the run down
            conn.send(("failed", FrameFailed(index, traceback.format_exc(limit=6))))
        rendered += 1
    renderer.close()
    conn.send(("exit", None))


@dataclass
class _Worker:
    process: Any  # multiprocessing.Process
    conn: Connection
    slot: int
    frame: int | None = None  # the frame it is rendering
    ready: bool = False


class WorkerPool:
    """Renders frames in ``len(plans)`` processes; iterate over ``results`` to receive them as they finish."""

    discards_on_stop = True

    def __init__(self, plans: list[WorkerPlan], frames: list[int], recycle_after: int = 0):
        self._ctx = mp.get_context("spawn")  # a fresh interpreter each: bpy must not be forked
        self._plans = plans
        self._recycle_after = recycle_after
        self._pending: deque[int] = deque(frames)
        self._remaining = set(frames)
        self._deaths: dict[int, int] = {}
        self._workers: list[_Worker] = []
        self.device = "pending"
        self.blender_version = "unknown"
        for slot in range(len(plans)):
            self._start(slot)

    def _start(self, slot: int) -> None:
        ours, theirs = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=_worker_main, daemon=True,
                                    args=(self._plans[slot], theirs, self._recycle_after, os.getpid()))
        # Started with SIGINT ignored, which the new interpreter keeps: a Ctrl-C that reaches the whole process
        # group while a worker still imports must not print a KeyboardInterrupt traceback there; the driver
        # alone decides what a Ctrl-C means.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            process.start()
        finally:
            signal.signal(signal.SIGINT, previous)
        theirs.close()
        self._workers.append(_Worker(process, ours, slot))

    def _assign(self, worker: _Worker) -> None:
        """Give an idle worker the next frame; with none left it waits (a dead worker's frame may come back)."""
        if worker.frame is None and self._pending:
            worker.frame = self._pending.popleft()
            try:
                worker.conn.send(worker.frame)
            except OSError:
                pass  # it died: its end-of-file comes next and hands the frame on

    def _retire(self, worker: _Worker) -> None:
        self._workers.remove(worker)
        worker.conn.close()
        worker.process.join(timeout=5)
        if self._remaining:
            self._start(worker.slot)

    def _handle(self, worker: _Worker) -> Iterator[FrameResult | FrameFailed]:
        """One message from a worker (or its end): results are yielded, deaths hand the frame on."""
        try:
            kind, payload = worker.conn.recv()
        except Exception:  # noqa: BLE001 - end of file, or a message cut short: the worker died
            yield from self._died(worker)
            return
        if kind == "ready":
            worker.ready = True
            self.device, self.blender_version = payload
            self._assign(worker)
        elif kind in ("done", "failed"):
            worker.frame = None
            self._remaining.discard(payload.index)
            self._assign(worker)  # before the driver journals this one, so the worker never waits on it
            yield payload
        elif kind == "exit":  # recycled: a frame sent after its last one was never read, so it goes back
            if worker.frame is not None:
                self._pending.appendleft(worker.frame)
            self._retire(worker)
        elif kind == "fatal":
            raise payload if isinstance(payload, SimgenError) else SimgenError(str(payload))

    def _died(self, worker: _Worker) -> Iterator[FrameFailed]:
        """A worker gone without saying so (SIGKILL, OOM, segfault): its frame is tried once more elsewhere."""
        worker.process.join(timeout=5)
        index, worker.frame = worker.frame, None
        if index is not None:
            self._deaths[index] = self._deaths.get(index, 0) + 1
            if self._deaths[index] >= MAX_DEATHS_PER_FRAME:
                self._remaining.discard(index)
                yield FrameFailed(index, f"worker process died twice on this frame "
                                         f"(exit code {worker.process.exitcode})")
            else:
                self._pending.appendleft(index)
        self._retire(worker)

    def results(self, stop: StopRequest) -> Iterator[FrameResult | FrameFailed]:
        while self._remaining and not stop.requested:
            for conn in wait([w.conn for w in self._workers], timeout=POLL_SECONDS):
                if stop.requested:  # workers killed by the same signal are not failures to retry
                    return
                worker = next((w for w in self._workers if w.conn is conn), None)
                if worker is not None:
                    yield from self._handle(worker)

    def wait_ready(self, stop: StopRequest) -> str:
        """Block until one worker has Blender up (or report why none could start, or a stop is asked)."""
        deaths = 0
        while self.device == "pending" and not stop.requested:
            for conn in wait([w.conn for w in self._workers], timeout=POLL_SECONDS):
                worker = next(w for w in self._workers if w.conn is conn)
                try:
                    kind, payload = worker.conn.recv()
                except Exception:  # noqa: BLE001 - it died while starting
                    deaths += 1
                    worker.conn.close()
                    self._workers.remove(worker)
                    worker.process.join(timeout=1)
                    if deaths >= 2 * len(self._plans) or not self._workers:
                        if stop.requested:  # a signal to the whole process group may reach the workers first
                            return self.device
                        raise SimgenError("every worker process exited before starting; see simgen.log") from None
                    self._start(worker.slot)
                    continue
                if kind == "fatal":
                    raise payload if isinstance(payload, SimgenError) else SimgenError(str(payload))
                if kind == "ready":
                    worker.ready = True
                    self.device, self.blender_version = payload
                    self._assign(worker)
        return self.device

    def close(self, kill: bool = False) -> None:
        for worker in self._workers:
            if kill:
                worker.process.kill()
            else:
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
        for worker in self._workers:
            worker.process.join(timeout=2 if kill else 10)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=2)
            worker.conn.close()
        self._workers.clear()


def threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(workers, 1))
