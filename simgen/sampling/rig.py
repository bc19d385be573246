"""Rig cameras (pure): each one's pose and lens from the main camera's, for ``camera.rig``.

A rig is rigid: every camera keeps its place and aim relative to the main one, whatever pose the
main camera was given. Offsets and turns are in the main camera's OpenCV axes (x right, y down,
z forward), the axes its ``world_to_camera`` in COCO uses, so a rig reads as a calibration does.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from simgen.sampling.frame_spec import CameraParams
from simgen.sampling.geometry import BLENDER_TO_OPENCV_CAMERA, intrinsics

def relative_rotation(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """The rig camera's axes as columns in the main camera's OpenCV axes: turned right by yaw (about y,
    which points down), then up by pitch (about its x), then clockwise by roll (about its z)."""
    y, p, r = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
    yaw = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    pitch = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    roll = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return yaw @ pitch @ roll


def view_camera(main: CameraParams, position_m: tuple[float, float, float], yaw_deg: float, pitch_deg: float,
                roll_deg: float, focal_length_mm: float | None = None, fov_deg: float | None = None,
                resolution: tuple[int, int] | None = None) -> CameraParams:
    """The rig camera's CameraParams: the main camera's exposure, shutter and optics, its own pose and lens."""
    width, height = resolution or main.resolution
    focal = main.focal_length_mm if focal_length_mm is None else focal_length_mm
    if fov_deg is not None:
        focal = main.sensor_width_mm / (2 * math.tan(math.radians(fov_deg) / 2))
    shift = main.shift
    if focal_length_mm is None and fov_deg is None and resolution is None:
        K = np.array(main.K)  # the main lens as it is (a calibrated K included)
    else:
        K, shift = intrinsics(focal, main.sensor_width_mm, width, height), (0.0, 0.0)
    main_c2w = np.array(main.matrix_world)
    main_cv = main_c2w[:3, :3] @ BLENDER_TO_OPENCV_CAMERA  # main camera's OpenCV axes in the world
    rotation_cv = main_cv @ relative_rotation(yaw_deg, pitch_deg, roll_deg)
    location = main_c2w[:3, 3] + main_cv @ np.asarray(position_m, float)
    matrix_world = np.eye(4)
    matrix_world[:3, :3], matrix_world[:3, 3] = rotation_cv @ BLENDER_TO_OPENCV_CAMERA, location
    world_to_camera = np.eye(4)
    world_to_camera[:3, :3], world_to_camera[:3, 3] = rotation_cv.T, -rotation_cv.T @ location
    forward = rotation_cv[:, 2]
    distance = float(np.linalg.norm(np.array(main.look_at) - np.array(main.location)))
    return replace(main, location=tuple(float(v) for v in location), matrix_world=matrix_world.tolist(),
                   focal_length_mm=float(focal), resolution=(int(width), int(height)), K=K.tolist(),
                   world_to_camera=world_to_camera.tolist(), shift=shift,
                   look_at=tuple(float(v) for v in location + distance * forward), truncated=None,
                   truncated_share=None, pose_tries=0)
