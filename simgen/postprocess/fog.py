"""Analytic fog: Beer-Lambert extinction along each pixel's ray, from the depth pass.

transmittance = exp(-density * distance); the pixel becomes rgb * T + fog_colour * (1 - T) in
linear light, with the fog colour scaled to the scene's light level. Distance is along the ray, recovered from the z-depth with the pixel's angle, so
the fade is exact for homogeneous fog and costs milliseconds instead of a volume render.
"""

from __future__ import annotations

import numpy as np

from simgen.postprocess.sensor import _to_linear, _to_srgb


def ray_length_per_depth(K: np.ndarray, height: int, width: int) -> np.ndarray:
    """Metres along each pixel's ray per metre of z-depth: sqrt(1 + x^2 + y^2) in normalised coordinates."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    x, y = (u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1]
    return np.sqrt(1.0 + x * x + y * y)


def apply_fog(bgr: np.ndarray, depth_z: np.ndarray, density: float, color_rgb: tuple[float, float, float],
              K: np.ndarray) -> np.ndarray:
    """``depth_z``: metres along the camera axis, inf where the ray escapes (fully fogged)."""
    distance = depth_z * ray_length_per_depth(np.asarray(K), *depth_z.shape)
    transmittance = np.exp(-density * distance)[..., None]  # inf distance -> 0: the sky is all fog
    linear = _to_linear(bgr)
    # Fog glows with the light around it: scale its colour by the scene's bright level, so fog at
    # night is dark grey rather than a lit white wall.
    ambient = float(np.percentile(linear.mean(axis=2), 90))
    fog_bgr = np.array(color_rgb[::-1], dtype=np.float32) * ambient / max(max(color_rgb), 1e-6)
    return _to_srgb(linear * transmittance + fog_bgr * (1.0 - transmittance))
