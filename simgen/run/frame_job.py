"""One process's share of a run: a Blender scene that turns frame indices into finished frame files.

The same class serves the in-process loop, local worker processes and Ray tasks, so every
execution mode renders a frame in exactly the same way. It writes a frame's files but not its
journal line: the journal has a single writer (the driver), so lines never interleave.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator

import cv2
import numpy as np

from simgen.annotate.frame import FrameLabels, annotate_frame, plan_frame
from simgen.assets.geometry_cache import Geometry
from simgen.assets.resolve import AssetRef
from simgen.assets.scene_assets import SceneAssets
from simgen.config.preset import RenderPreset
from simgen.config.scenario import LabelSpec, Scenario
from simgen.dataset.reader import view_folder
from simgen.dataset.writer import DatasetWriter
from simgen import flow_outputs
from simgen.flow_outputs import VECTOR
from simgen.outputs import FrameArrays, render_passes
from simgen.nir_output import NIR
from simgen.thermal_output import THERMAL, apparent_kelvin
from simgen.stereo_outputs import RIGHT
from simgen.postprocess.bloom import add_bloom
from simgen.postprocess.fog import apply_fog
from simgen.postprocess.lens_drops import add_lens_drops
from simgen.sampling.snowfall import SNOW_VEIL, extinction_per_m
from simgen.postprocess.rain import add_rain
from simgen.postprocess.sensor import apply_sensor_effects
from simgen.run.redirect import redirect_output
from simgen.sampling.frame_spec import FrameSpec, all_props, solid_props
from simgen.sampling.sampler import FrameSampler, stage_rng

STAGES = ("sample", "scene_update", "physics", "render", "readback", "label_passes", "sensor", "annotate", "write")


@dataclass
class FrameResult:
    index: int
    record: dict[str, Any]  # the journal line
    dropped_objects: int
    stage_seconds: dict[str, float] = field(default_factory=dict)


def _arrays(labels: FrameLabels, passes: Any, frame: FrameSpec) -> FrameArrays:
    return FrameArrays(labels.depth_mm, passes.depth, labels.instance, labels.semantic, labels.panoptic,
                       passes.extra, frame.camera)


@dataclass
class RenderedView:
    """One rig camera's share of a frame: its frame (the scene, its camera), passes, labels and RGB file."""

    name: str
    frame: FrameSpec
    passes: Any
    labels: FrameLabels
    spec: LabelSpec  # the labels section with this camera's outputs
    rgb_path: Path

    def arrays(self) -> FrameArrays:
        return _arrays(self.labels, self.passes, self.frame)


@dataclass
class RenderedFrame:
    """One frame before it is written: its spec, the render's label passes and the labels made from them."""

    frame: FrameSpec
    passes: Any  # RenderPasses: depth (float32 metres, inf = nothing) and instance ids, rows top-down
    labels: FrameLabels
    stage_seconds: dict[str, float]
    views: list[RenderedView] = field(default_factory=list)  # camera.rig, in its order

    def arrays(self) -> FrameArrays:
        return _arrays(self.labels, self.passes, self.frame)


@dataclass
class RendererSpec:
    """Everything a process needs to build a FrameRenderer (picklable, so it can cross process bounds)."""

    scenario: Scenario
    preset: RenderPreset
    assets: SceneAssets
    out: Path
    device: str
    gpu_indices: list[int] | None = None


def _forget_inherited_blender_paths() -> None:
    """A spawned worker inherits its parent's sys.path, which an imported bpy extended with Blender's
    own script folders; those hold a module also named ``bpy`` that would shadow the real one."""
    if "bpy" not in sys.modules:
        marker = f"{os.sep}bpy{os.sep}"
        sys.path[:] = [p for p in sys.path if marker not in p]


def needs_label_pass(frame: FrameSpec) -> bool:
    """Whether the main render's first sample is not a clean pinhole view of the surfaces."""
    camera = frame.camera
    fog_volume = frame.fog is not None and frame.fog.mode == "volume"
    translucent = any(not p.hides_labels for p in all_props(frame))  # left out of a label pass
    return camera.f_stop is not None or camera.shutter is not None or fog_volume or translucent


