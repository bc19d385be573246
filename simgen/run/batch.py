"""The driver of a run: check everything, schedule frames, journal them, assemble COCO at the end.

Everything that can be wrong with the input (scenario, assets, device, output folder) is
checked before the first frame, so a bad run stops at once and writes nothing half-way. Frames
are rendered in this process, in local worker processes, or on a Ray cluster; whichever, this
driver is the only writer of the journal and of ``annotations.json``.
"""

from __future__ import annotations

import shutil
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator, Protocol

from tqdm import tqdm

import simgen
from simgen.assets.resolve import resolve_asset, resolve_class_assets
from simgen.assets.scene_assets import SceneAssets
from simgen.config import load_preset, load_scenario
from simgen.config.conditions import condition_fractions, variant
from simgen.config.loader import locate
from simgen.config.preset import RenderPreset
from simgen.config.scenario import Scenario
from simgen.dataset import manifest as manifest_io
from simgen.dataset.assemble import assemble_coco, coverage
from simgen.dataset.writer import JOURNAL, SUBDIRS, DatasetWriter
from simgen.errors import AssetError, OutputError, SimgenError
from simgen.run.frame_job import STAGES, FrameRenderer, FrameResult, RendererSpec
from simgen.run.shard import Shard
from simgen.run.workers import FrameFailed, WorkerPlan, WorkerPool, threads_per_worker
from simgen.sampling.sampler import BACKDROP_ASSET, RAIN_ASSET, SNOW_ASSET


@dataclass
class RenderOptions:
    """What the command line can override or add on top of the scenario."""

    frames: int | None = None
    seed: int | None = None
    render_config: str | None = None
    device: str = "auto"
    overwrite: bool = False
    progress: bool = True
    shard: Shard = field(default_factory=Shard)
    workers: int = 1
    gpus: list[int] | None = None
    recycle_after: int = 0
    max_failures: int = 0
    ray_address: str | None = None


OWNED_NAMES = (*SUBDIRS, JOURNAL, "annotations.json", manifest_io.MANIFEST, "ATTRIBUTION.txt", "simgen.log")


class FrameSource(Protocol):
    """Something that renders frames somewhere and hands back their results."""

    device: str
    blender_version: str

    def results(self) -> Iterator[FrameResult | FrameFailed]: ...

    def close(self) -> None: ...


class InProcess:
    """Frames rendered one after another in this process (the default, and the fastest on one device)."""

    def __init__(self, spec: RendererSpec, frames: list[int]):
        self._renderer = FrameRenderer(spec)
        self._frames = frames
        self.device = self._renderer.device
        self.blender_version = self._renderer.blender_version

    def results(self) -> Iterator[FrameResult | FrameFailed]:
        import traceback

        for index in self._frames:
            try:
                yield self._renderer.render(index)
            except SimgenError:
                raise
            except Exception:  # noqa: BLE001 - one broken frame must not take the run down
                yield FrameFailed(index, traceback.format_exc(limit=6))

    def close(self) -> None:
        self._renderer.close()


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
    failed_frames: list[int]
    coverage: dict[str, dict[str, float]] = field(default_factory=dict)

    def text(self) -> str:
        rate = self.frames_rendered / self.wall_seconds if self.wall_seconds > 0 else 0.0
        render, amodal = self.stage_seconds.get("render", 0.0), self.stage_seconds.get("label_passes", 0.0)
        busy = sum(self.stage_seconds.values())
        overhead = 100.0 * (busy - render - amodal) / busy if busy else 0.0
        resumed = f" ({self.frames_resumed} already there from an earlier run)" if self.frames_resumed else ""
        dropped = f" {self.dropped_objects} object(s) did not fit and were dropped." if self.dropped_objects else ""
        failed = (f" {len(self.failed_frames)} frame(s) failed ({', '.join(map(str, self.failed_frames[:10]))}); "
                  f"see simgen.log, and rerun to retry them." if self.failed_frames else "")
        return (f"Rendered {self.frames_rendered} frame(s) in {self.wall_seconds:.1f} s on {self.device} "
                f"({rate:.2f} frames/s){resumed}. The dataset in {self.out} now holds {self.images} image(s) "
                f"with {self.annotations} labeled instance(s) in annotations.json (COCO).{dropped}{failed} "
                f"Cycles rendering took {render:.1f} s (+{amodal:.1f} s of 1-sample label passes); "
                f"everything else {overhead:.0f}% of the frame time (per-stage seconds in manifest.json)."
                + self.coverage_table())

    def coverage_table(self) -> str:
        if not self.coverage:
            return ""
        rows = [f"  {name:<18} {c['target']:>7.1%} {c['frames']:>8d} {c['achieved']:>9.1%}"
                for name, c in self.coverage.items()]
        return "\n\nCoverage        target   frames  achieved\n" + "\n".join(rows)


