"""The driver of a run: check everything, schedule frames, journal them, assemble COCO at the end.

Everything that can be wrong with the input (scenario, assets, device, output folder) is
checked before the first frame, so a bad run stops at once and writes nothing half-way. Frames
are rendered in this process, in local worker processes, or on a Ray cluster; whichever, this
driver is the only writer of the journal and of ``annotations.json``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Protocol

from tqdm import tqdm

import simgen
from simgen.bundle import scenario_file
from simgen.assets.files import expand_files, image_problem
from simgen.assets.resolve import resolve_asset, resolve_class_assets
from simgen.assets.scene_assets import SceneAssets
from simgen.config import load_preset, load_scenario
from simgen.config.conditions import condition_fractions, variant
from simgen.config.loader import locate
from simgen.config.preset import RenderPreset
from simgen.config.scenario import Scenario
from simgen.dataset import manifest as manifest_io
from simgen.dataset.assemble import assemble_coco, coverage, rig_counts
from simgen.dataset.layout import DATASET
from simgen.dataset.ownership import LOCK, MARKER, FolderLock, claim, clear
from simgen.dataset.reader import dig
from simgen.dataset.writer import JOURNAL, QUARANTINE, DatasetWriter, DiskReserve, journal_lines
from simgen.errors import AssetError, DiskFullError, Interrupted, OutputError, SimgenError
from simgen.run.frame_job import STAGES, FrameRenderer, FrameResult, RendererSpec
from simgen.run.interrupt import StopRequest
from simgen.run.redirect import redirect_output
from simgen.run.shard import Shard
from simgen.sampling.sampler import FrameSampler
from simgen.run.workers import FrameFailed, WorkerPlan, WorkerPool, threads_per_worker
from simgen.sampling.sampler import BACKDROP_ASSET, RAIN_ASSET, SNOW_ASSET, hdri_patterns, texture_patterns


BYTES_PER_PIXEL = 128  # Cycles' passes and denoising buffers, the render result, EXR and numpy copies


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


class FrameSource(Protocol):
    """Something that renders frames somewhere and hands back their results."""

    device: str
    blender_version: str
    discards_on_stop: bool  # whether stopping drops the frames in flight (worker processes are killed)

    def results(self, stop: StopRequest) -> Iterator[FrameResult | FrameFailed]:
        """Finished frames as they come; ends early (within a poll) once ``stop.requested``."""
        ...

    def close(self, kill: bool = False) -> None:
        """Release the renderers; ``kill`` ends worker processes at once, discarding frames in flight."""
        ...


class InProcess:
    """Frames rendered one after another in this process (the default, and the fastest on one device)."""

    discards_on_stop = False  # the run stops between frames, or the watchdog ends it mid-render

    def __init__(self, spec: RendererSpec, frames: list[int]):
        self._renderer = FrameRenderer(spec)
        self._frames = frames
        self.device = self._renderer.device
        self.blender_version = self._renderer.blender_version

    def results(self, stop: StopRequest) -> Iterator[FrameResult | FrameFailed]:
        import traceback

        for index in self._frames:
            if stop.requested:
                return
            try:
                yield self._renderer.render(index)
            except SimgenError:
                raise
            except Exception:  # noqa: BLE001 - one broken frame must not take the run down
                yield FrameFailed(index, traceback.format_exc(limit=6))

    def close(self, kill: bool = False) -> None:
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
    cameras: dict[str, dict[str, int]] = field(default_factory=dict)  # camera.rig: images, annotations per camera

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
                f"with {self.annotations} labeled instance(s) in annotations.json (COCO).{self._rig()}{dropped}{failed} "
                f"Cycles rendering took {render:.1f} s (+{amodal:.1f} s of 1-sample label passes); "
                f"everything else {overhead:.0f}% of the frame time (per-stage seconds in manifest.json)."
                + self.coverage_table())

    def _rig(self) -> str:
        if not self.cameras:
            return ""
        each = ", ".join(f"{name} {c['images']} image(s) with {c['annotations']} instance(s)"
                         for name, c in self.cameras.items())
        return f" Rig cameras, each in cameras/NAME/annotations.json: {each}."

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


@contextmanager
def _assets_located(scenario: Scenario, assets: SceneAssets) -> Iterator[None]:
    """An asset that fails to load in Blender is named by the scenario field that asked for it."""
    try:
        yield
    except AssetError as exc:
        if exc.key is None:
            raise
        field: tuple[str | int, ...] = ("distractors", "shapes")
        for index, cls in enumerate(scenario.classes):
            if any(ref.key == exc.key for ref in assets.classes.get(cls.name, [])):
                field = ("classes", index, "asset")
        if assets.surface is not None and assets.surface.key == exc.key:
            field = ("placement", "surface")
        raise AssetError(f"{locate(scenario, *field)}: {exc}") from None


def resolve_assets(scenario: Scenario) -> SceneAssets:
    """Every asset any frame may need: the scenario's own, and what its conditions add (distractors, weather)."""
    base = scenario.source_dir
    scenarios = variants(scenario)
    distractors: dict[str, list] = {}
    for each in scenarios:
        shapes = [str(shape) for shape in each.distractors.shapes.params] if each.distractors else []
        shapes += [BACKDROP_ASSET] if each.backdrop else []
        shapes += [RAIN_ASSET] if each.weather.rain and each.weather.rain.mode == "streaks" else []
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
    return SceneAssets(classes, distractors, surface, _check_images(scenario, scenarios))


