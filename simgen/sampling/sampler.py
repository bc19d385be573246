"""Scenario + frame index -> FrameSpec, deterministically and without Blender.

Each stage (counts, objects, materials, placement, camera, lighting, lights, world, ground,
distractors, sensor) draws from its own generator seeded by (scenario seed, frame index,
stage name). Frame *i* is therefore the same whichever process renders it, and switching one
stage on or off leaves every other stage's draws untouched.
"""

from __future__ import annotations

import copy
import math
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from simgen.assets.files import expand_files
from simgen.assets.resolve import AssetRef
from simgen.assets.scene_assets import SceneAssets
from simgen.config.conditions import condition_fractions, conditions_of, variant
from simgen.config.scenario import ClassSpec, ColorHSV, MaterialSpec, Scenario, is_path_like
from simgen.errors import PlacementError
from simgen.sampling.frame_spec import (
    AssetBounds, CameraParams, DistractorParams, EnvironmentParams, FogParams, FrameSpec, GroundParams, LightParams,
    MaterialParams, ObjectSpec,
    CONTRAST_LN, PropParams, RainfallParams, SunParams, Support, ViewSpec, WorldParams, ClipInfo, solid_props)
from simgen.sampling.geometry import (
    camera_matrices, depths_in_frustum, euler_xyz_matrix, hsv_to_linear_rgb, intrinsics, kelvin_to_rgb, look_at_rotation, matrix_to_euler_xyz,
    orbit_location, project_points, random_rotation)
from simgen.plugins import CAMERA_POSES, PLACEMENTS
from simgen.sampling import snowfall
from simgen.sampling.camera_poses import PoseRequest
from simgen.sampling import clips, environment, nir, thermal
from simgen.sampling.environment import Layout
from simgen.sampling.env_placement import EnvironmentPlacer, Item, Rules, placement_order
from simgen.sampling.photometry import (
    auto_exposure_ev, daylight_illuminance, frame_illuminance, lamp_power, sun_illuminance, sun_strength)
from simgen.sampling.placement import Placed, PlacementRequest, footprint, scatter, shape_points, upright_yaw
from simgen.sampling.rig import view_camera

BACKDROP_ASSET = "primitive:plane"
RAIN_ASSET = "primitive:cylinder"
SNOW_ASSET = "primitive:sphere"
def stage_rng(seed: int, frame: int, stage: str) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, frame, zlib.crc32(stage.encode())])


def texture_patterns(scenario: Scenario) -> list[str]:
    """The ``textures:`` patterns of every material the scenario samples (objects, ground, backdrop, clutter)."""
    specs = [c.material for c in scenario.classes] + [scenario.ground.material]
    specs += [scenario.backdrop.material] if scenario.backdrop else []
    specs += [scenario.distractors.material] if scenario.distractors else []
    return list(dict.fromkeys(spec.textures for spec in specs if spec.textures))


def hdri_patterns(scenario: Scenario) -> list[str]:
    """World HDRIs given as files, folders or globs (the bundled ones are given by name)."""
    names = scenario.world.hdri.params if scenario.world.hdri is not None else ()
    return [str(name) for name in names if is_path_like(str(name))]


@dataclass
class _Draft:
    """An object whose identity is sampled but whose position may still be open."""

    cls: ClassSpec
    category_id: int
    asset: AssetRef
    scale: float
    rotation: tuple[float, float, float]
    position: tuple[float, float, float] | None


WIDE_ANGLE_MARGIN = 0.75  # zoomed out, objects off the axis look up to 1/cos^2 larger than f D / z says
TRUNCATION_STEPS = 25  # turns towards the asked share of a truncated object (each a Newton-like step)


def _near_middle(support: Support, reach: float) -> Support | None:
    """The part of a support within ``reach`` of the layout's middle along its own length (a street's
    objects stay where a camera can frame them), or None when none of it is."""
    yaw = math.radians(support.yaw_deg)
    axis = np.array([math.cos(yaw), math.sin(yaw)])
    middle = -float(np.asarray(support.centre) @ axis)  # where the origin falls along the support
    low, high = max(-support.size[0] / 2, middle - reach), min(support.size[0] / 2, middle + reach)
    if high - low < 0.5:
        return None
    centre = np.asarray(support.centre) + axis * (low + high) / 2
    return Support(support.name, (float(centre[0]), float(centre[1])), (high - low, support.size[1]), support.z,
                   support.yaw_deg, support.heading_deg)


def _lens_area(r1: float, r2: float, d: float) -> float:
    """Area shared by two discs of radii r1, r2 whose centres are d apart."""
    if d >= r1 + r2:
        return 0.0
    if d <= abs(r1 - r2):
        return math.pi * min(r1, r2) ** 2
    a = r1 * r1 * math.acos((d * d + r1 * r1 - r2 * r2) / (2 * d * r1))
    b = r2 * r2 * math.acos((d * d + r2 * r2 - r1 * r1) / (2 * d * r2))
    c = 0.5 * math.sqrt(max((-d + r1 + r2) * (d + r1 - r2) * (d - r1 + r2) * (d + r1 + r2), 0.0))
    return a + b - c


def _offset_for_coverage(r_target: float, r_occluder: float, coverage: float) -> float:
    """Centre offset at which the occluder disc covers ``coverage`` of the target disc (bisection)."""
    wanted = coverage * math.pi * r_target * r_target
    low, high = 0.0, r_target + r_occluder
    if _lens_area(r_target, r_occluder, 0.0) <= wanted:
        return 0.0  # too small to hide that much: cover what it can
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if _lens_area(r_target, r_occluder, middle) > wanted else (low, middle)
    return (low + high) / 2


def _hsv(spec: ColorHSV, rng: np.random.Generator) -> tuple[float, float, float]:
    return (spec.hue.sample(rng), spec.saturation.sample(rng), spec.value.sample(rng))


def _rotation(mode: str, rng: np.random.Generator) -> tuple[float, float, float]:
    if mode == "free":
        return matrix_to_euler_xyz(random_rotation(rng.random(), rng.random(), rng.random()))
    return upright_yaw(rng)


