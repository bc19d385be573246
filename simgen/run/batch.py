"""The batch loop: sample -> apply -> render -> read back -> annotate -> write, frame after frame.

Everything that can be wrong with the input (scenario, assets, device, output folder) is
checked before the first frame, so a bad run stops at once and writes nothing half-way.
"""

from __future__ import annotations

import shutil
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

import simgen
from simgen.annotate.frame import annotate_frame, plan_frame
from simgen.assets.resolve import AssetRef, resolve_class_assets
from simgen.config import load_preset, load_scenario
from simgen.config.preset import RenderPreset
from simgen.config.scenario import Scenario
from simgen.dataset import manifest as manifest_io
from simgen.dataset.assemble import assemble_coco
from simgen.dataset.writer import JOURNAL, SUBDIRS, DatasetWriter
from simgen.errors import OutputError, SimgenError
from simgen.run.redirect import redirect_output
from simgen.sampling.sampler import FrameSampler

STAGES = ("sample", "scene_update", "render", "readback", "amodal", "annotate", "write")


@dataclass
class RenderOptions:
    """What the command line can override on top of the scenario."""

    frames: int | None = None
    seed: int | None = None
    render_config: str | None = None
    device: str = "auto"
    overwrite: bool = False
    progress: bool = True


@dataclass
class StageTimer:
    """Total seconds per pipeline stage, so overhead beside the render is visible in every run."""

    totals: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.totals[name] += time.perf_counter() - start


@dataclass
class RunSummary:
    out: Path
    frames_total: int
    frames_rendered: int
    frames_resumed: int
    images: int
    annotations: int
    wall_seconds: float
    stage_seconds: dict[str, float]
    device: str
    dropped_objects: int

    def text(self) -> str:
        rate = self.frames_rendered / self.wall_seconds if self.wall_seconds > 0 else 0.0
        render, amodal = self.stage_seconds.get("render", 0.0), self.stage_seconds.get("amodal", 0.0)
        busy = sum(self.stage_seconds.values())
        overhead = 100.0 * (busy - render - amodal) / busy if busy else 0.0
        resumed = f" ({self.frames_resumed} already there from an earlier run)" if self.frames_resumed else ""
        dropped = f" {self.dropped_objects} object(s) did not fit and were dropped." if self.dropped_objects else ""
        return (f"Rendered {self.frames_rendered} frame(s) in {self.wall_seconds:.1f} s on {self.device} "
                f"({rate:.2f} frames/s){resumed}. The dataset in {self.out} now holds {self.images} image(s) "
                f"with {self.annotations} labeled instance(s) in annotations.json (COCO).{dropped} "
                f"Cycles rendering took {render:.1f} s (+{amodal:.1f} s of 1-sample passes for unoccluded masks); "
                f"everything else {overhead:.0f}% of the frame time "
                f"(per-stage seconds in manifest.json).")


def resolve_assets(scenario: Scenario) -> dict[str, list[AssetRef]]:
    return {cls.name: resolve_class_assets(cls.asset, scenario.source_dir) for cls in scenario.classes}


def prepare(scenario_path: Path, options: RenderOptions) -> tuple[Scenario, RenderPreset, dict[str, list[AssetRef]]]:
    """Load and check everything the run depends on; raises SimgenError with a clear message."""
    scenario = load_scenario(scenario_path)
    if options.frames is not None:
        scenario.frames = options.frames
    if options.seed is not None:
        scenario.seed = options.seed
    preset = load_preset(options.render_config or scenario.render, base_dir=scenario.source_dir)
    return scenario, preset, resolve_assets(scenario)