def variants(scenario: Scenario) -> list[Scenario]:
    """The scenario as plain frames see it, then as each condition's frames see it."""
    return [scenario] + [variant(scenario, (name,)) for name in scenario.conditions]


def _check_images(scenario: Scenario, scenarios: list[Scenario]) -> set[str]:
    """Every HDRI and texture file any frame may draw exists and is an image Blender can read (a text
    file named .exr would otherwise render as a magenta world, with no error). Returns the files."""
    checked: set[str] = set()
    for each in scenarios:
        for where, patterns in ((("world", "hdri"), hdri_patterns(each)), (("materials",), texture_patterns(each))):
            for pattern in patterns:
                with _located(scenario, *where):
                    for file in expand_files(pattern, scenario.source_dir, where[-1]):
                        if file not in checked:
                            checked.add(file)
                            problem = image_problem(Path(file))
                            if problem:
                                raise AssetError(f"{file}: {problem}")
    return checked


def prepare(source: Path | Scenario, options: RenderOptions) -> tuple[Scenario, RenderPreset, SceneAssets]:
    """Load and check everything the run depends on; raises SimgenError with a clear message.
    A Scenario given as an object is copied, so the options never change the caller's."""
    scenario = source.model_copy(deep=True) if isinstance(source, Scenario) else load_scenario(scenario_file(source))
    if options.frames is not None:
        scenario.frames = options.frames
    if options.seed is not None:
        scenario.seed = options.seed
    preset = load_preset(options.render_config or scenario.render, base_dir=scenario.source_dir)
    return scenario, preset, resolve_assets(scenario)


@dataclass
class CheckReport:
    scenario: Scenario
    preset: RenderPreset
    assets: int
    images: int
    sampled: int
    objects: int
    dropped: int
    past_edge: list[Any] = field(default_factory=list)  # frames of the edge scan that see past the ground
    scan: list[Any] = field(default_factory=list)  # the frames sampled for that scan

    @property
    def scanned(self) -> int:
        return len(self.scan)


EDGE_SCAN = 200  # frames check samples (pure numpy, milliseconds each) to see whether cameras look past the ground


