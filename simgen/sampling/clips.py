"""Clips (pure): a scene sampled once, moved in time. Frame t of a clip is its first frame with every
object and the camera carried ``t / fps`` seconds along their motion.

Objects move straight ahead (towards their front, so a car in a lane drives along it) at their
class's ``speed_mps``. The camera drives along its horizontal line of sight at ``speed_mps`` while
turning at ``turn_deg_s`` (a circular arc, integrated exactly), circles the point it looks at at
``orbit_deg_s``, and may wobble by hand: a smooth sum of three sines per axis, zero at the clip's
start so its first frame is the pose that was sampled. Dropped and thrown objects fly under
gravity (``drop_m`` above their resting place, ``launch_mps`` upwards) and stop on their support
when they land. The sun may move (``sun_deg_s``): time of day over the clip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from simgen.sampling.frame_spec import CameraParams, ClipInfo, FrameSpec, ObjectSpec
from simgen.sampling.geometry import camera_matrices, euler_xyz_matrix

FRONTS = {"-y": (0.0, -1.0, 0.0), "+y": (0.0, 1.0, 0.0), "-x": (-1.0, 0.0, 0.0), "+x": (1.0, 0.0, 0.0)}
SHAKE_HZ = (0.7, 1.3, 2.9)  # a hand's slow sway and quicker tremor
GRAVITY = 9.81  # m/s^2


@dataclass
class ClipMotion:
    """Everything that moves in one clip, drawn once at its start."""

    camera_speed_mps: float
    turn_rad_s: float
    shake_rad: float
    shake_phases: list[list[float]]  # [axis][harmonic]
    velocities: list[tuple[float, float, float]]  # per object, m/s
    orbit_rad_s: float = 0.0
    flights: list[tuple[float, float]] = field(default_factory=list)  # per object: start height, upward speed
    sun_deg_s: float = 0.0


def height_at(start_m: float, up_mps: float, t: float) -> tuple[float, float]:
    """(height above its rest, vertical speed) of an object dropped or thrown ``t`` s ago; 0, 0 once landed."""
    if start_m == 0.0 and up_mps == 0.0:
        return 0.0, 0.0
    landing = (up_mps + math.sqrt(up_mps ** 2 + 2 * GRAVITY * start_m)) / GRAVITY
    if t >= landing:
        return 0.0, 0.0
    return start_m + up_mps * t - GRAVITY * t * t / 2, up_mps - GRAVITY * t


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
                   velocity=tuple(float(v) for v in velocity))


def _place(obj: ObjectSpec, velocity: tuple[float, float, float], flight: tuple[float, float],
           t: float) -> tuple[tuple[float, float, float], float]:
    """Where an object is ``t`` s into its clip, and its vertical speed (a flight starts at the clip's start)."""
    rise, climb = height_at(*flight, max(t, 0.0))
    x, y, z = (p + v * t for p, v in zip(obj.location, velocity))
    return (float(x), float(y), float(z + rise)), climb


def frame_at(base: FrameSpec, motion: ClipMotion, index: int, clip: ClipInfo, shutter: float) -> FrameSpec:
    """Frame ``clip.frame_id`` of the clip whose first frame is ``base`` (which is left as it is). Each moving
    thing also carries its ``path``: where it is one frame before and after, which the renderer keys, so
    motion blur and optical flow follow the real motion (a fall's curve, the camera's arc and shake)."""
    t, dt = clip.frame_id / clip.fps, 1.0 / clip.fps
    objects = []
    for k, (obj, velocity) in enumerate(zip(base.objects, motion.velocities)):
        flight = motion.flights[k] if k < len(motion.flights) else (0.0, 0.0)
        location, climb = _place(obj, velocity, flight, t)
        path = (_place(obj, velocity, flight, t - dt)[0], _place(obj, velocity, flight, t + dt)[0])
        objects.append(replace(obj, location=location, velocity=(velocity[0], velocity[1], velocity[2] + climb),
                               path=path if any(velocity) or flight != (0.0, 0.0) else None))
    camera = camera_at(base.camera, motion, t)
    camera.path = (camera_at(base.camera, motion, t - dt).matrix_world, camera_at(base.camera, motion, t + dt).matrix_world)
    camera.shutter = shutter if shutter > 0 else None
    sun = base.sun if base.sun is None or not motion.sun_deg_s else \
        replace(base.sun, elevation_deg=float(base.sun.elevation_deg + motion.sun_deg_s * t))
    return replace(base, index=index, objects=objects, camera=camera, clip=clip, sun=sun)