def _check_output(out: Path, identity: str, overwrite: bool) -> None:
    """Refuse to mix two datasets in one folder; --overwrite clears simgen's own files only."""
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputError(f"{out} exists and is not a folder")
    existing = manifest_io.read_manifest(out)
    ours = [out / n for n in (*SUBDIRS, JOURNAL, "annotations.json", manifest_io.MANIFEST, "ATTRIBUTION.txt",
                              "simgen.log")]
    if overwrite:
        for path in ours:
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        return
    if existing is not None and existing.get("identity") != identity:
        raise OutputError(f"{out} holds a different dataset (scenario '{existing.get('scenario', {}).get('name')}', "
                          f"seed {existing.get('seed')}); choose another -o folder or pass --overwrite")
    if existing is None and any(out.iterdir()):
        raise OutputError(f"{out} is not empty and holds no simgen dataset; choose another -o folder "
                          f"or pass --overwrite")


def render_dataset(scenario_path: Path, out: Path, options: RenderOptions) -> RunSummary:
    wall_start = time.perf_counter()
    scenario, preset, assets = prepare(scenario_path, options)
    identity = manifest_io.identity_hash(scenario, preset)
    _check_output(out, identity, options.overwrite)
    all_refs = [ref for refs in assets.values() for ref in refs]
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "simgen.log"

    from simgen.blender.backend import BlenderBackend  # bpy loads only when a render is really asked for
    import bpy

    try:
        with redirect_output(log_path):
            backend = BlenderBackend(preset, options.device)
            bounds = backend.load_assets(all_refs)
    except SimgenError:
        if created:  # leave no trace of a run that never started
            shutil.rmtree(out, ignore_errors=True)
        raise
    sampler = FrameSampler(scenario, assets, bounds, preset.resolution)
    writer = DatasetWriter(out)
    manifest = manifest_io.build_manifest(scenario, preset, identity, backend.device, bpy.app.version_string,
                                          all_refs, status="running")
    manifest_io.write_manifest(out, manifest)
    manifest_io.write_attribution(out, manifest["licenses"])

    keypoints = {cls.name: cls.keypoints for cls in scenario.classes}
    done = writer.finished_frames()
    todo = [i for i in range(scenario.frames) if i not in done]
    timer = StageTimer()
    dropped = 0
    status = "interrupted"
    try:
        with tqdm(total=scenario.frames, initial=scenario.frames - len(todo), unit="frame", desc="render",
                  disable=not options.progress, dynamic_ncols=True) as bar:
            for index in todo:
                with timer.stage("sample"):
                    frame = sampler.sample(index)
                dropped += len(frame.dropped)
                with redirect_output(log_path):
                    with timer.stage("scene_update"):
                        backend.apply(frame)
                    with timer.stage("render"):
                        backend.render()
                    with timer.stage("readback"):
                        passes = backend.save_outputs(writer.rgb_staging_path(index))
                with timer.stage("annotate"):
                    plan = plan_frame(frame, backend.asset_vertices)
                with redirect_output(log_path), timer.stage("amodal"):
                    isolated = backend.render_isolated(plan.isolation_groups)
                with timer.stage("annotate"):
                    labels = annotate_frame(frame, plan, passes.instance, passes.depth, isolated, bounds,
                                            keypoints, scenario.labels)
                with timer.stage("write"):
                    writer.write_frame(index, labels.depth_mm, passes.instance, labels.semantic, labels.record)
                bar.update(1)
        status = "complete"
    finally:
        coco = assemble_coco(out, info={"description": scenario.name, "version": simgen.__version__,
                                        "year": time.gmtime().tm_year, "contributor": "simgen",
                                        "date_created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                             categories=manifest["categories"], licenses=manifest["licenses"], frames=scenario.frames)
        wall = time.perf_counter() - wall_start
        manifest.update(status=status, images=len(coco["images"]), annotations=len(coco["annotations"]),
                        timing={"wall_seconds": round(wall, 4), "frames_rendered": len(todo) if status == "complete"
                                else None, "stage_seconds": {s: round(timer.totals.get(s, 0.0), 4) for s in STAGES}})
        manifest_io.write_manifest(out, manifest)
        backend.close()
    return RunSummary(out=out, frames_total=scenario.frames, frames_rendered=len(todo), frames_resumed=len(done),
                      images=len(coco["images"]), annotations=len(coco["annotations"]), wall_seconds=wall,
                      stage_seconds=dict(timer.totals), device=backend.device, dropped_objects=dropped)