def check_scenario(scenario_path: Path | Scenario, options: RenderOptions, frames: int = 4) -> CheckReport:
    """What ``simgen check`` proves: the inputs load as a render would load them, and frames sample.

    Blender imports every asset here (a corrupt mesh fails now, not at frame 0 of a long run), on
    the CPU and in a scratch folder, so nothing is written next to the scenario.
    """
    import tempfile

    scenario, preset, assets = prepare(scenario_path, options)
    _check_memory(preset, 1)
    eager, deferred = assets.split_by_need()
    with tempfile.TemporaryDirectory(prefix="simgen-check-") as scratch:
        with _assets_located(scenario, assets):
            renderer = FrameRenderer(RendererSpec(scenario, preset, assets, Path(scratch), "cpu"))
        try:
            with redirect_output(Path(scratch) / "simgen.log"), _assets_located(scenario, assets):
                renderer.backend.load_assets(list(deferred.values()))
            for ref in deferred.values():  # kept, so that frames can be sampled later without Blender
                renderer.geometry.add(ref, renderer.backend.asset_vertices[ref.key])
            specs = [renderer.sampler.sample(index) for index in range(min(frames, scenario.frames))]
            scan = [renderer.sampler.sample(index) for index in range(min(EDGE_SCAN, scenario.frames))]
            past_edge = [frame for frame in scan if FrameSampler.sees_past_ground(frame)]
        finally:
            renderer.close()
    return CheckReport(scenario, preset, len(eager) + len(deferred), len(assets.images), len(specs),
                       sum(len(s.objects) for s in specs), sum(len(s.dropped) for s in specs), past_edge, scan)


def _check_memory(preset: RenderPreset, workers: int) -> None:
    """Refuse a resolution whose render buffers would not fit this machine's memory (instead of swapping
    to a halt or being killed mid-frame)."""
    width, height = preset.resolution
    needed = BYTES_PER_PIXEL * width * height * workers
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return
    if needed > 0.8 * total:
        raise SimgenError(f"{width}x{height} with {workers} worker(s) needs about {needed / 2**30:.1f} GiB for its "
                          f"render buffers; this machine has {total / 2**30:.1f} GiB. Lower the resolution or the "
                          f"number of workers")


def check_output(out: Path, identity: str, digests: dict[str, str], overwrite: bool) -> None:
    """Refuse to mix two datasets, or old and new asset files, in one folder.

    ``--overwrite`` deletes simgen's own files only, and refuses (deleting nothing) if the folder
    holds anything else. A folder whose earlier run finished no frame (say it stopped on a typo
    in the scenario) may be taken over by a corrected scenario without --overwrite: there is
    nothing to lose.
    """
    if overwrite:
        clear(out, DATASET)
        return
    existing = manifest_io.read_manifest(out)
    if existing is None:
        return
    finished = journal_lines(out)
    if existing.get("identity") != identity:
        if finished == 0:
            clear(out, DATASET)
            return
        raise OutputError(f"{out} holds a different dataset (scenario '{dig(existing, 'scenario', 'name')}', "
                          f"seed {existing.get('seed')}, {finished} journaled frame(s)); choose another -o folder, "
                          f"or pass --overwrite to delete simgen's files there and start again")
    before = existing.get("asset_digests")
    if finished and isinstance(before, dict):
        changed = sorted(key for key in set(before) | set(digests) if before.get(key) != digests.get(key))
        if changed:
            raise OutputError(f"asset files changed since the {finished} journaled frame(s) in {out} were rendered "
                              f"({', '.join(changed[:3])}{' and more' if len(changed) > 3 else ''}); mixing old and "
                              f"new would make one dataset of two. Restore the files, choose another -o folder, or "
                              f"pass --overwrite to start again")


def _frame_source(spec: RendererSpec, frames: list[int], options: RenderOptions, stop: StopRequest) -> FrameSource:
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
        pool.wait_ready(stop)
        _check_request(stop, "while the workers started")
    except BaseException:
        pool.close(kill=True)
        raise
    return pool


def _log_failure(out: Path, failure: FrameFailed) -> None:
    with open(out / "simgen.log", "a", encoding="utf-8") as log:
        log.write(f"\n--- frame {failure.index} failed ---\n{failure.message}\n")


