"""Scenario + frame index -> FrameSpec, deterministically and without Blender.

Each stage (counts, objects, materials, placement, camera, lighting, world, ground) draws
from its own generator seeded by (scenario seed, frame index, stage name). Frame *i* is
therefore the same whichever process renders it, and changing one stage's settings leaves
every other stage's draws untouched.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from simgen.assets.resolve import AssetRef
from simgen.config.scenario import ClassSpec, ColorHSV, Scenario
from simgen.errors import PlacementError
from simgen.sampling.frame_spec import (
    AssetBounds, CameraParams, FrameSpec, GroundParams, MaterialParams, ObjectSpec, SunParams, WorldParams)
from simgen.sampling.geometry import (
    camera_matrices, hsv_to_linear_rgb, intrinsics, kelvin_to_rgb, look_at_rotation, orbit_location)
from simgen.sampling.placement import Placed, footprint, scatter, upright_yaw


def stage_rng(seed: int, frame: int, stage: str) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, frame, zlib.crc32(stage.encode())])


@dataclass
class _Draft:
    """An object whose identity is sampled but whose position may still be open."""

    cls: ClassSpec
    category_id: int
    asset: AssetRef
    scale: float
    rotation: tuple[float, float, float]
    position: tuple[float, float, float] | None


def _hsv(spec: ColorHSV, rng: np.random.Generator) -> tuple[float, float, float]:
    return (spec.hue.sample(rng), spec.saturation.sample(rng), spec.value.sample(rng))


class FrameSampler:
    """Samples FrameSpecs for one scenario, given the assets the backend loaded."""

    def __init__(self, scenario: Scenario, assets: dict[str, list[AssetRef]],
                 bounds: dict[str, AssetBounds], resolution: tuple[int, int]):
        self.scenario = scenario
        self.assets = assets
        self.bounds = bounds
        self.resolution = resolution

    def sample(self, index: int) -> FrameSpec:
        sc = self.scenario
        seed = sc.seed
        drafts = self._sample_objects(stage_rng(seed, index, "counts"), stage_rng(seed, index, "objects"))
        materials_rng = stage_rng(seed, index, "materials")
        materials = [self._material(d.cls, materials_rng) for d in drafts]
        positions, dropped = self._place(drafts, stage_rng(seed, index, "placement"), index)
        objects: list[ObjectSpec] = []
        for draft, material, position in zip(drafts, materials, positions):
            if position is None:
                continue
            objects.append(ObjectSpec(
                instance_id=len(objects) + 1, class_name=draft.cls.name, category_id=draft.category_id,
                asset=draft.asset.key, location=tuple(float(v) for v in position),
                rotation_euler=draft.rotation, scale=draft.scale, material=material))
        camera = self._camera(objects, stage_rng(seed, index, "camera"))
        return FrameSpec(
            index=index, seed=seed, objects=objects, camera=camera,
            sun=self._sun(stage_rng(seed, index, "lighting")),
            world=self._world(stage_rng(seed, index, "world")),
            ground=self._ground(stage_rng(seed, index, "ground")),
            dropped=dropped)

    def _sample_objects(self, counts_rng: np.random.Generator, rng: np.random.Generator) -> list[_Draft]:
        counts = [c.count.sample(counts_rng) for c in self.scenario.classes]
        drafts = []
        for category_id, (cls, count) in enumerate(zip(self.scenario.classes, counts), start=1):
            refs = self.assets[cls.name]
            for _ in range(count):
                asset = refs[int(rng.integers(len(refs)))] if len(refs) > 1 else refs[0]
                scale = float(cls.scale.sample(rng))
                if cls.rotation_deg is None:
                    rotation = upright_yaw(rng)
                else:
                    rotation = tuple(math.radians(float(a.sample(rng))) for a in
                                     (cls.rotation_deg.x, cls.rotation_deg.y, cls.rotation_deg.z))
                position = None
                if cls.position is not None:
                    position = tuple(float(a.sample(rng)) for a in (cls.position.x, cls.position.y, cls.position.z))
                drafts.append(_Draft(cls, category_id, asset, scale, rotation, position))  # type: ignore[arg-type]
        return drafts

    def _material(self, cls: ClassSpec, rng: np.random.Generator) -> MaterialParams:
        spec = cls.material
        hsv = _hsv(spec.color, rng)
        return MaterialParams(mode=spec.mode, base_color=hsv_to_linear_rgb(*hsv), hsv=hsv,
                              roughness=float(spec.roughness.sample(rng)), metallic=float(spec.metallic.sample(rng)))

    def _place(self, drafts: list[_Draft], rng: np.random.Generator, index: int):
        spec = self.scenario.placement
        footprints = [footprint(self.bounds[d.asset.key], d.rotation, d.scale) for d in drafts]
        pinned = [Placed(np.array(d.position[:2]) + fp.centre_offset, fp.radius)
                  for d, fp in zip(drafts, footprints) if d.position is not None]
        free = [i for i, d in enumerate(drafts) if d.position is None]
        spots = scatter([footprints[i] for i in free], spec.area, spec.min_gap, spec.max_tries, rng, pinned)
        positions: list = [d.position for d in drafts]
        for i, spot in zip(free, spots):
            positions[i] = spot
        dropped = [drafts[i].cls.name for i, p in enumerate(positions) if p is None]
        if dropped and spec.on_failure == "error":
            raise PlacementError(
                f"frame {index}: could not place {len(dropped)} of {len(drafts)} objects "
                f"({', '.join(sorted(set(dropped)))}) in a {spec.area[0]} x {spec.area[1]} m area with "
                f"min_gap {spec.min_gap} m after {spec.max_tries} tries each; enlarge placement.area, lower the "
                f"counts or scales, or set placement.on_failure: drop")
        return positions, dropped

    def _camera(self, objects: list[ObjectSpec], rng: np.random.Generator) -> CameraParams:
        spec = self.scenario.camera
        width, height = self.resolution
        focal = float(spec.focal_length_mm.sample(rng))
        if spec.fixed is not None:
            target = np.array(spec.fixed.look_at, float)
            location = np.array(spec.fixed.location, float)
            roll = spec.fixed.roll_deg
        else:
            orbit = spec.orbit
            assert orbit is not None
            distance, elevation, azimuth, roll = (float(orbit.distance.sample(rng)), float(orbit.elevation_deg.sample(rng)),
                                                  float(orbit.azimuth_deg.sample(rng)), float(orbit.roll_deg.sample(rng)))
            target = self._target(orbit.look_at, objects)
            location = orbit_location(target, distance, elevation, azimuth)
        matrix_world, world_to_camera = camera_matrices(location, look_at_rotation(location, target, roll))
        return CameraParams(
            location=tuple(float(v) for v in location), matrix_world=matrix_world.tolist(),
            focal_length_mm=focal, sensor_width_mm=spec.sensor_width_mm, resolution=(width, height),
            K=intrinsics(focal, spec.sensor_width_mm, width, height).tolist(),
            world_to_camera=world_to_camera.tolist(), look_at=tuple(float(v) for v in target))

    def _target(self, look_at, objects: list[ObjectSpec]) -> np.ndarray:
        if isinstance(look_at, tuple):
            return np.array(look_at, float)
        if look_at == "origin" or not objects:
            return np.zeros(3)
        centres = []
        for obj in objects:
            b = self.bounds[obj.asset]
            centres.append(np.array(obj.location) + np.array([0, 0, obj.scale * (b.minimum[2] + b.maximum[2]) / 2]))
        return np.mean(centres, axis=0)

    def _sun(self, rng: np.random.Generator) -> SunParams | None:
        spec = self.scenario.sun
        if spec is None:
            return None
        kelvin = float(spec.color_temperature_k.sample(rng))
        return SunParams(elevation_deg=float(spec.elevation_deg.sample(rng)), azimuth_deg=float(spec.azimuth_deg.sample(rng)),
                         strength=float(spec.strength.sample(rng)), color_temperature_k=kelvin,
                         color=kelvin_to_rgb(kelvin), angle_deg=float(spec.angle_deg.sample(rng)))

    def _world(self, rng: np.random.Generator) -> WorldParams:
        spec = self.scenario.world
        hdri = None if spec.hdri is None else str(spec.hdri.sample(rng))
        if hdri is not None and ("/" in hdri or "." in hdri):
            hdri = str((self.scenario.source_dir / hdri).resolve())
        return WorldParams(hdri=hdri, strength=float(spec.strength.sample(rng)),
                           rotation_deg=float(spec.rotation_deg.sample(rng)), color=tuple(spec.color))

    def _ground(self, rng: np.random.Generator) -> GroundParams:
        spec = self.scenario.ground
        hsv = _hsv(spec.color, rng)
        return GroundParams(enabled=spec.enabled, size=spec.size, base_color=hsv_to_linear_rgb(*hsv), hsv=hsv,
                            roughness=float(spec.roughness.sample(rng)), pattern_scale=float(spec.pattern_scale.sample(rng)))