@contextmanager
def _located(scenario: Scenario, *field: str | int) -> Iterator[None]:
    """Asset errors name the scenario field that asked for the asset, with its file and line."""
    try:
        yield
    except AssetError as exc:
        raise AssetError(f"{locate(scenario, *field)}: {exc}") from None


def resolve_assets(scenario: Scenario) -> SceneAssets:
    """Every asset any frame may need: the scenario's own, and what its conditions add (distractors, weather)."""
    base = scenario.source_dir
    scenarios = [scenario] + [variant(scenario, (name,)) for name in scenario.conditions]
    distractors: dict[str, list] = {}
    for each in scenarios:
        shapes = [str(shape) for shape in each.distractors.shapes.params] if each.distractors else []
        shapes += [BACKDROP_ASSET] if each.backdrop else []
        shapes += [RAIN_ASSET] if each.weather.rain else []
        shapes += [SNOW_ASSET] if each.weather.snow else []
        for shape in shapes:
            if shape not in distractors:
                with _located(scenario, "distractors", "shapes"):
                    distractors[shape] = resolve_asset(shape, base)
    surface = None
    if scenario.placement.surface is not None:
        with _located(scenario, "placement", "surface"):
            candidates = resolve_asset(scenario.placement.surface, base)
            if len(candidates) != 1:
                raise AssetError(f"must name one asset, '{scenario.placement.surface}' matches {len(candidates)}")
        surface = candidates[0]
    classes = {}
    for index, cls in enumerate(scenario.classes):
        with _located(scenario, "classes", index, "asset"):
            classes[cls.name] = resolve_class_assets(cls.asset, base)
    return SceneAssets(classes, distractors, surface)


def prepare(scenario_path: Path, options: RenderOptions) -> tuple[Scenario, RenderPreset, SceneAssets]:
    """Load and check everything the run depends on; raises SimgenError with a clear message."""
    scenario = load_scenario(scenario_path)
    if options.frames is not None:
        scenario.frames = options.frames
    if options.seed is not None:
        scenario.seed = options.seed
    preset = load_preset(options.render_config or scenario.render, base_dir=scenario.source_dir)
    return scenario, preset, resolve_assets(scenario)


def check_output(out: Path, identity: str, overwrite: bool) -> None:
    """Refuse to mix two datasets in one folder; --overwrite clears simgen's own files only."""
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputError(f"{out} exists and is not a folder")
    existing = manifest_io.read_manifest(out)
    if overwrite:
        for name in OWNED_NAMES:
            path = out / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        return
    if existing is not None and existing.get("identity") != identity:
        raise OutputError(f"{out} holds a different dataset (scenario '{existing.get('scenario', {}).get('name')}', "
                          f"seed {existing.get('seed')}); choose another -o folder or pass --overwrite")
    # No manifest but only simgen's own (empty) folders: a run killed during start-up, safe to continue.
    if existing is None and any(p.name not in OWNED_NAMES for p in out.iterdir()):
        raise OutputError(f"{out} is not empty and holds no simgen dataset; choose another -o folder "
                          f"or pass --overwrite")