class FrameRenderer:
    """Loads the scene once, then renders, labels and writes any frame asked for."""

    def __init__(self, spec: RendererSpec):
        _forget_inherited_blender_paths()
        from simgen.blender.backend import BlenderBackend  # bpy is imported only where frames are rendered

        self.spec = spec
        self.log_path = spec.out / "simgen.log"
        eager, _ = spec.assets.split_by_need()  # the rest (big distractor pools) is imported when first drawn
        with redirect_output(self.log_path):
            self.backend = BlenderBackend(spec.preset, spec.device, spec.gpu_indices)
            self.backend.load_assets(eager)
            every = spec.scenario.labels.model_copy(update={"outputs": sorted(spec.scenario.wanted_outputs())})
            self.backend.enable_passes(render_passes(every))  # what any camera of the rig writes
        self.geometry = Geometry(spec.assets.all(), self._import)
        for ref in eager:
            self.geometry.add(ref, self.backend.asset_vertices[ref.key])
        self.bounds = self.geometry.bounds
        self.sampler = FrameSampler(spec.scenario, spec.assets, self.bounds, spec.preset.resolution,
                                    self.geometry.hulls)
        self.writer = DatasetWriter(spec.out)
        self.keypoints = spec.assets.class_keypoints(spec.scenario.classes)

    def _import(self, ref: AssetRef) -> np.ndarray:
        """A deferred asset, imported the first time a frame draws it; its hull."""
        with redirect_output(self.log_path):
            self.backend.load_assets([ref])
        return self.backend.asset_vertices[ref.key]

    def _load_drawn(self, frame: FrameSpec) -> None:
        """Import what the frame shows but the cache answered for (its geometry came without an import)."""
        keys = {o.asset for o in frame.objects} | {p.asset for p in all_props(frame)}
        missing = [key for key in sorted(keys) if not self.backend.has_asset(key)]
        if missing:
            refs = {ref.key: ref for ref in self.spec.assets.all()}
            with redirect_output(self.log_path):
                self.backend.load_assets([refs[key] for key in missing])

    @property
    def device(self) -> str:
        return self.backend.device

    @property
    def blender_version(self) -> str:
        return self.backend.blender_version

    def render(self, index: int) -> FrameResult:
        """Render frame ``index`` into the dataset: its files written, its journal record returned."""
        rendered = self.render_frame(index, self.writer.rgb_staging_path(index))
        seconds = rendered.stage_seconds
        start = time.perf_counter()
        record = rendered.labels.record
        files = self.writer.write_frame(index, rendered.arrays(), self.spec.scenario.labels)
        for view in rendered.views:  # each rig camera's files in its own folder, cameras/NAME/
            files.update(self.writer.write_frame(index, view.arrays(), view.spec, view_folder(view.name), view.rgb_path))
        if rendered.views:
            record["views"] = {view.name: view.labels.record for view in rendered.views}
        record["files"] = files
        seconds["write"] = time.perf_counter() - start
        return FrameResult(index, record, len(rendered.frame.dropped), seconds)

    def render_frame(self, index: int, rgb_path: Path) -> RenderedFrame:
        """Frame ``index`` rendered and labeled, as arrays and records; only the RGB PNGs are written (to
        ``rgb_path``, and beside it for rig cameras: the display image is what Blender's view transform
        saves)."""
        seconds: dict[str, float] = {}

        @contextmanager
        def stage(name: str) -> Iterator[None]:
            start = time.perf_counter()
            try:
                yield
            finally:
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start

        backend = self.backend
        with stage("sample"):
            frame = self.sampler.sample(index)
        with redirect_output(self.log_path):
            with stage("scene_update"):
                self._load_drawn(frame)
                backend.apply(frame)
            if frame.physics_steps:
                with stage("physics"):
                    self._settle(frame)
            with stage("scene_update"):
                backend.apply_motion(frame)
        passes, labels = self._shoot(frame, rgb_path, self.spec.scenario.labels, "", stage)
        views = []
        for view in frame.views:  # the same scene from each rig camera: no new sample, scene or BVH
            seen = replace(frame, camera=view.camera)
            spec = self.spec.scenario.labels.model_copy(update={"outputs": view.outputs})
            with redirect_output(self.log_path), stage("scene_update"):
                backend.aim(view.camera, view.name)
            path = rgb_path.with_name(f"{rgb_path.stem}.{view.name}.png")
            view_passes, view_labels = self._shoot(seen, path, spec, f"_{view.name}", stage)
            view_labels.record["image"]["camera_name"] = view.name
            views.append(RenderedView(view.name, seen, view_passes, view_labels, spec, path))
        if frame.views:
            with redirect_output(self.log_path):
                backend.aim(frame.camera)
        return RenderedFrame(frame, passes, labels, seconds, views)

    def _shoot(self, frame: FrameSpec, rgb_path: Path, spec: LabelSpec, tag: str,
               stage: Callable[[str], ContextManager[None]]) -> tuple[Any, FrameLabels]:
        """One camera's images and labels of the frame as the scene stands, with the camera where
        ``frame.camera`` says; ``tag`` keeps each rig camera's noise and rain its own."""
        backend, index = self.backend, frame.index
        with redirect_output(self.log_path):
            with stage("render"):
                backend.render()
            with stage("readback"):
                passes = backend.save_outputs(rgb_path)
                radiance = backend.read_combined() if frame.camera.bloom else None
            infrared = None
            if frame.nir is not None and "nir" in spec.outputs:
                with stage("render"):
                    infrared = backend.render_nir(frame)
            heat = None
            if frame.thermal is not None and "thermal" in spec.outputs:
                with stage("render"):
                    heat = backend.render_thermal(frame)
            right = None
            if frame.camera.stereo_baseline_m is not None:
                with stage("render"):
                    right_path = rgb_path.with_name(rgb_path.stem + "_right.png")
                    right = (right_path, backend.render_right(frame, right_path))
            if needs_label_pass(frame):
                # blurred, fogged or rained-on RGB: labels come from a clean 1-sample pinhole pass
                with stage("label_passes"):
                    passes = backend.render_labels()
            flow = None
            if frame.clip is not None and {"flow", "flow_float"} & set(spec.outputs):
                with stage("label_passes"):
                    flow = (passes.extra[VECTOR.name], *backend.render_neighbours())
            with stage("annotate"):
                plan = plan_frame(frame, self.geometry.hulls, self.bounds)
            with stage("label_passes"):  # the label pass's own rays cast at the meshes; a pass only where that cannot
                hidden = plan.hidden
                isolated, left = backend.cast_amodal(hidden, passes, {i: plan.window(i) for i in hidden})
                isolated.update(backend.render_isolated(*plan.passes(set(left))))
        rain = None
        if frame.sensor or frame.rainfall or frame.lens_drops or frame.snowfall_mm_h or radiance is not None or \
                (frame.fog and frame.fog.mode == "analytic"):
            with stage("sensor"):
                image = cv2.imread(str(rgb_path))
                K, w2c = np.array(frame.camera.K), np.array(frame.camera.world_to_camera)
                if frame.fog and frame.fog.mode == "analytic":
                    image = apply_fog(image, passes.depth, frame.fog.density, frame.fog.color, K, w2c,
                                      frame.fog.height_m)
                if frame.snowfall_mm_h:  # the flakes too far and small to draw, together: a white veil
                    image = apply_fog(image, passes.depth, extinction_per_m(frame.snowfall_mm_h), SNOW_VEIL, K, w2c)
                if frame.rainfall:  # the drops are nearer than the fogged scene behind them
                    fall = frame.rainfall
                    image, rain = add_rain(image, passes.depth, fall.rate_mm_h, fall.exposure_s, fall.wind, K, w2c,
                                           stage_rng(frame.seed, index, "rain" + tag),
                                           stage_rng(frame.seed, index, "splashes" + tag) if fall.splashes else None)
                if frame.lens_drops:  # on the glass: after the air and the falling rain, before the lens's glow
                    image, on_lens = add_lens_drops(image, frame.lens_drops)
                    rain = on_lens if rain is None else np.maximum(rain, on_lens)
                if radiance is not None:  # the lens's glow around over-white light: after the air, before the sensor
                    image = add_bloom(image, radiance * np.float32(2.0 ** frame.camera.exposure_ev), frame.camera.bloom)
                image = apply_sensor_effects(image, frame.sensor, stage_rng(frame.seed, index, "noise" + tag))
                cv2.imwrite(str(rgb_path), image)
        if infrared is not None:  # exposed as the RGB camera is (its auto-exposure included)
            passes.extra[NIR] = infrared * np.float32(2.0 ** frame.camera.exposure_ev)
        if heat is not None and frame.thermal is not None:
            passes.extra[THERMAL] = apparent_kelvin(heat, frame.thermal.blur_px, frame.thermal.noise_k,
                                                    stage_rng(frame.seed, index, "thermal_noise" + tag))
        if flow is not None:  # each way, valid where the neighbouring frame's flow comes back
            vector, before, after = flow
            surface = np.isfinite(passes.depth)
            ahead, behind = flow_outputs.forward(vector), flow_outputs.backward(vector)
            ok_ahead = flow_outputs.consistent(ahead, surface, flow_outputs.backward(after.extra[VECTOR.name]),
                                               np.isfinite(after.depth))
            ok_behind = flow_outputs.consistent(behind, surface, flow_outputs.forward(before.extra[VECTOR.name]),
                                                np.isfinite(before.depth))
            passes.extra[flow_outputs.FORWARD] = np.dstack([ahead, ok_ahead])
            passes.extra[flow_outputs.BACKWARD] = np.dstack([behind, ok_behind])
        if right is not None:  # the right view gets the same analytic fog and sensor, not rain (left only)
            with stage("sensor"):
                path, right_passes = right
                image = cv2.imread(str(path))
                path.unlink(missing_ok=True)
                if frame.fog and frame.fog.mode == "analytic":
                    w2c, _ = frame.camera.right_camera()
                    image = apply_fog(image, right_passes.depth, frame.fog.density, frame.fog.color,
                                      np.array(frame.camera.K), np.array(w2c), frame.fog.height_m)
                passes.extra[RIGHT] = apply_sensor_effects(image, frame.sensor,
                                                           stage_rng(frame.seed, index, "noise_right" + tag))
        with stage("annotate"):
            labels = annotate_frame(frame, plan, passes.instance, passes.depth, isolated, self.bounds,
                                    self.keypoints, spec, rain, len(self.spec.scenario.classes))
        return passes, labels

    def _settle(self, frame: FrameSpec) -> None:
        """Write the simulated resting poses into the frame, so labels and params describe what is rendered."""
        physics = self.spec.scenario.placement.physics
        objects, distractors = self.backend.settle(frame, physics.substeps if physics else 10)
        for obj, (location, rotation) in zip(frame.objects, objects):
            obj.location, obj.rotation_euler = location, rotation
        for prop, (location, rotation) in zip(solid_props(frame), distractors):
            prop.location, prop.rotation_euler = location, rotation

    def close(self) -> None:
        self.backend.close()
