"""Camera pose samplers: where the camera stands each frame and what it looks at.

A scenario names one (``camera.orbit``, ``camera.fixed``, ``camera.band``, or
``camera.pose: {sampler: NAME, ...}`` for any registered one). Each is a ``PoseSampler`` in
``simgen.plugins.CAMERA_POSES``: an options model (validated with the scenario, so a typo is a
``file:line`` error) and a function from a ``PoseRequest`` to a ``Pose``. Intrinsics, the
``min_in_view`` retries, depth of field and exposure stay in the sampler: a pose sampler only
answers "where, looking at what".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from pydantic import BaseModel

from simgen.config.scenario import BandPose, CameraSpec, FixedPose, OrbitPose
from simgen.plugins import CAMERA_POSES
from simgen.sampling.frame_spec import ObjectSpec
from simgen.sampling.geometry import orbit_location


@dataclass
class PoseRequest:
    """What a pose sampler may use: its options, the frame's labeled objects, the lens, and its own generator."""

    options: Any  # the sampler's validated options model
    camera: CameraSpec  # the whole camera section (look_at_jitter_m, ...)
    objects: list[ObjectSpec]
    centres: np.ndarray  # (N, 3) world centre of each object's bounds
    sizes: np.ndarray  # (N,) largest side of each object's scaled bounds, metres
    focal_px: float  # focal length in pixels, for samplers that frame objects at a pixel size
    resolution: tuple[int, int]
    rng: np.random.Generator

    def target(self, look_at: Any) -> np.ndarray:
        """'objects' (centre of the labeled objects), 'origin', or an [x, y, z] point."""
        if isinstance(look_at, (tuple, list)):
            return np.array(look_at, float)
        if look_at == "origin" or not len(self.centres):
            return np.zeros(3)
        return self.centres.mean(axis=0)


@dataclass
class Pose:
    location: np.ndarray
    look_at: np.ndarray
    roll_deg: float = 0.0


@dataclass(frozen=True)
class PoseSampler:
    sample: Callable[[PoseRequest], Pose]
    options: type[BaseModel]
    description: str = ""


def _orbit(request: PoseRequest) -> Pose:
    orbit, rng = request.options, request.rng
    distance, elevation, azimuth, roll = (float(orbit.distance.sample(rng)), float(orbit.elevation_deg.sample(rng)),
                                          float(orbit.azimuth_deg.sample(rng)), float(orbit.roll_deg.sample(rng)))
    if orbit.object_pixels is not None and request.objects:  # far enough that a typical object spans that many pixels
        pixels = float(orbit.object_pixels.sample(rng))
        distance = request.focal_px * float(np.median(request.sizes)) / pixels
    jitter = float(request.camera.look_at_jitter_m.sample(rng)) * rng.uniform(-1, 1, size=3)
    target = request.target(orbit.look_at) + jitter
    return Pose(orbit_location(target, distance, elevation, azimuth), target, roll)


def _fixed(request: PoseRequest) -> Pose:
    fixed = request.options
    return Pose(np.array(fixed.location, float), np.array(fixed.look_at, float), fixed.roll_deg)


def _band(request: PoseRequest) -> Pose:
    band, rng = request.options, request.rng
    location = np.array([float(band.x.sample(rng)), float(band.y.sample(rng)), float(band.height.sample(rng))])
    yaw, pitch = math.radians(float(band.yaw_deg.sample(rng))), math.radians(float(band.pitch_deg.sample(rng)))
    forward = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), math.sin(pitch)])
    return Pose(location, location + forward, float(band.roll_deg.sample(rng)))


CAMERA_POSES.register("orbit", PoseSampler(_orbit, OrbitPose, "on a sphere around a target, looking at it"))
CAMERA_POSES.register("fixed", PoseSampler(_fixed, FixedPose, "an exact place looking at an exact point"))
CAMERA_POSES.register("band", PoseSampler(_band, BandPose, "in a box at a height band, along a sampled heading"))