def _frame_source(spec: RendererSpec, frames: list[int], options: RenderOptions) -> FrameSource:
    if options.ray_address is not None:
        from simgen.run.ray_backend import RayFrames

        return RayFrames(spec, frames, options.ray_address, options.workers)
    if options.gpus:
        plans = [WorkerPlan(spec, [gpu]) for gpu in options.gpus]
    elif options.workers > 1 or options.recycle_after > 0:  # recycling needs a worker process to restart
        preset = spec.preset if spec.preset.threads else spec.preset.model_copy(
            update={"threads": threads_per_worker(options.workers)})
        plans = [WorkerPlan(replace(spec, preset=preset), None) for _ in range(options.workers)]
    else:
        return InProcess(spec, frames)
    pool = WorkerPool(plans, frames, options.recycle_after)
    try:
        pool.wait_ready()
    except BaseException:
        pool.close()
        raise
    return pool


def _log_failure(out: Path, failure: FrameFailed) -> None:
    with open(out / "simgen.log", "a", encoding="utf-8") as log:
        log.write(f"\n--- frame {failure.index} failed ---\n{failure.message}\n")


def render_dataset(scenario_path: Path, out: Path, options: RenderOptions) -> RunSummary:
    wall_start = time.perf_counter()
    scenario, preset, assets = prepare(scenario_path, options)
    identity = manifest_io.identity_hash(scenario, preset)
    check_output(out, identity, options.overwrite)
    all_refs = assets.all()
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    writer = DatasetWriter(out)
    writer.repair()
    done = writer.finished_frames()
    frames = options.shard.frames(scenario.frames)
    todo = [i for i in frames if i not in done]
    spec = RendererSpec(scenario, preset, assets, out, options.device)
    try:
        source = _frame_source(spec, todo, options)
    except SimgenError:
        if created:  # leave no trace of a run that never started
            shutil.rmtree(out, ignore_errors=True)
        raise

    manifest = manifest_io.build_manifest(scenario, preset, identity, source.device, source.blender_version,
                                          all_refs, status="running",
                                          extra={"shard": str(options.shard), "workers": options.workers},
                                          keypoints=assets.class_keypoints(scenario.classes))
    manifest_io.write_manifest(out, manifest)

    totals: dict[str, float] = defaultdict(float)
    dropped, rendered, failed = 0, 0, []
    status = "interrupted"
    try:
        with tqdm(total=len(frames), initial=len(frames) - len(todo), unit="frame", desc="render",
                  disable=not options.progress, dynamic_ncols=True) as bar:
            for result in source.results():
                if isinstance(result, FrameFailed):
                    failed.append(result.index)
                    _log_failure(out, result)
                    bar.set_postfix(failed=len(failed))
                    if len(failed) > options.max_failures:
                        raise SimgenError(
                            f"frame {result.index} failed ({result.message.strip().splitlines()[-1]}); "
                            f"details in {out / 'simgen.log'}. {rendered + len(done)} finished frame(s) are kept; "
                            f"rerun the same command to resume, or allow failures with --max-failures N")
                    continue
                writer.append_journal(result.record)
                rendered += 1
                dropped += result.dropped_objects
                for stage, seconds in result.stage_seconds.items():
                    totals[stage] += seconds
                bar.update(1)
        status = "complete" if not failed else "complete_with_failures"
    finally:
        source.close()
        coco = assemble_coco(out, info={"description": scenario.name, "version": simgen.__version__,
                                        "year": time.gmtime().tm_year, "contributor": "simgen",
                                        "date_created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                             categories=manifest["categories"], licenses=manifest["asset_licenses"], frames=scenario.frames)
        wall = time.perf_counter() - wall_start
        manifest.update(status=status, device=source.device, images=len(coco["images"]),
                        annotations=len(coco["annotations"]), failed_frames=failed, licenses=coco["licenses"],
                        coverage=coverage(coco["images"], condition_fractions(scenario)),
                        timing={"wall_seconds": round(wall, 4), "frames_rendered": rendered,
                                "stage_seconds": {s: round(totals.get(s, 0.0), 4) for s in STAGES}})
        manifest_io.write_manifest(out, manifest)
    return RunSummary(out=out, frames_total=len(frames), frames_rendered=rendered, frames_resumed=len(frames) - len(todo),
                      images=len(coco["images"]), annotations=len(coco["annotations"]), wall_seconds=wall,
                      stage_seconds=dict(totals), device=source.device, dropped_objects=dropped, failed_frames=failed,
                      coverage=manifest["coverage"])
