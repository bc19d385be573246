"""Analytic fog: Beer-Lambert extinction along each pixel's ray, from the depth pass.

transmittance = exp(-density * distance); the pixel becomes rgb * T + fog_colour * (1 - T) in
linear light, with the fog colour scaled to the scene's light level. Distance is along the ray, recovered from the z-depth with the pixel's angle, so
the fade is exact for homogeneous fog and costs milliseconds instead of a volume render.
"""

from __future__ import annotations

import numpy as np

from simgen.postprocess.sensor import _to_linear, _to_srgb


def camera_rays(K: np.ndarray, height: int, width: int) -> np.ndarray:
    """Each pixel's ray (x, y, 1) in camera coordinates: the point it sees at one metre of z-depth.

    Its length is the metres along the ray per metre of z-depth.
    """
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    return np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], axis=-1)


def optical_depth(depth_z: np.ndarray, density: float, K: np.ndarray, world_to_camera: np.ndarray,
                  height_m: float | None) -> np.ndarray:
    """Integral of the fog density along each pixel's ray, from the camera to the surface it sees.

    Homogeneous: density * distance. Ground fog, density(z) = density * exp(-z / H): the integral
    has a closed form in the heights of the two ends, so this stays exact and per-pixel cheap.
    """
    rays = camera_rays(K, *depth_z.shape)
    length = np.linalg.norm(rays, axis=-1).astype(np.float32)
    distance = depth_z * length
    if height_m is None:
        return density * distance
    rotation, translation = world_to_camera[:3, :3], world_to_camera[:3, 3]
    rise = rays @ rotation[:, 2]  # world z gained per metre of camera depth
    eye_z = float((-rotation.T @ translation)[2])
    start = np.exp(-eye_z / height_m)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        end = np.exp(-(eye_z + depth_z * rise) / height_m)
        sloped = density * height_m * (start - end) * length / rise
        level = density * start * distance
        tau = np.where(np.abs(rise) > 1e-6, sloped, level)
    return np.where(np.isfinite(tau), tau, np.inf).astype(np.float32)


def point_transmittance(eye: np.ndarray, points: np.ndarray, density: float, height_m: float | None) -> np.ndarray:
    """exp(-optical depth) from the eye to each world point (N, 3): the share of a surface's light that
    reaches the camera through the fog, as ``optical_depth`` integrates it per pixel."""
    offset = np.atleast_2d(points) - np.asarray(eye, float)
    distance = np.linalg.norm(offset, axis=1)
    if height_m is None:
        return np.exp(-density * distance)
    start = np.exp(-float(eye[2]) / height_m)
    end = np.exp(-(float(eye[2]) + offset[:, 2]) / height_m)
    with np.errstate(divide="ignore", invalid="ignore"):
        sloped = density * height_m * (start - end) * distance / offset[:, 2]
    tau = np.where(np.abs(offset[:, 2]) > 1e-9, sloped, density * start * distance)
    return np.exp(-tau)


def apply_fog(bgr: np.ndarray, depth_z: np.ndarray, density: float, color_rgb: tuple[float, float, float],
              K: np.ndarray, world_to_camera: np.ndarray | None = None, height_m: float | None = None) -> np.ndarray:
    """``depth_z``: metres along the camera axis, inf where the ray escapes (fully fogged if it stays low)."""
    K = np.asarray(K)
    w2c = np.eye(4) if world_to_camera is None else np.asarray(world_to_camera)
    transmittance = np.exp(-optical_depth(depth_z, density, K, w2c, height_m))[..., None]
    linear = _to_linear(bgr)
    # Fog glows with the light around it: scale its colour by the scene's bright level, so fog at
    # night is dark grey rather than a lit white wall.
    ambient = float(np.percentile(linear.mean(axis=2), 90))
    fog_bgr = np.array(color_rgb[::-1], dtype=np.float32) * ambient / max(max(color_rgb), 1e-6)
    return _to_srgb(linear * transmittance + fog_bgr * (1.0 - transmittance))
