"""Clips (pure): a scene sampled once, moved in time. Frame t of a clip is its first frame with every
object and the camera carried ``t / fps`` seconds along their motion.

Objects move straight ahead (towards their front, so a car in a lane drives along it) at their
class's ``speed_mps``. The camera drives along its horizontal line of sight at ``speed_mps`` while
turning at ``turn_deg_s`` (a circular arc, integrated exactly), circles the point it looks at at
``orbit_deg_s``, and may wobble by hand: a smooth sum of three sines per axis, zero at the clip's
start so its first frame is the pose that was sampled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from simgen.sampling.frame_spec import CameraParams, ClipInfo, FrameSpec, ObjectSpec
from simgen.sampling.geometry import camera_matrices, euler_xyz_matrix

FRONTS = {"-y": (0.0, -1.0, 0.0), "+y": (0.0, 1.0, 0.0), "-x": (-1.0, 0.0, 0.0), "+x": (1.0, 0.0, 0.0)}
SHAKE_HZ = (0.7, 1.3, 2.9)  # a hand's slow sway and quicker tremor


@dataclass
class ClipMotion:
    """Everything that moves in one clip, drawn once at its start."""

    camera_speed_mps: float
    turn_rad_s: float
    shake_rad: float
    shake_phases: list[list[float]]  # [axis][harmonic]
    velocities: list[tuple[float, float, float]]  # per object, m/s
    orbit_rad_s: float = 0.0


def heading_velocity(obj: ObjectSpec, front: str, speed: float) -> tuple[float, float, float]:
    """``speed`` m/s along the object's front, level with the ground."""
    ahead = euler_xyz_matrix(*obj.rotation_euler) @ np.array(FRONTS[front])
    ahead[2] = 0.0
    norm = float(np.linalg.norm(ahead))
    if norm < 1e-9 or speed == 0.0:
        return (0.0, 0.0, 0.0)
    return tuple(float(v) for v in ahead / norm * speed)  # type: ignore[return-value]


def _rotation_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _shake(motion: ClipMotion, t: float) -> np.ndarray:
    """The hand's small rotation at ``t`` (about the camera's own x, y, z; roll at half), zero at t = 0."""
    if motion.shake_rad == 0.0:
        return np.eye(3)
    angles = []
    for axis, phases in enumerate(motion.shake_phases):
        wave = sum(math.sin(2 * math.pi * hz * t + phase) - math.sin(phase) for hz, phase in zip(SHAKE_HZ, phases))
        angles.append(motion.shake_rad * wave / math.sqrt(3) * (0.5 if axis == 2 else 1.0))
    return euler_xyz_matrix(*angles)


def camera_at(camera: CameraParams, motion: ClipMotion, t: float) -> CameraParams:
    """The clip's camera ``t`` seconds after its first frame."""
    c2w = np.array(camera.matrix_world)
    rotation, start = c2w[:3, :3], c2w[:3, 3]
    forward = -rotation[:, 2]
    if math.hypot(forward[0], forward[1]) < 1e-6:  # looking straight down or up: drive towards its top edge
        forward = rotation[:, 1]
    heading = math.atan2(forward[1], forward[0])
    speed, turn = motion.camera_speed_mps, motion.turn_rad_s
    if abs(turn) < 1e-9:
        moved = speed * t * np.array([math.cos(heading), math.sin(heading), 0.0])
    else:
        moved = speed / turn * np.array([math.sin(heading + turn * t) - math.sin(heading),
                                         math.cos(heading) - math.cos(heading + turn * t), 0.0])
    target = np.array(camera.look_at)
    circled = _rotation_z(motion.orbit_rad_s * t)  # about the vertical through the look-at point
    location = target + circled @ (start - target) + moved
    turned = _rotation_z((turn + motion.orbit_rad_s) * t)
    new_rotation = turned @ rotation @ _shake(motion, t)
    look = location + turned @ (target - start)
    matrix_world, world_to_camera = camera_matrices(location, new_rotation)
    now = heading + turn * t
    around = motion.orbit_rad_s * np.cross([0.0, 0.0, 1.0], circled @ (start - target))  # the orbit's speed
    velocity = np.array([speed * math.cos(now), speed * math.sin(now), 0.0]) + around
    return replace(camera, location=tuple(float(v) for v in location), matrix_world=matrix_world.tolist(),
                   world_to_camera=world_to_camera.tolist(), look_at=tuple(float(v) for v in look),
                   velocity=tuple(float(v) for v in velocity),
                   yaw_rate_deg_s=math.degrees(turn + motion.orbit_rad_s))


def frame_at(base: FrameSpec, motion: ClipMotion, index: int, clip: ClipInfo, shutter: float) -> FrameSpec:
    """Frame ``clip.frame_id`` of the clip whose first frame is ``base`` (which is left as it is)."""
    t = clip.frame_id / clip.fps
    objects = [replace(obj, location=tuple(float(p + v * t) for p, v in zip(obj.location, velocity)),
                       velocity=velocity) for obj, velocity in zip(base.objects, motion.velocities)]
    camera = camera_at(base.camera, motion, t)
    camera.shutter = shutter if shutter > 0 else None
    return replace(base, index=index, objects=objects, camera=camera, clip=clip)
