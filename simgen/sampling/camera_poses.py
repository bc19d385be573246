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
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from pydantic import BaseModel, Field

from simgen.config.distributions import FloatDist, constant, uniform
from simgen.config.scenario import BandPose, CameraSpec, FixedPose, OrbitPose
from simgen.config.strict import StrictModel
from simgen.plugins import CAMERA_POSES
from simgen.sampling.frame_spec import ObjectSpec, Support
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
    supports: list[Support] = field(default_factory=list)  # the environment's (lanes, floors), if any
    free_space: list[tuple[tuple[float, float, float], tuple[float, float, float]]] = field(default_factory=list)

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


class LanePose(StrictModel):
    """A vehicle's camera in a lane of a street environment, behind the objects, looking along the lane."""

    behind_m: FloatDist = Field(default_factory=lambda: uniform(3.0, 12.0),
                                description="how far behind the nearest labeled object (along the lane)")
    height: FloatDist = Field(default_factory=lambda: uniform(1.2, 1.7), description="above the road")
    yaw_deg: FloatDist = Field(default_factory=lambda: uniform(-4.0, 4.0), description="off the lane's heading")
    pitch_deg: FloatDist = Field(default_factory=lambda: uniform(-6.0, 1.0))
    offset_m: FloatDist = Field(default_factory=lambda: uniform(-0.4, 0.4), description="from the lane's middle")
    roll_deg: FloatDist = Field(default_factory=lambda: constant(0.0))


def _lane(request: PoseRequest) -> Pose:
    lane, rng = request.options, request.rng
    behind, height, yaw, pitch, offset, roll = (float(d.sample(rng)) for d in (
        lane.behind_m, lane.height, lane.yaw_deg, lane.pitch_deg, lane.offset_m, lane.roll_deg))
    lanes = [s for s in request.supports if s.heading_deg is not None]
    along = [s for s in lanes if abs(math.sin(math.radians(s.heading_deg or 0.0))) < 0.5]
    lanes = along or lanes  # the street's own lanes, not a crossing street's
    pick = int(rng.integers(max(len(lanes), 1)))
    if not lanes:  # no street: the band's way, from behind the objects along +x
        lanes = [Support("lane", (0.0, 0.0), (1e9, 3.5), 0.0, 0.0, 0.0)]
        pick = 0
    chosen = lanes[pick]
    heading = math.radians(chosen.heading_deg or 0.0)
    ahead = np.array([math.cos(heading), math.sin(heading), 0.0])
    side = np.array([-ahead[1], ahead[0], 0.0])
    centre = np.array([*chosen.centre, 0.0])
    along = request.centres @ ahead if len(request.centres) else np.array([0.0])
    start = float(along.min()) - behind
    location = centre + ahead * (start - float(centre @ ahead)) + side * offset + np.array([0, 0, height])
    yaw_total, tilt = heading + math.radians(yaw), math.radians(pitch)
    forward = np.array([math.cos(tilt) * math.cos(yaw_total), math.cos(tilt) * math.sin(yaw_total), math.sin(tilt)])
    return Pose(location, location + forward * 10.0, roll)


CAMERA_POSES.register("lane", PoseSampler(_lane, LanePose, "a vehicle's camera in a street's lane, looking along it"))


class InsidePose(StrictModel):
    """Standing somewhere in an environment's free space (a room), at eye height, looking at the objects."""

    height: FloatDist = Field(default_factory=lambda: uniform(1.2, 1.8), description="eye height above the floor")
    min_distance_m: float = Field(1.0, ge=0, description="at least this far from what it looks at")
    roll_deg: FloatDist = Field(default_factory=lambda: constant(0.0))


def _inside(request: PoseRequest) -> Pose:
    pose, rng = request.options, request.rng
    height, roll = float(pose.height.sample(rng)), float(pose.roll_deg.sample(rng))
    jitter = float(request.camera.look_at_jitter_m.sample(rng)) * rng.uniform(-1, 1, size=3)
    target = request.target("objects") + jitter
    boxes = request.free_space or [((-2.0, -2.0, 0.0), (2.0, 2.0, 3.0))]
    volumes = np.array([(hi[0] - lo[0]) * (hi[1] - lo[1]) for lo, hi in boxes])
    location = target + np.array([pose.min_distance_m, 0.0, 0.0])
    for _ in range(50):  # a spot far enough from the target
        lo, hi = boxes[int(np.searchsorted(np.cumsum(volumes) / volumes.sum(), rng.random(), side="right")
                           .clip(0, len(boxes) - 1))]
        location = np.array([rng.uniform(lo[0], hi[0]), rng.uniform(lo[1], hi[1]), min(max(height, lo[2]), hi[2])])
        if np.linalg.norm((location - target)[:2]) >= pose.min_distance_m:
            break
    return Pose(location, target, roll)


CAMERA_POSES.register("inside", PoseSampler(_inside, InsidePose, "at eye height anywhere in a room, looking at the objects"))