class FrameSampler:
    """Samples FrameSpecs for one scenario, given the assets the backend loaded."""

    def __init__(self, scenario: Scenario, assets: SceneAssets, bounds: dict[str, AssetBounds],
                 resolution: tuple[int, int], hulls: dict[str, np.ndarray] | None = None):
        self.scenario = scenario
        self.assets = assets
        self.bounds = bounds
        self.resolution = resolution
        self.hulls = hulls or {}  # asset vertices, so tumbled objects touch the ground exactly
        self.area, self.origin = self._placement_region()
        self._targets = condition_fractions(scenario)
        self._variants: dict[tuple[str, ...], FrameSampler] = {}
        self._clip: tuple[int, FrameSpec, clips.ClipMotion] | None = None  # the last clip's first frame and motion
        base = scenario.source_dir
        self._textures: dict[str, list[str]] = {}
        for pattern in texture_patterns(scenario):
            self._textures[pattern] = expand_files(pattern, base, "textures")
        self._hdris = {pattern: expand_files(pattern, base, "hdri") for pattern in hdri_patterns(scenario)}
        self._layouts: dict[int, Layout | None] = {}  # the last few layouts (a run walks them in order)
        self._order = placement_order(scenario.classes)

    def layout(self, index: int) -> Layout | None:
        """The environment of frame ``index``: layout index // every, generated once per layout."""
        spec = self.scenario.environment
        number = index // spec.every
        if number not in self._layouts:
            if len(self._layouts) > 4:
                self._layouts.pop(next(iter(self._layouts)))
            self._layouts[number] = environment.generate(spec, stage_rng(self.scenario.seed, number, "environment"))
        return self._layouts[number]

    def _placement_region(self) -> tuple[tuple[float, float], np.ndarray]:
        """Size of the area objects go in, and the point (x, y, z) at its centre: the ground, or a surface's top."""
        spec = self.scenario.placement
        if self.assets.surface is None:
            return spec.area or (1.0, 1.0), np.zeros(3)
        points = shape_points(self._shape(self.assets.surface.key))
        top = points[:, 2].max()
        face = points[points[:, 2] >= top - 0.01]
        lo, hi = face[:, :2].min(axis=0), face[:, :2].max(axis=0)
        area = spec.area or (float(hi[0] - lo[0]) * 0.9, float(hi[1] - lo[1]) * 0.9)
        return area, np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, top])

    def sample(self, index: int) -> FrameSpec:
        """Frame ``index``, with the conditions the coverage plan gives it applied. In a sequence, frame
        ``index`` is frame index % length of clip index // length: the clip's scene, moved in time, and
        the coverage plan counts clips."""
        sequence = self.scenario.sequence
        if sequence is None:
            return self._tagged(index, index)
        video, frame_id = divmod(index, sequence.length)
        start = video * sequence.length
        if self._clip is None or self._clip[0] != start:
            base = self._tagged(start, video)
            self._clip = (start, base, self._clip_motion(base, stage_rng(self.scenario.seed, start, "clip")))
        _, base, motion = self._clip
        frame = clips.frame_at(base, motion, index, ClipInfo(video, frame_id, sequence.length, sequence.fps),
                               sequence.shutter)
        baselines = [base.camera.stereo_baseline_m, *(view.camera.stereo_baseline_m for view in base.views)]
        frame.views = self._views(frame.camera, next((b for b in baselines if b is not None), None))
        return frame

    def _tagged(self, index: int, plan_index: int) -> FrameSpec:
        """Frame ``index`` sampled with the conditions the coverage plan gives its ``plan_index``."""
        tags = conditions_of(plan_index, self._targets, self.scenario.seed)
        if not tags:
            return self._sample(index, ())
        if tags not in self._variants:
            self._variants[tags] = FrameSampler(variant(self.scenario, tags), self.assets, self.bounds,
                                                self.resolution, self.hulls)
        return self._variants[tags]._sample(index, tags)

    def _clip_motion(self, base: FrameSpec, rng: np.random.Generator) -> clips.ClipMotion:
        """How the clip's camera and objects move (simgen/sampling/clips.py), drawn once per clip."""
        sequence = self.scenario.sequence
        assert sequence is not None
        camera = sequence.camera
        motion = clips.ClipMotion(float(camera.speed_mps.sample(rng)), math.radians(float(camera.turn_deg_s.sample(rng))),
                                  math.radians(float(camera.shake_deg.sample(rng))),
                                  rng.uniform(0, 2 * math.pi, (3, len(clips.SHAKE_HZ))).tolist(), [],
                                  math.radians(float(camera.orbit_deg_s.sample(rng))))
        motion.sun_deg_s = float(sequence.sun_deg_s.sample(rng))
        classes = {c.name: c for c in self.scenario.classes}
        for obj in base.objects:
            cls = classes[obj.class_name]
            motion.velocities.append(clips.heading_velocity(obj, cls.front, float(cls.speed_mps.sample(rng))))
            motion.flights.append((float(cls.drop_m.sample(rng)), float(cls.launch_mps.sample(rng))))
        return motion

    def _sample(self, index: int, conditions: tuple[str, ...]) -> FrameSpec:
        sc, seed = self.scenario, self.scenario.seed
        layout = self.layout(index)
        drafts = self._sample_objects(stage_rng(seed, index, "counts"), stage_rng(seed, index, "objects"))
        materials_rng = stage_rng(seed, index, "materials")
        materials = [self._material(d.cls.material, materials_rng, d.asset) for d in drafts]
        placer = None
        if layout is not None:
            placer = self._placer(layout, stage_rng(seed, index, "placement"))
            positions, dropped, taken = self._place_in(drafts, placer, index)
        else:
            positions, dropped, taken = self._place(drafts, stage_rng(seed, index, "placement"), index)
        if sc.placement.physics is not None:  # start above the resting pose; the simulation lets them fall
            drop_rng = stage_rng(seed, index, "physics")
            positions = [None if p is None else np.asarray(p) + [0, 0, float(sc.placement.physics.drop_height_m.sample(drop_rng))]
                         for p in positions]
        objects: list[ObjectSpec] = []
        for draft, material, position in zip(drafts, materials, positions):
            if position is None:
                continue
            objects.append(ObjectSpec(
                instance_id=len(objects) + 1, class_name=draft.cls.name, category_id=draft.category_id,
                asset=draft.asset.key, location=tuple(float(v) for v in position),
                rotation_euler=draft.rotation, scale=draft.scale, material=material))
        camera = self._camera(objects, stage_rng(seed, index, "camera"), layout)
        self._motion(camera, objects, stage_rng(seed, index, "motion"))
        sun = self._sun(camera, stage_rng(seed, index, "lighting"))
        frame = FrameSpec(
            index=index, seed=seed, objects=objects, camera=camera, sun=sun,
            world=self._world(stage_rng(seed, index, "world")),
            ground=GroundParams(sc.ground.enabled and layout is None, self._ground_size(camera),
                                self._material(sc.ground.material, stage_rng(seed, index, "ground"))),
            lights=self._lights(camera, objects, stage_rng(seed, index, "lights")),
            surface=self._surface(), backdrop=self._backdrop(camera, stage_rng(seed, index, "backdrop")),
            distractors=self._distractors(camera, taken, stage_rng(seed, index, "distractors"), objects, placer),
            sensor=self._sensor(stage_rng(seed, index, "sensor")),
            physics_steps=sc.placement.physics.steps if sc.placement.physics else 0,
            dropped=dropped, conditions=list(conditions))
        if layout is not None:
            self._environment(frame, layout, index)
        self._weather(frame, stage_rng(seed, index, "weather"))
        self._auto_exposure(frame, stage_rng(seed, index, "exposure"))
        wanted = sc.wanted_outputs()  # by the main camera or a rig camera
        if "nir" in wanted:
            frame.nir = self._nir(frame, stage_rng(seed, index, "nir"))
        if "thermal" in wanted:
            frame.thermal = self._thermal(frame, stage_rng(seed, index, "thermal"))
        if sc.camera.bloom is not None:
            camera.bloom = float(sc.camera.bloom.sample(stage_rng(seed, index, "bloom")))
        baseline = None
        if "stereo" in wanted:
            baseline = float(sc.camera.stereo_baseline_m.sample(stage_rng(seed, index, "stereo")))
        if "stereo" in sc.labels.outputs:
            camera.stereo_baseline_m = baseline
        frame.views = self._views(camera, baseline)
        return frame

    def _views(self, camera: CameraParams, baseline: float | None) -> list[ViewSpec]:
        """The rig's cameras where the main camera stands this frame (simgen/sampling/rig.py)."""
        views = []
        for name, outputs in list(self.scenario.camera_outputs().items())[1:]:
            rig = next(c for c in self.scenario.camera.rig if c.name == name)
            view = view_camera(camera, rig.position_m, rig.yaw_deg, rig.pitch_deg, rig.roll_deg, rig.focal_length_mm,
                               rig.fov_deg, rig.resolution)
            view.stereo_baseline_m = baseline if "stereo" in outputs else None
            views.append(ViewSpec(str(name), view, list(outputs)))
        return views

    def _nir(self, frame: FrameSpec, rng: np.random.Generator) -> nir.NirParams:
        """The near-infrared view: its illuminator and light shares, and every surface's reflectance."""
        spec = self.scenario.camera.nir
        params = nir.NirParams(*(float(d.sample(rng)) for d in (spec.illuminator_w, spec.cone_deg)), spec.offset_m,
                               *(float(d.sample(rng)) for d in (spec.sun_share, spec.sky_share, spec.lamp_share)))
        if spec.projector is not None:
            dots = spec.projector
            params.projector = nir.ProjectorParams(float(dots.power_w.sample(rng)), dots.offset_m, dots.fov_deg,
                                                   dots.dot_spacing_deg, dots.dot_size)
        classes = {c.name: c for c in self.scenario.classes}
        for obj in frame.objects:
            given = classes[obj.class_name].nir_reflectance
            params.objects.append(float(given.sample(rng)) if given is not None else nir.reflectance(obj.material))
        params.props = [nir.reflectance(p.material) for p in solid_props(frame)]
        params.ground = nir.reflectance(frame.ground.material)
        if frame.environment is not None:
            params.environment = {g: nir.family_reflectance(m) for g, m in frame.environment.materials.items()}
        return params

    def _thermal(self, frame: FrameSpec, rng: np.random.Generator) -> thermal.ThermalParams:
        """Every surface's temperature and emissivity, the air's and the sky's (simgen/sampling/thermal.py)."""
        spec = self.scenario.camera.thermal
        ambient = float(spec.ambient_c.sample(rng))
        params = thermal.ThermalParams(ambient, ambient - float(spec.sky_below_ambient_c.sample(rng)),
                                       float(spec.noise_k.sample(rng)), float(spec.blur_px.sample(rng)))
        classes = {c.name: c for c in self.scenario.classes}
        for obj in frame.objects:
            cls, draw = classes[obj.class_name], float(rng.random())
            temperature = float(cls.temperature_c.sample(rng)) if cls.temperature_c is not None else \
                thermal.class_temperature(obj.class_name, ambient, draw)
            emissivity = float(cls.emissivity.sample(rng)) if cls.emissivity is not None else \
                (0.3 if obj.material.metallic > 0.5 else 0.95)
            params.objects.append((temperature, emissivity))
            draws = (float(rng.random()), float(rng.random()))
            given = {part: float(d.sample(rng)) for part, d in (cls.parts_c or {}).items()}
            lit = frame.environment.lamps_on if frame.environment is not None else "night" in frame.conditions
            params.parts.append(thermal.part_temperatures(obj.class_name, (temperature, emissivity), ambient, lit,
                                                          draws, given))
        params.props = [(ambient, 0.95) for _ in solid_props(frame)]
        sun = frame.sun
        load = thermal.solar_load(sun_illuminance(sun.strength) * max(math.sin(math.radians(sun.elevation_deg)), 0.0)
                                  if sun is not None else 0.0)
        params.ground = thermal.surface_temperature("concrete", "ground", ambient, load,
                                                    frame.ground.material.wetness, False)
        env = frame.environment
        if env is not None:
            params.environment = {g: thermal.surface_temperature(m.family, g, ambient, load if env.outdoors else 0.0,
                                                                 m.wetness, env.lamps_on)
                                  for g, m in env.materials.items()}
        return params

    def _auto_exposure(self, frame: FrameSpec, rng: np.random.Generator) -> None:
        """Exposure for the light where the camera looks, within the camera's limits; the gain shows as noise."""
        spec = self.scenario.camera.auto_exposure
        if spec is None:
            return
        boost, cut, noise = (float(spec.max_boost_ev.sample(rng)), float(spec.max_cut_ev.sample(rng)),
                             float(spec.gain_noise.sample(rng)))
        key = frame_illuminance(frame, self._subject(frame.camera, frame.objects))
        ev = auto_exposure_ev(key, boost, cut)
        frame.camera.exposure_ev += ev
        if ev > 0:
            frame.sensor["noise"] = max(frame.sensor.get("noise", 0.0), noise * 2 ** (ev / 2))

    # ------------------------------------------------------------------ objects and placement
    def _sample_objects(self, counts_rng: np.random.Generator, rng: np.random.Generator) -> list[_Draft]:
        multiplier = float(self.scenario.placement.count_multiplier.sample(counts_rng))
        counts = [int(round(c.count.sample(counts_rng) * multiplier)) for c in self.scenario.classes]
        drafts = []
        for category_id, (cls, count) in enumerate(zip(self.scenario.classes, counts), start=1):
            refs = self.assets.classes[cls.name]
            for _ in range(count):
                asset = refs[int(rng.integers(len(refs)))] if len(refs) > 1 else refs[0]
                scale = float(cls.scale.sample(rng))
                if cls.size_m is not None:
                    scale *= float(cls.size_m.sample(rng)) / max(self.bounds[asset.key].size)
                if cls.rotation_deg is None:
                    rotation = _rotation(self.scenario.placement.rotation or cls.rotation, rng)
                else:
                    rotation = tuple(math.radians(float(a.sample(rng))) for a in
                                     (cls.rotation_deg.x, cls.rotation_deg.y, cls.rotation_deg.z))
                position = None
                if cls.position is not None:
                    position = tuple(float(a.sample(rng)) for a in (cls.position.x, cls.position.y, cls.position.z))
                drafts.append(_Draft(cls, category_id, asset, scale, rotation, position))  # type: ignore[arg-type]
        return drafts

    def _shape(self, key: str) -> AssetBounds | np.ndarray:
        return self.hulls.get(key, self.bounds[key])

    def _material(self, spec: MaterialSpec, rng: np.random.Generator, asset: AssetRef | None = None) -> MaterialParams:
        """Every material draws the same number of values whatever its mode, so modes can be switched freely.

        An asset whose catalog says ``material: keep`` keeps its look unless the class sets a mode itself.
        """
        mode = str(spec.mode.sample(rng))
        if asset is not None and asset.material == "keep" and "mode" not in spec.model_fields_set:
            mode = "keep"
        hsv, hsv2 = _hsv(spec.color, rng), _hsv(spec.color, rng)
        roughness, metallic = float(spec.roughness.sample(rng)), float(spec.metallic.sample(rng))
        pattern, scale, bump = str(spec.pattern.sample(rng)), float(spec.pattern_scale.sample(rng)), float(spec.bump.sample(rng))
        textures = self._textures.get(spec.textures or "", [])
        texture_pick = int(rng.integers(len(textures))) if textures else 0
        j = spec.jitter
        jitter = tuple(float(amount * rng.uniform(-1, 1))
                       for amount in (j.hue, j.saturation, j.value, j.roughness, j.metallic))
        return MaterialParams(
            mode=mode, base_color=hsv_to_linear_rgb(*hsv), hsv=hsv, roughness=roughness, metallic=metallic,
            second_color=hsv_to_linear_rgb(*hsv2), pattern=pattern, pattern_scale=scale, bump=min(bump, 1.0),
            texture=textures[texture_pick] if mode == "image" else None,
            jitter=jitter if mode == "jitter" else (0.0,) * 5)  # type: ignore[arg-type]

    def _placer(self, layout: Layout, rng: np.random.Generator) -> EnvironmentPlacer:
        """Supports, walls and obstacles of the layout; along a street, objects stay within placement.area's
        length (default 40 m) of its middle, where a camera can frame them."""
        spec = self.scenario.placement
        supports = list(layout.supports)
        if layout.type == "street":
            reach = spec.area[0] / 2 if spec.area else 20.0
            supports = [clipped for s in supports if (clipped := _near_middle(s, reach)) is not None]
        table = next((s for s in layout.supports if s.name == "table"), None)
        centre = table.centre if table is not None else (0.0, 0.0)
        return EnvironmentPlacer(supports, layout.walls, layout.obstacles, environment.DEFAULT_SUPPORT[layout.type],
                                 centre, spec.min_gap, spec.max_tries, rng)

    def _place_in(self, drafts: list[_Draft], placer: EnvironmentPlacer, index: int):
        """Objects on their supports, classes that others stand on or face first, larger objects first."""
        order = sorted(range(len(drafts)), key=lambda i: (self._order.get(drafts[i].cls.name, 0),
                                                          -max(self.bounds[drafts[i].asset.key].size) * drafts[i].scale))
        positions: list = [d.position for d in drafts]
        for i in order:
            draft = drafts[i]
            if draft.position is not None:
                continue
            points = shape_points(self._shape(draft.asset.key)) * draft.scale
            spot = placer.place(Item(draft.cls, points, draft.rotation))
            if spot is not None:
                positions[i], draft.rotation = spot.location, spot.rotation
        dropped = [drafts[i].cls.name for i, p in enumerate(positions) if p is None]
        if dropped and self.scenario.placement.on_failure == "error":
            rules = sorted({f"{d.cls.name}: {d.cls.stands_on or 'default support'}"
                            + (" against wall" if d.cls.against else "") for d, p in zip(drafts, positions) if p is None})
            raise PlacementError(
                f"frame {index}: could not place {len(dropped)} of {len(drafts)} objects in the "
                f"{self.scenario.environment.type} ({'; '.join(rules)}; {self.scenario.placement.max_tries} tries "
                f"each); lower the counts or sizes, choose other supports, or set placement.on_failure: drop")
        return positions, dropped, []

    def _environment(self, frame: FrameSpec, layout: Layout, index: int) -> None:
        """The frame's view of its layout: lamps on or off (and their glow), materials it may wet."""
        spec = self.scenario.environment.lamps
        daylight = daylight_illuminance(frame.sun, frame.world) * layout.daylight_factor
        on = spec.on == "always" or (spec.on == "auto" and (layout.type != "street" or daylight < 1000.0))
        materials = copy.deepcopy(layout.materials)
        for group in layout.lit_groups:
            if group in materials:
                materials[group].emission = environment.glow(group, layout) if on else 0.0
        frame.environment = EnvironmentParams(
            type=layout.type, layout=index // self.scenario.environment.every, key=layout.key, summary=layout.summary,
            materials=materials, pieces=layout.pieces, supports=layout.supports, walls=layout.walls,
            free_space=layout.free_space, obstacles=layout.obstacles, lamps=list(layout.lamps) if on else [],
            lamps_on=on, daylight_factor=layout.daylight_factor, outdoors=layout.outdoors)
        if on:
            frame.lights = frame.lights + list(layout.lamps)

    def _place(self, drafts: list[_Draft], rng: np.random.Generator, index: int):
        spec, area = self.scenario.placement, self.area
        footprints = [footprint(self._shape(d.asset.key), d.rotation, d.scale) for d in drafts]
        pinned = [Placed(np.array(d.position[:2]) - self.origin[:2] + fp.centre_offset, fp.radius)
                  for d, fp in zip(drafts, footprints) if d.position is not None]
        free = [i for i, d in enumerate(drafts) if d.position is None]
        free_footprints = [footprints[i] for i in free]
        placed = PLACEMENTS.get(spec.mode)(PlacementRequest(free_footprints, area, spec, rng, pinned))
        if len(placed.spots) != len(free_footprints):
            raise PlacementError(f"placement mode '{spec.mode}' returned {len(placed.spots)} spots for "
                                 f"{len(free_footprints)} objects")
        spots, taken = [None if s is None else np.asarray(s, float) + self.origin for s in placed.spots], placed.taken
        positions: list = [d.position for d in drafts]
        for i, spot in zip(free, spots):
            positions[i] = spot
        dropped = [drafts[i].cls.name for i, p in enumerate(positions) if p is None]
        if dropped and spec.on_failure == "error":
            raise PlacementError(
                f"frame {index}: could not place {len(dropped)} of {len(drafts)} objects "
                f"({', '.join(sorted(set(dropped)))}) in a {self.area[0]:.2f} x {self.area[1]:.2f} m area with "
                f"min_gap {spec.min_gap} m ({spec.mode}, {spec.max_tries} tries each); enlarge placement.area, lower "
                f"the counts or scales, or set placement.on_failure: drop")
        return positions, dropped, taken

    # ------------------------------------------------------------------ camera
    def _camera(self, objects: list[ObjectSpec], rng: np.random.Generator, layout: Layout | None = None) -> CameraParams:
        spec = self.scenario.camera
        width, height = self.resolution
        focal = float(spec.focal_length_mm.sample(rng))
        if spec.fov_deg is not None:
            focal = spec.sensor_width_mm / (2 * math.tan(math.radians(float(spec.fov_deg.sample(rng))) / 2))
        K = intrinsics(focal, spec.sensor_width_mm, width, height)
        shift = (0.0, 0.0)
        if spec.K is not None:
            focal = spec.K.fx * spec.sensor_width_mm / width
            K = np.array([[spec.K.fx, 0, spec.K.cx], [0, spec.K.fx, spec.K.cy], [0, 0, 1.0]])
            shift = (((width - 1) / 2 - spec.K.cx) / width, (spec.K.cy - (height - 1) / 2) / width)
        centres = self._object_centres(objects)
        lens = focal, K
        for tries in range(1, spec.max_pose_tries + 1):
            focal, K = lens
            location, target, roll = self._pose(objects, rng, float(K[0, 0]), layout)
            pixels = None
            if spec.max_object_pixels is not None and objects:
                pixels = float(spec.max_object_pixels.sample(rng))
                location = self._backed_off(location, target, objects, float(K[0, 0]), pixels)
            if layout is not None:  # inside the room or street: never in a wall, a table or an object
                inside = self._into_free_space(location, target, layout, objects)
                if inside is None and tries < spec.max_pose_tries:
                    continue
                location = inside if inside is not None else location
                if pixels is not None and self._straddled(location, target, objects) and tries < spec.max_pose_tries:
                    continue  # an object beside the camera is never small: stand elsewhere
                if pixels is not None and spec.K is None:  # walls stopped the backing off: zoom out instead
                    wanted = self._widest_focal(location, target, objects, pixels)
                    if wanted < K[0, 0]:
                        focal *= wanted / K[0, 0]
                        K = intrinsics(focal, spec.sensor_width_mm, width, height)
            if np.linalg.norm(np.asarray(target, float) - np.asarray(location, float)) < 1e-6:
                raise PlacementError(f"the camera sits on the point it looks at ({np.round(location, 6).tolist()}); "
                                     f"give it a distance from the objects (camera.orbit.distance, camera.fixed)")
            matrix_world, world_to_camera = camera_matrices(location, look_at_rotation(location, target, roll))
            if spec.min_in_view <= 0 or not objects or self._in_view(centres, K, world_to_camera) >= spec.min_in_view:
                break
        cut = None
        if spec.truncate_share is not None and objects:
            share, which, side = (float(spec.truncate_share.sample(rng)), int(rng.integers(len(objects))),
                                  int(rng.integers(4)))
            cut = (objects[which].instance_id, share)
            target = self._truncating(location, np.asarray(target, float), roll, objects[which], K, share, side)
            matrix_world, world_to_camera = camera_matrices(location, look_at_rotation(location, target, roll))
        exposure = float(spec.exposure_ev.sample(rng))
        view_transform = None if spec.view_transform is None else str(spec.view_transform.sample(rng))
        f_stop = focus = None
        dof_draw, f_stop_draw, focus_draw = rng.random(), float(spec.dof.f_stop.sample(rng)), float(
            spec.dof.focus_distance_m.sample(rng))
        if dof_draw < spec.dof.p:
            f_stop = f_stop_draw
            focus = float(np.linalg.norm(np.array(target) - location)) if spec.dof.focus == "objects" else focus_draw
        return CameraParams(
            location=tuple(float(v) for v in location), matrix_world=matrix_world.tolist(),
            focal_length_mm=focal, sensor_width_mm=spec.sensor_width_mm, resolution=(width, height),
            K=K.tolist(), world_to_camera=world_to_camera.tolist(), look_at=tuple(float(v) for v in target),
            shift=shift, exposure_ev=exposure, view_transform=view_transform, f_stop=f_stop,
            focus_distance_m=focus, pose_tries=tries, truncated=cut[0] if cut else None,
            truncated_share=cut[1] if cut else None)

    def _pose(self, objects: list[ObjectSpec], rng: np.random.Generator, focal_px: float,
              layout: Layout | None = None):
        name, options = self.scenario.camera.sampler
        sizes = np.array([max(self.bounds[o.asset].size) * o.scale for o in objects], float)
        request = PoseRequest(options, self.scenario.camera, objects, self._object_centres(objects), sizes, focal_px,
                              self.resolution, rng, layout.supports if layout is not None else [],
                              layout.free_space if layout is not None else [])
        pose = CAMERA_POSES.get(name).sample(request)
        return np.asarray(pose.location, float), np.asarray(pose.look_at, float), float(pose.roll_deg)

    def _into_free_space(self, location: np.ndarray, target: np.ndarray, layout: Layout,
                         objects: list[ObjectSpec]) -> np.ndarray | None:
        """The point nearest ``location`` on the way to ``target`` where the camera may stand: inside the
        layout's free space, outside its obstacles and outside every object's bounding sphere."""
        spheres = [(centre, float(np.linalg.norm(self.bounds[o.asset].size)) * o.scale / 2 + 0.1)
                   for centre, o in zip(self._object_centres(objects), objects)]
        for t in np.linspace(1.0, 0.05, 40):
            point = target + t * (location - target)
            if not any(np.all(point >= lo) and np.all(point <= hi) for lo, hi in layout.free_space):
                continue
            if any(np.all(point >= np.array(lo) - 0.15) and np.all(point <= np.array(hi) + 0.15)
                   for lo, hi in layout.obstacles):
                continue
            if any(float(np.linalg.norm(point - c)) < r for c, r in spheres):
                continue
            return point
        return None

    def _truncating(self, location: np.ndarray, target: np.ndarray, roll: float, obj: ObjectSpec, K: np.ndarray,
                    share: float, side: int) -> np.ndarray:
        """A look-at point that turns the camera until ``share`` of the object's box lies past one image edge
        (side 0-3: left, right, top, bottom): truncation defined by its effect, the same at any scale."""
        width, height = self.resolution
        points = (shape_points(self._shape(obj.asset)) * obj.scale) @ euler_xyz_matrix(*obj.rotation_euler).T \
            + np.array(obj.location)
        for _ in range(TRUNCATION_STEPS):  # turning changes the perspective: converge to half a pixel
            _, world_to_camera = camera_matrices(location, look_at_rotation(location, target, roll))
            uv = project_points(points, K, world_to_camera) + 0.5
            (x0, y0), (x1, y1) = uv.min(0), uv.max(0)
            inside_x = max(x1 - width, 0.0) + min(x0, 0.0)  # and no cut by the other edges
            inside_y = max(y1 - height, 0.0) + min(y0, 0.0)
            if side == 0:
                shift = np.array([x0 + share * (x1 - x0), inside_y])
            elif side == 1:
                shift = np.array([x1 - share * (x1 - x0) - width, inside_y])
            elif side == 2:
                shift = np.array([inside_x, y0 + share * (y1 - y0)])
            else:
                shift = np.array([inside_x, y1 - share * (y1 - y0) - height])
            if np.abs(shift).max() < 0.5:
                break
            depth = float((world_to_camera[:3, :3] @ target + world_to_camera[:3, 3])[2])
            centre = np.array([K[0, 2], K[1, 2]]) + shift  # the image point that becomes the centre
            ray = np.linalg.solve(K, [centre[0], centre[1], 1.0])
            target = location + world_to_camera[:3, :3].T @ (ray / ray[2]) * depth
        return target

    def _backed_off(self, location: np.ndarray, target: np.ndarray, objects: list[ObjectSpec], focal_px: float,
                    pixels: float) -> np.ndarray:
        """The camera moved back along its line of sight until each object's bounding sphere, seen from
        its depth in front of the camera, spans at most ``pixels``: a sphere of diameter D at depth z
        spans about f D / z pixels, so each needs z >= f D / pixels."""
        forward = (np.asarray(target, float) - location) / np.linalg.norm(np.asarray(target, float) - location)
        centres = self._object_centres(objects)
        diameters = np.array([np.linalg.norm(self.bounds[o.asset].size) * o.scale for o in objects])
        depths = (centres - location) @ forward
        needed = focal_px * diameters / pixels + diameters / 2  # the near side of the sphere counts
        return location - forward * max(float(np.max(needed - depths)), 0.0)

    def _straddled(self, location: np.ndarray, target: np.ndarray, objects: list[ObjectSpec]) -> bool:
        """Whether some object reaches across the camera's image plane (its hull on both sides of it)."""
        forward = (np.asarray(target, float) - location) / np.linalg.norm(np.asarray(target, float) - location)
        for obj in objects:
            points = (shape_points(self._shape(obj.asset)) * obj.scale) @ euler_xyz_matrix(*obj.rotation_euler).T
            depth = (points + np.array(obj.location) - location) @ forward
            if depth.min() < 0.05 and depth.max() > 0:
                return True
        return False

    def _widest_focal(self, location: np.ndarray, target: np.ndarray, objects: list[ObjectSpec],
                      pixels: float) -> float:
        """The focal length in pixels at which every object's bounding sphere spans at most ``pixels``
        from where the camera stands (the inverse of _backed_off: z f / D)."""
        forward = (np.asarray(target, float) - location) / np.linalg.norm(np.asarray(target, float) - location)
        centres = self._object_centres(objects)
        diameters = np.array([np.linalg.norm(self.bounds[o.asset].size) * o.scale for o in objects])
        depths = np.maximum((centres - location) @ forward - diameters / 2, 1e-3)
        return float(np.min(WIDE_ANGLE_MARGIN * pixels * depths / diameters))

    def _motion(self, camera: CameraParams, objects: list[ObjectSpec], rng: np.random.Generator) -> None:
        """Motion blur: a shutter time, and horizontal velocities for the camera and each object."""
        spec = self.scenario.camera.motion_blur
        on, shutter = rng.random() < spec.p, float(spec.shutter.sample(rng))

        def velocity(speed: float) -> tuple[float, float, float]:
            heading = rng.uniform(0, 2 * math.pi)
            return (speed * math.cos(heading), speed * math.sin(heading), 0.0)

        camera_velocity = velocity(float(spec.camera_speed_mps.sample(rng)))
        object_velocities = [velocity(float(spec.object_speed_mps.sample(rng))) for _ in objects]
        if on:
            camera.shutter, camera.velocity = shutter, camera_velocity
            for obj, v in zip(objects, object_velocities):
                obj.velocity = v

    def _in_view(self, centres: np.ndarray, K: np.ndarray, world_to_camera: np.ndarray) -> float:
        depth = centres @ world_to_camera[2, :3] + world_to_camera[2, 3]
        uv = project_points(centres, K, world_to_camera) + 0.5
        width, height = self.resolution
        inside = (depth > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < width) & (uv[:, 1] >= 0) & (uv[:, 1] < height)
        return float(inside.mean())

    def _object_centres(self, objects: list[ObjectSpec]) -> np.ndarray:
        centres = []
        for obj in objects:
            b = self.bounds[obj.asset]
            centres.append(np.array(obj.location) + np.array([0, 0, obj.scale * (b.minimum[2] + b.maximum[2]) / 2]))
        return np.array(centres).reshape(-1, 3)

    # ------------------------------------------------------------------ light and world
    def _sun(self, camera: CameraParams, rng: np.random.Generator) -> SunParams | None:
        spec = self.scenario.sun
        if spec is None:
            return None
        kelvin = float(spec.color_temperature_k.sample(rng))
        elevation, azimuth = float(spec.elevation_deg.sample(rng)), float(spec.azimuth_deg.sample(rng))
        if spec.facing_camera:  # azimuth is an offset from where the camera looks
            forward = np.array(camera.look_at) - np.array(camera.location)
            azimuth += math.degrees(math.atan2(forward[1], forward[0]))
        strength = float(spec.strength.sample(rng))
        angle = float(spec.angle_deg.sample(rng))
        if spec.illuminance_lux is not None:
            strength = sun_strength(float(spec.illuminance_lux.sample(rng)))
        return SunParams(elevation_deg=elevation, azimuth_deg=azimuth, strength=strength, color_temperature_k=kelvin,
                         color=kelvin_to_rgb(kelvin), angle_deg=angle)

    @staticmethod
    def sees_past_ground(frame: FrameSpec) -> bool:
        """Whether some view ray that points below the horizon meets the ground's plane beyond its edge."""
        if not frame.ground.enabled:
            return False
        width, height = frame.camera.resolution
        K, world_to_camera = np.array(frame.camera.K), np.array(frame.camera.world_to_camera)
        u, v = np.meshgrid(np.linspace(0, width - 1, 16), np.linspace(0, height - 1, 12))
        rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1).reshape(-1, 3)
        world = rays @ world_to_camera[:3, :3]  # rotation transposed: camera -> world directions
        eye = np.asarray(frame.camera.location, float)
        down = world[:, 2] < -1e-9
        if eye[2] <= 0 or not down.any():
            return False
        hits = eye[:2] + world[down, :2] * (eye[2] / -world[down, 2:3])
        return bool((np.abs(hits).max(axis=1) > frame.ground.size / 2).any())

    def _ground_size(self, camera: CameraParams) -> float:
        """The ground plane's edge length: the scenario's, or more, so the camera never sees past its edge.
        An edge 200 camera heights away sits 0.3 degrees below the horizon, under the world's own horizon."""
        spec = self.scenario.ground
        if not spec.fit_view:
            return spec.size
        eye = np.asarray(camera.location, float)
        reach = min(200.0 * max(float(eye[2]), 0.05), 20_000.0)
        return float(max(spec.size, 2.0 * (max(abs(eye[0]), abs(eye[1])) + reach)))

    def _subject(self, camera: CameraParams, objects: list[ObjectSpec]) -> np.ndarray:
        """Where the labeled objects are (their centre), else the camera's look-at point: what lamps light
        and exposure is set for (a band camera's look-at point is just a step ahead of it)."""
        return self._object_centres(objects).mean(axis=0) if objects else np.array(camera.look_at, float)

    def _lights(self, camera: CameraParams, objects: list[ObjectSpec], rng: np.random.Generator) -> list[LightParams]:
        spec = self.scenario.lights
        if spec is None:
            return []
        target = self._subject(camera, objects)
        lights = []
        reach = float(np.linalg.norm(np.asarray(camera.location, float) - target))  # for relative_distance
        for _ in range(int(spec.count.sample(rng))):
            kind = str(spec.type.sample(rng))
            distance = float(spec.distance.sample(rng))
            elevation, azimuth = float(spec.elevation_deg.sample(rng)), float(spec.azimuth_deg.sample(rng))
            if spec.relative_distance is not None:
                distance = float(spec.relative_distance.sample(rng)) * reach
            location = orbit_location(target, distance, elevation, azimuth)
            kelvin = float(spec.color_temperature_k.sample(rng))
            power = float(spec.power_w.sample(rng))
            size, angle = float(spec.size_m.sample(rng)), float(spec.spot_angle_deg.sample(rng))
            if spec.illuminance_lux is not None:  # the lux it gives where the camera looks, at any scale
                power = lamp_power(float(spec.illuminance_lux.sample(rng)), float(np.linalg.norm(location - target)),
                                   kind)
            lights.append(LightParams(
                type=kind, location=tuple(float(v) for v in location), target=tuple(float(v) for v in target),
                power_w=power, color_temperature_k=kelvin, color=kelvin_to_rgb(kelvin),
                size_m=size, spot_angle_deg=angle))
        eye = np.array(camera.location)
        right = np.array(camera.matrix_world)[:3, 0]
        for index in range(int(spec.camera_spots.sample(rng))):  # a car's headlights, a head torch
            side = (-1) ** index * float(rng.uniform(0.3, 0.8))
            location = eye + side * right + np.array([0, 0, -float(rng.uniform(0.1, 0.5))])
            kelvin = float(rng.uniform(4000, 6500))
            power, angle = float(rng.uniform(200, 800)), float(rng.uniform(30, 50))
            if spec.illuminance_lux is not None:
                power = lamp_power(float(spec.illuminance_lux.sample(rng)), float(np.linalg.norm(location - target)),
                                   "spot")
            lights.append(LightParams(
                type="spot", location=tuple(float(v) for v in location), target=tuple(float(v) for v in target),
                power_w=power, color_temperature_k=kelvin, color=kelvin_to_rgb(kelvin),
                size_m=0.05, spot_angle_deg=angle))
        return lights

    def _world(self, rng: np.random.Generator) -> WorldParams:
        spec = self.scenario.world
        kind = str(spec.type.sample(rng))
        hdri = None if spec.hdri is None else str(spec.hdri.sample(rng))
        if hdri in self._hdris:
            files = self._hdris[hdri]
            hdri = files[int(rng.integers(len(files)))]
        else:
            rng.integers(1)  # keep the draw count independent of the HDRI source
        color = spec.color
        rgb = hsv_to_linear_rgb(*_hsv(color, rng)) if isinstance(color, ColorHSV) else tuple(color)
        if hdri is None and kind == "hdri":
            kind = "color"
        return WorldParams(type=kind, hdri=hdri if kind == "hdri" else None, strength=float(spec.strength.sample(rng)),
                           rotation_deg=float(spec.rotation_deg.sample(rng)), color=rgb)

    # ------------------------------------------------------------------ distractors and sensor
    def _distractors(self, camera: CameraParams, taken: list[Placed], rng: np.random.Generator,
                     objects: list[ObjectSpec], placer: EnvironmentPlacer | None = None) -> list[DistractorParams]:
        spec = self.scenario.distractors
        if spec is None:
            return []
        result = []
        occupied = list(taken)
        area = self.area
        for _ in range(int(spec.count.sample(rng))):
            shape = str(spec.shapes.sample(rng))
            refs = self.assets.distractors[shape]
            ref = refs[int(rng.integers(len(refs)))]
            base, deform = float(spec.scale.sample(rng)), float(spec.deform.sample(rng))
            scale = tuple(base * (1 + deform * float(rng.uniform(-1, 1))) for _ in range(3))
            rotation = _rotation("free", rng)
            material = self._material(spec.material, rng)
            near = bool(rng.random() < spec.near_camera)
            u, v, t = rng.uniform(0.15, 0.85), rng.uniform(0.15, 0.85), rng.uniform(0.3, 0.6)
            fp = footprint(self._shape(ref.key), rotation, scale)  # type: ignore[arg-type]
            aim = (float(spec.target_visibility.sample(rng)), int(rng.integers(max(len(objects), 1))),
                   float(rng.uniform(0, 2 * math.pi))) if spec.target_visibility is not None else None
            aimed_at = aimed_visibility = None
            if near and aim is not None and objects:
                aimed_visibility, target = aim[0], objects[aim[1]]
                aimed_at = target.instance_id
                location = self._occluding(camera, target, ref.key, scale, t, aimed_visibility, aim[2])
            elif near:
                location = self._in_front_of_camera(camera, u, v, t)
            elif placer is not None:  # on the environment's default support, clear of everything placed
                spot = placer.place(Item(Rules("_distractor"), shape_points(self._shape(ref.key)) * np.asarray(scale),
                                         rotation))
                if spot is None:
                    continue
                location, rotation = spot.location, spot.rotation
            else:
                (spot,), occupied = scatter([fp], area, self.scenario.placement.min_gap,
                                            self.scenario.placement.max_tries, rng, occupied)
                if spot is None:
                    continue
                location = spot + self.origin
            result.append(DistractorParams(asset=ref.key, location=tuple(float(c) for c in location),
                                           rotation_euler=rotation, scale=scale, material=material,  # type: ignore
                                           static=near, near_camera=near, aimed_at=aimed_at,
                                           aimed_visibility=aimed_visibility))
        return result

    def _occluding(self, camera: CameraParams, target: ObjectSpec, asset: str, scale: tuple[float, float, float],
                   t: float, visibility: float, heading: float) -> np.ndarray:
        """Where an occluder at a fraction t of the way to ``target`` hides about 1 - visibility of it.

        Both are treated as discs in the image (radii from their hulls); the offset between their
        centres that gives the wanted overlap follows from the lens area of two circles.
        """
        K, world_to_camera = np.array(camera.K), np.array(camera.world_to_camera)
        points = shape_points(self._shape(target.asset))
        rotation = euler_xyz_matrix(*target.rotation_euler)
        world = (points * target.scale) @ rotation.T + np.array(target.location)
        uv = project_points(world, K, world_to_camera)
        centre, r_target = (uv.min(0) + uv.max(0)) / 2, float(np.sqrt(np.prod(uv.max(0) - uv.min(0)) / np.pi))
        target_depth = float((world_to_camera[:3, :3] @ world.mean(0) + world_to_camera[:3, 3])[2])
        own_points = shape_points(self._shape(asset))
        radius_m = float(np.max(np.linalg.norm(own_points * np.asarray(scale), axis=1)))  # its bounding sphere
        coverage = 1.0 - visibility
        # an occluder too small to hide that much at depth t moves nearer the camera until it can
        needed_px = 1.05 * r_target * math.sqrt(max(coverage, 1e-6))
        depth = max(min(t * target_depth, K[0, 0] * radius_m / needed_px), 0.05 + radius_m)
        r_occluder = float(K[0, 0] * radius_m / depth)
        offset = _offset_for_coverage(r_target, r_occluder, coverage)
        image = centre + offset * np.array([math.cos(heading), math.sin(heading)]) + 0.5
        width, height = camera.resolution
        return self._ray_point(camera, image[0] / width, image[1] / height, depth)

    def _surface(self) -> PropParams | None:
        """The placement surface as an unlabeled object at the pose its file gives it."""
        if self.assets.surface is None:
            return None
        keep = MaterialParams(mode="keep", base_color=(0.5, 0.5, 0.5), hsv=(0.0, 0.0, 0.5), roughness=0.5, metallic=0.0)
        return PropParams(asset=self.assets.surface.key, location=(0.0, 0.0, 0.0), rotation_euler=(0.0, 0.0, 0.0),
                          scale=(1.0, 1.0, 1.0), material=keep, static=True, stuff="table")

    def _backdrop(self, camera: CameraParams, rng: np.random.Generator) -> PropParams | None:
        """A plane behind the look-at point, facing the camera, filling the background."""
        spec = self.scenario.backdrop
        if spec is None:
            return None
        shown, distance, size = rng.random() < spec.p, float(spec.distance_m.sample(rng)), float(spec.size_m.sample(rng))
        material = self._material(spec.material, rng)
        if not shown:
            return None
        target, eye = np.array(camera.look_at), np.array(camera.location)
        away = (target - eye) / np.linalg.norm(target - eye)
        centre = target + distance * away
        facing = look_at_rotation(centre, centre + away)  # its +Z (the plane's normal) points back at the camera
        return PropParams(asset=BACKDROP_ASSET, location=tuple(float(v) for v in centre),
                          rotation_euler=matrix_to_euler_xyz(facing), scale=(size, size, 1.0), material=material,
                          static=True, stuff="wall")

    def _weather(self, frame: FrameSpec, rng: np.random.Generator) -> None:
        """Fog, rain and snow: wet or snowy materials everywhere, and falling streaks or flakes in view."""
        spec = self.scenario.weather
        if spec.fog is not None:
            fog = spec.fog
            color = fog.color
            rgb = hsv_to_linear_rgb(*_hsv(color, rng)) if isinstance(color, ColorHSV) else tuple(color)
            frame.fog = FogParams(mode=fog.mode, density=self._fog_density(fog, frame.camera, rng), color=rgb,  # type: ignore
                                  anisotropy=float(fog.anisotropy.sample(rng)),
                                  height_m=self._fog_height(fog, frame.camera, rng))
        wetness = float(np.clip(spec.rain.wetness.sample(rng), 0, 1)) if spec.rain else 0.0
        cover = float(np.clip(spec.snow.cover.sample(rng), 0, 1)) if spec.snow else 0.0
        env = frame.environment
        if env is not None and not env.outdoors:
            # indoors: fog may fill the room, but nothing gets rained or snowed on, so no frame says it is
            frame.conditions = [tag for tag in frame.conditions if tag not in ("rain", "snow")]
            return
        materials = [o.material for o in frame.objects] + [p.material for p in solid_props(frame)]
        outdoor = list(env.materials.values()) if env is not None else []
        for material in materials + [frame.ground.material] + outdoor:
            material.wetness, material.snow = wetness, cover
        frame.ground.material.puddles = wetness * 0.5
        for group in ("road", "sidewalk", "ground"):
            if env is not None and group in env.materials:
                env.materials[group].puddles = wetness * 0.5
        if spec.rain is not None:  # drops on the lens, wherever they landed on it
            drops = stage_rng(frame.seed, frame.index, "lens_drops")
            frame.lens_drops = [(float(drops.random()), float(drops.random()),
                                 float(spec.rain.lens_drop_radius.sample(drops)))
                                for _ in range(int(spec.rain.lens_drops.sample(drops)))]
        if spec.rain is not None and spec.rain.mode == "analytic":
            rate, exposure, wind = (float(spec.rain.rate_mm_h.sample(rng)), float(spec.rain.exposure_s.sample(rng)),
                                    float(spec.rain.wind_mps.sample(rng)))
            heading = float(rng.uniform(0, 2 * math.pi))
            frame.rainfall = RainfallParams(rate, exposure, (wind * math.cos(heading), wind * math.sin(heading), 0.0),
                                            spec.rain.splashes)
        elif spec.rain is not None:
            for _ in range(int(spec.rain.streaks.sample(rng))):
                length = float(spec.rain.length_m.sample(rng))
                frame.rain.append(self._particle(frame.camera, rng, RAIN_ASSET, (0.003, 0.003, length),
                                                 (0.75, 0.78, 0.8), 0.05, hides_labels=False))
        if spec.snow is not None and spec.snow.rate_mm_h is not None:
            self._snowfall(frame, float(spec.snow.rate_mm_h.sample(rng)), rng)
        elif spec.snow is not None:
            for _ in range(int(spec.snow.flakes.sample(rng))):
                size = float(spec.snow.size_m.sample(rng))
                frame.snow.append(self._particle(frame.camera, rng, SNOW_ASSET, (size, size, size * 0.6),
                                                 (0.9, 0.9, 0.92), 0.9, hides_labels=True))

    @staticmethod
    def _fog_height(fog: Any, camera: CameraParams, rng: np.random.Generator) -> float | None:
        """Ground fog's scale height in metres: the scenario's, or relative to the camera's distance to its target."""
        if fog.height_m is not None:
            return float(fog.height_m.sample(rng))
        if fog.relative_height is not None:
            distance = float(np.linalg.norm(np.array(camera.look_at) - np.array(camera.location)))
            return float(fog.relative_height.sample(rng)) * distance
        return None

    @staticmethod
    def _fog_density(fog: Any, camera: CameraParams, rng: np.random.Generator) -> float:
        """Extinction per metre from whichever the scenario gives: visibility, visibility relative to the
        camera's distance to its target (the same look at any scale), or the extinction itself."""
        if fog.density is not None:
            return float(fog.density.sample(rng))
        if fog.visibility_m is not None:
            visibility = float(fog.visibility_m.sample(rng))
        else:
            distance = float(np.linalg.norm(np.array(camera.look_at) - np.array(camera.location)))
            visibility = float(fog.relative_visibility.sample(rng)) * distance
        return CONTRAST_LN / visibility

    def _snowfall(self, frame: FrameSpec, rate_mm_h: float, rng: np.random.Generator) -> None:
        """The nearest flakes a camera has in view at this snowfall rate, with their sizes."""
        camera, K = frame.camera, np.array(frame.camera.K)
        frame.snowfall_mm_h = rate_mm_h
        reach = snowfall.reach_m(rate_mm_h, K, camera.resolution)
        count = int(rng.poisson(snowfall.flakes_per_m3(rate_mm_h)
                                * snowfall.view_volume(K, camera.resolution, snowfall.NEAR_M, reach)))
        sizes = snowfall.flake_diameters_m(rate_mm_h, count, rng)
        depth = depths_in_frustum(snowfall.NEAR_M, reach, count, rng)
        u, v = rng.uniform(-0.05, 1.05, count), rng.uniform(-0.05, 1.05, count)
        material = MaterialParams(mode="sampled", base_color=(0.9, 0.9, 0.92), hsv=(0.0, 0.0, 0.92), roughness=0.9,
                                  metallic=0.0)
        for size, z, x, y in zip(sizes, depth, u, v):
            location = self._ray_point(camera, float(x), float(y), float(z))
            frame.snow.append(PropParams(asset=SNOW_ASSET, location=tuple(float(c) for c in location),
                                         rotation_euler=(0.0, 0.0, 0.0), scale=(float(size),) * 2 + (float(size) * 0.6,),
                                         material=material, hides_labels=True, static=True, stuff="precipitation"))

    def _particle(self, camera: CameraParams, rng: np.random.Generator, asset: str,
                  scale: tuple[float, float, float], color: tuple[float, float, float],
                  roughness: float, hides_labels: bool) -> PropParams:
        """A rain streak or snowflake somewhere in view, between 0.3 m and 8 m from the camera."""
        u, v, depth = rng.uniform(-0.05, 1.05), rng.uniform(-0.05, 1.05), float(np.exp(rng.uniform(np.log(0.3), np.log(8.0))))
        location = self._ray_point(camera, u, v, depth)
        tilt = (float(rng.normal(0, 0.08)), float(rng.normal(0, 0.08)), 0.0)
        material = MaterialParams(mode="sampled", base_color=color, hsv=(0.0, 0.0, max(color)), roughness=roughness,
                                  metallic=0.0)
        return PropParams(asset=asset, location=tuple(float(c) for c in location), rotation_euler=tilt,
                          scale=scale, material=material, hides_labels=hides_labels, static=True, stuff="precipitation")

    def _in_front_of_camera(self, camera: CameraParams, u: float, v: float, t: float) -> np.ndarray:
        """A point on the ray through image position (u, v) (fractions), a fraction t of the way to the target."""
        distance = float(np.linalg.norm(np.array(camera.look_at) - np.array(camera.location)))
        return self._ray_point(camera, u, v, t * distance)

    @staticmethod
    def _ray_point(camera: CameraParams, u: float, v: float, depth: float) -> np.ndarray:
        """The point at camera depth ``depth`` seen at image position (u, v) (fractions of width and height)."""
        width, height = camera.resolution
        K, world_to_camera = np.array(camera.K), np.array(camera.world_to_camera)
        ray = np.linalg.solve(K, [u * width, v * height, 1.0])
        return np.array(camera.location) + world_to_camera[:3, :3].T @ (ray / ray[2]) * depth

    def _sensor(self, rng: np.random.Generator) -> dict[str, float]:
        spec = self.scenario.sensor
        if spec is None:
            return {}
        applied = {}
        for name in ("noise", "exposure_error", "vignetting", "chromatic_aberration", "jpeg"):
            effect = getattr(spec, name)
            hit, amount = rng.random(), float(effect.amount.sample(rng))
            if hit < effect.p:
                applied[name] = amount
        return applied
