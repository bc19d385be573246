"""Frames as Ray actor calls, for clusters (optional extra: ``pip install simgen[ray]``).

Each actor is a long-lived FrameRenderer (one Blender, assets loaded once) that writes frame
files straight into OUT, which must be storage every node can reach (NFS, a shared volume).
The driver keeps the journal and the progress bar, exactly as with local workers.
"""

from __future__ import annotations

from typing import Any, Iterator

from simgen.errors import SimgenError
from simgen.run.frame_job import FrameRenderer, FrameResult, RendererSpec
from simgen.run.interrupt import StopRequest
from simgen.run.workers import MAX_DEATHS_PER_FRAME, FrameFailed

IN_FLIGHT_PER_ACTOR = 2  # keeps each actor busy while the driver journals the previous frame


class _Renderer:
    """The actor body: ``ray.remote`` is applied at run time so Ray stays an optional import."""

    def __init__(self, spec: RendererSpec):
        self.renderer = FrameRenderer(spec)

    def describe(self) -> tuple[str, str]:
        return self.renderer.device, self.renderer.blender_version

    def render(self, index: int) -> FrameResult:
        return self.renderer.render(index)


class RayFrames:
    discards_on_stop = True

    def __init__(self, spec: RendererSpec, frames: list[int], address: str, actors: int):
        try:
            import ray
        except ImportError:
            raise SimgenError("--ray needs Ray: pip install 'simgen[ray]' (or pip install ray)") from None
        self._ray = ray
        ray.init(address=None if address == "local" else address, ignore_reinit_error=True,
                 log_to_driver=False, include_dashboard=False)
        self._actor_class = ray.remote(num_cpus=1)(_Renderer)
        self._spec = spec
        self._frames = list(frames)
        self._actors = [self._actor_class.remote(spec) for _ in range(max(actors, 1))]
        try:
            self.device, self.blender_version = ray.get(self._actors[0].describe.remote())
        except ray.exceptions.RayTaskError as exc:
            self.close()
            cause = exc.cause if isinstance(exc.cause, SimgenError) else None
            raise SimgenError(str(cause) if cause else f"Ray worker failed to start: {exc}") from None

    def results(self, stop: StopRequest) -> Iterator[FrameResult | FrameFailed]:
        ray = self._ray
        pending: dict[Any, tuple[int, int]] = {}  # object ref -> (frame, actor slot)
        queue, deaths = list(reversed(self._frames)), {}

        def submit(slot: int) -> None:
            if queue:
                index = queue.pop()
                pending[self._actors[slot].render.remote(index)] = (index, slot)

        for slot in range(len(self._actors)):
            for _ in range(IN_FLIGHT_PER_ACTOR):
                submit(slot)
        while pending and not stop.requested:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            if not done:
                continue
            ready = done[0]
            index, slot = pending.pop(ready)
            try:
                yield ray.get(ready)
            except ray.exceptions.RayActorError:  # the worker process died: new actor, retry the frame once
                deaths[index] = deaths.get(index, 0) + 1
                self._actors[slot] = self._actor_class.remote(self._spec)
                if deaths[index] >= MAX_DEATHS_PER_FRAME:
                    yield FrameFailed(index, "Ray worker died twice on this frame")
                else:
                    queue.append(index)
            except ray.exceptions.RayTaskError as exc:
                if isinstance(exc.cause, SimgenError):
                    raise SimgenError(str(exc.cause)) from None
                yield FrameFailed(index, str(exc))
            submit(slot)

    def close(self, kill: bool = False) -> None:
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []
