"""Local worker processes, each with its own Blender, fed frame indices by the driver.

The driver keeps the journal and the progress bar; workers only render and write frame files.
A worker that dies (killed, out of memory, Blender crash) has its frame handed to a fresh
worker; a worker that has rendered ``recycle_after`` frames exits and is replaced, so memory
stays flat over runs of any length.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import time
import traceback
from dataclasses import dataclass, replace
from typing import Iterator

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


def _worker_main(plan: WorkerPlan, tasks: mp.Queue, results: mp.Queue, worker_id: int, recycle_after: int,
                 parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the driver decides
    try:
        renderer = FrameRenderer(replace(plan.spec, gpu_indices=plan.gpu_indices))
    except SimgenError as exc:
        results.put(("fatal", worker_id, exc))
        return
    results.put(("ready", worker_id, (renderer.device, renderer.blender_version)))
    rendered = 0
    while recycle_after <= 0 or rendered < recycle_after:
        try:
            index = tasks.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if os.getppid() != parent:  # the driver is gone (SIGKILL): nobody will journal what we render
                return
            continue
        if index is None:
            break
        results.put(("start", worker_id, index))
        try:
            results.put(("done", worker_id, renderer.render(index)))
        except SimgenError as exc:  # disk full, unwritable output: nothing later can succeed either
            results.put(("fatal", worker_id, exc))
            return
        except Exception:  # noqa: BLE001 - one broken frame must not take the run down
            results.put(("failed", worker_id, FrameFailed(index, traceback.format_exc(limit=6))))
        rendered += 1
    renderer.close()
    results.put(("exit", worker_id, None))


class WorkerPool:
    """Renders frames in ``len(plans)`` processes; iterate over it to receive results as they finish."""

    discards_on_stop = True

    def __init__(self, plans: list[WorkerPlan], frames: list[int], recycle_after: int = 0):
        self._ctx = mp.get_context("spawn")  # a fresh interpreter each: bpy must not be forked
        self._plans = plans
        self._recycle_after = recycle_after
        self._tasks: mp.Queue = self._ctx.Queue()
        self._results: mp.Queue = self._ctx.Queue()
        for index in frames:
            self._tasks.put(index)
        self._remaining = set(frames)
        self._processes: dict[int, mp.Process] = {}
        self._in_flight: dict[int, int] = {}
        self._deaths: dict[int, int] = {}
        self._next_id = 0
        self.device = "pending"
        self.blender_version = "unknown"
        for slot in range(len(plans)):
            self._start(slot)

    def _start(self, slot: int) -> None:
        worker_id = self._next_id
        self._next_id += 1
        process = self._ctx.Process(target=_worker_main, daemon=True,
                                    args=(self._plans[slot], self._tasks, self._results, worker_id,
                                          self._recycle_after, os.getpid()))
        # Started with SIGINT ignored, which the new interpreter keeps: a Ctrl-C that reaches the whole process
        # group while a worker still imports must not print a KeyboardInterrupt traceback there; the driver
        # alone decides what a Ctrl-C means.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            process.start()
        finally:
            signal.signal(signal.SIGINT, previous)
        process.slot = slot  # type: ignore[attr-defined]
        self._processes[worker_id] = process

    def _replace(self, worker_id: int) -> None:
        process = self._processes.pop(worker_id)
        process.join(timeout=5)
        if self._remaining:
            self._start(process.slot)  # type: ignore[attr-defined]

    def results(self, stop: StopRequest) -> Iterator[FrameResult | FrameFailed]:
        while self._remaining and not stop.requested:
            try:
                kind, worker_id, payload = self._results.get(timeout=POLL_SECONDS)
            except queue.Empty:
                kind, worker_id, payload = "idle", -1, None
            if kind == "ready":
                self.device, self.blender_version = payload
            elif kind == "start":
                self._in_flight[worker_id] = payload
            elif kind in ("done", "failed"):
                self._in_flight.pop(worker_id, None)
                self._remaining.discard(payload.index)
                yield payload
            elif kind == "exit":
                self._replace(worker_id)
            elif kind == "fatal":
                raise payload
            if stop.requested:  # workers killed by the same signal are not failures to retry
                return
            for failure in self._reap_dead():
                self._remaining.discard(failure.index)
                yield failure

    def wait_ready(self, stop: StopRequest) -> str:
        """Block until one worker has Blender up (or report why none could start, or a stop is asked)."""
        while self.device == "pending" and not stop.requested:
            try:
                kind, worker_id, payload = self._results.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if not any(p.is_alive() for p in self._processes.values()):
                    time.sleep(0.2)  # a signal to the whole process group may reach the workers first
                    if stop.requested:
                        break
                    raise SimgenError("every worker process exited before starting; see simgen.log") from None
                continue
            if kind == "fatal":
                raise payload
            if kind == "ready":
                self.device, self.blender_version = payload
        return self.device

    def _reap_dead(self) -> list[FrameFailed]:
        """A worker gone without saying so (SIGKILL, OOM, segfault): retry its frame once elsewhere."""
        failures = []
        for worker_id, process in list(self._processes.items()):
            if process.is_alive() or process.exitcode == 0:
                continue
            index = self._in_flight.pop(worker_id, None)
            if index is not None:
                self._deaths[index] = self._deaths.get(index, 0) + 1
                if self._deaths[index] >= MAX_DEATHS_PER_FRAME:
                    failures.append(FrameFailed(index, f"worker process died twice on this frame "
                                                       f"(exit code {process.exitcode})"))
                else:
                    self._tasks.put(index)
            self._replace(worker_id)
        return failures

    def close(self, kill: bool = False) -> None:
        if kill:
            for process in self._processes.values():
                process.kill()
        else:
            for _ in self._processes:
                self._tasks.put(None)
        for process in self._processes.values():
            process.join(timeout=2 if kill else 10)
            if process.is_alive():
                process.kill()
        self._processes.clear()


def threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(workers, 1))
