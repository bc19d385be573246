"""Shared by the benchmarks that time the real pipeline frame by frame (rig.py, clips.py)."""

from __future__ import annotations

import time
from pathlib import Path

from simgen.run.batch import RenderOptions, prepare
from simgen.run.frame_job import FrameRenderer, RendererSpec


def run_frames(path: Path, out: Path, frames: int) -> tuple[list[float], dict[str, float]]:
    """Wall seconds per frame of frames 0..frames-1 of the scenario at ``path``, rendered into ``out`` as
    ``simgen render`` would (after one warm-up frame: imports, the first Cycles session), and the
    seconds per stage summed over them."""
    scenario, preset, assets = prepare(path, RenderOptions())
    renderer = FrameRenderer(RendererSpec(scenario, preset, assets, out, "cpu"))
    walls, stages = [], {}
    try:
        renderer.render(frames)
        for index in range(frames):
            start = time.perf_counter()
            result = renderer.render(index)
            walls.append(time.perf_counter() - start)
            for stage, seconds in result.stage_seconds.items():
                stages[stage] = stages.get(stage, 0.0) + seconds
    finally:
        renderer.close()
    return walls, stages