class _Finisher:
    """Writes the end state of a run (annotations.json from the journal, the manifest's status and
    figures): at a normal end, after an error, on a full disk, and from the stop watchdog."""

    def __init__(self, out: Path, scenario: Scenario, manifest: dict[str, Any], reserve: DiskReserve,
                 wall_start: float):
        self.out, self.scenario, self.manifest, self.reserve = out, scenario, manifest, reserve
        self.wall_start = wall_start
        self.totals: dict[str, float] = defaultdict(float)
        self.rendered, self.dropped, self.failed = 0, 0, []
        self.device = manifest["device"]
        self.coco: dict[str, Any] = {"images": [], "annotations": []}

    def finish(self, status: str) -> None:
        coco = assemble_coco(self.out, info={"description": self.scenario.name, "version": simgen.__version__,
                                             "year": time.gmtime().tm_year, "contributor": "simgen",
                                             "date_created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                             categories=self.manifest["categories"], licenses=self.manifest["asset_licenses"],
                             frames=self.scenario.frames)
        self.coco = coco
        wall = time.perf_counter() - self.wall_start
        if self.scenario.camera.rig:
            self.manifest["cameras"] = rig_counts(self.out)
        self.manifest.update(status=status, device=self.device, images=len(coco["images"]),
                             annotations=len(coco["annotations"]), failed_frames=self.failed,
                             licenses=coco["licenses"],
                             coverage=coverage(coco["images"], condition_fractions(self.scenario)),
                             timing={"wall_seconds": round(wall, 4), "frames_rendered": self.rendered,
                                     "stage_seconds": {s: round(self.totals.get(s, 0.0), 4) for s in STAGES}})
        manifest_io.write_manifest(self.out, self.manifest)
        if status != "disk_full":
            self.reserve.release()

    def finish_after(self, error: SimgenError, status: str) -> SimgenError:
        """Finish after ``error``; returns the error to raise, which says what was kept and what was not."""
        if isinstance(error, DiskFullError):
            self.reserve.release()  # the space held back for exactly this
            status = "disk_full"
        try:
            self.finish(status)
        except OutputError as second:
            message = (f"{error}; and annotations.json could not be rewritten ({second}): the journal frames.jsonl "
                       f"keeps every finished frame, so free space and run 'simgen assemble {self.out}' or rerun")
            return DiskFullError(message) if isinstance(error, DiskFullError) else OutputError(message)
        if isinstance(error, DiskFullError):
            return DiskFullError(f"{error}. The {len(self.coco['images'])} finished frame(s) are kept and "
                                 f"annotations.json lists them; free space and rerun the same command to resume")
        return error

    def stopped_message(self, number: int, discarded: bool) -> str:
        name = signal.Signals(number).name
        flight = "the frame in flight was discarded" if discarded else "no frame was left half-done"
        return (f"stopped by {name}: {len(self.coco['images'])} finished frame(s) are kept in {self.out} and "
                f"annotations.json lists them; {flight}. Run the same command again to resume")


def render_dataset(scenario_path: Path | Scenario, out: Path, options: RenderOptions) -> RunSummary:
    """Render (or resume) the dataset of ``scenario_path`` into ``out``; see ``simgen render --help``."""
    wall_start = time.perf_counter()
    with StopRequest() as stop:
        stop.on_timeout(lambda number: stop.say(f"\nsimgen: stopped by {signal.Signals(number).name} before the "
                                                f"first frame; nothing was rendered"))
        scenario, preset, assets = prepare(scenario_path, options)
        _check_memory(preset, 1 if options.ray_address else len(options.gpus or ()) or options.workers)
        _check_request(stop, "before anything was written")
        identity = manifest_io.identity_hash(scenario, preset)
        all_refs = assets.all()
        digests = manifest_io.asset_digests(all_refs)
        created = claim(out, DATASET)
        forget = (lambda: _forget(out)) if created else (lambda: None)  # a run that never started leaves no trace
        stop.on_timeout(lambda number: (forget(), stop.say(f"\nsimgen: stopped by {signal.Signals(number).name} "
                                                           f"before the first frame; nothing was rendered")))
        with FolderLock(out):
            reserve = DiskReserve(out)
            try:
                check_output(out, identity, digests, options.overwrite)
                writer = DatasetWriter(out)
                scan = writer.repair()
                if scan.damaged:
                    print(f"simgen: warning: {len(scan.damaged)} damaged line(s) of {out / JOURNAL} were set aside "
                          f"in {out / QUARANTINE}; their frames are rendered again", file=sys.stderr)
                done = writer.finished_frames(scan.records)
                reserve.ensure(_size(out / JOURNAL))
                frames = options.shard.frames(scenario.frames)
                todo = [i for i in frames if i not in done]
                if len(todo) < len(frames):  # said first: the progress bar alone would not say why it starts late
                    print(f"simgen: resuming {out}: {len(frames) - len(todo)} of {len(frames)} frame(s) already "
                          f"there, rendering the other {len(todo)}", file=sys.stderr)
                spec = RendererSpec(scenario, preset, assets, out, options.device)
                with _assets_located(scenario, assets):
                    source = _frame_source(spec, todo, options, stop)
            except SimgenError:
                reserve.release()
                forget()
                raise
            manifest = manifest_io.build_manifest(
                scenario, preset, identity, source.device, source.blender_version, all_refs, status="running",
                extra={"shard": str(options.shard), "workers": options.workers},
                keypoints=assets.class_keypoints(scenario.classes), digests=digests)
            finisher = _Finisher(out, scenario, manifest, reserve, wall_start)
            try:
                manifest_io.write_manifest(out, manifest)
                stop.on_timeout(lambda number: (finisher.finish("interrupted"),
                                                stop.say(f"\nsimgen: {finisher.stopped_message(number, True)}")))
                _render_frames(source, writer, reserve, finisher, stop, len(frames), len(frames) - len(todo),
                               options)
            except SimgenError as error:
                source.close(kill=True)
                with stop.commit_lock:
                    stop.acknowledge()
                    raise finisher.finish_after(error, "failed") from None
            except BaseException:
                source.close(kill=True)
                with stop.commit_lock:
                    stop.acknowledge()
                    finisher.finish("failed")
                raise
            source.close(kill=stop.requested)
            with stop.commit_lock:
                stop.acknowledge()
                if stop.requested:
                    finisher.finish("interrupted")
                    number = stop.signal_number or signal.SIGINT
                    raise Interrupted(finisher.stopped_message(number, discarded=source.discards_on_stop), number)
                finisher.finish("complete" if not finisher.failed else "complete_with_failures")
    coco = finisher.coco
    return RunSummary(out=out, frames_total=len(frames), frames_rendered=finisher.rendered,
                      frames_resumed=len(frames) - len(todo), images=len(coco["images"]),
                      annotations=len(coco["annotations"]), wall_seconds=time.perf_counter() - wall_start,
                      stage_seconds=dict(finisher.totals), device=source.device, dropped_objects=finisher.dropped,
                      failed_frames=finisher.failed, coverage=manifest["coverage"],
                      cameras=finisher.manifest.get("cameras", {}))


def _render_frames(source: FrameSource, writer: DatasetWriter, reserve: DiskReserve, finisher: _Finisher,
                   stop: StopRequest, total: int, already: int, options: RenderOptions) -> None:
    """Journal each finished frame as it arrives (under the commit lock) until all are done or a stop is asked."""
    with tqdm(total=total, initial=already, unit="frame", desc="render", disable=not options.progress,
              dynamic_ncols=True) as bar:
        for result in source.results(stop):
            if isinstance(result, FrameFailed):
                finisher.failed.append(result.index)
                _log_failure(finisher.out, result)
                bar.set_postfix(failed=len(finisher.failed))
                if len(finisher.failed) > options.max_failures:
                    raise SimgenError(
                        f"frame {result.index} failed ({result.message.strip().splitlines()[-1]}); details in "
                        f"{finisher.out / 'simgen.log'}. {finisher.rendered + already} finished frame(s) are kept; "
                        f"rerun the same command to resume, or allow failures with --max-failures N")
                continue
            with stop.commit_lock:
                journal_bytes = writer.append_journal(result.record)
            finisher.rendered += 1
            finisher.dropped += result.dropped_objects
            for stage, seconds in result.stage_seconds.items():
                finisher.totals[stage] += seconds
            bar.update(1)
            reserve.ensure(journal_bytes)
            if stop.requested:
                break


def _check_request(stop: StopRequest, when: str) -> None:
    if stop.requested:
        stop.acknowledge()
        number = stop.signal_number or signal.SIGINT
        raise Interrupted(f"stopped by {signal.Signals(number).name} {when}; nothing was rendered", number)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _forget(out: Path) -> None:
    """Remove a folder this run created before its first frame: simgen's files, its marker, the folder."""
    clear(out, DATASET)
    for name in (MARKER, LOCK):
        (out / name).unlink(missing_ok=True)
    try:
        out.rmdir()
    except OSError:
        pass  # something else appeared in it meanwhile: it stays
