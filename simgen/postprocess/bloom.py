"""Bloom: the light a lens scatters around sources too bright for the sensor (lamps at night, the sun
in glass), from the render's own linear radiance.

A lens spreads a small share of all light it passes into a wide halo (its point spread function
has long tails). Under the sensor's white the halo vanishes in the image; around a source many
times brighter than white it shows as a glow that fades with distance. So the light above white
(linear, after the camera's exposure) is spread by a three-Gaussian PSF of 0.4 %, 1.5 % and 5 % of
the image diagonal (weights 0.6, 0.3, 0.1; energy-preserving) and ``share`` of it is added to the
image. Labels are untouched.
"""

from __future__ import annotations

import cv2
import numpy as np

from simgen.postprocess.sensor import _to_linear, _to_srgb

PSF = ((0.004, 0.6), (0.015, 0.3), (0.05, 0.1))  # (sigma as a share of the diagonal, weight)
WHITE = 16.0  # linear radiance (after exposure) that AgX, simgen's default view, shows as white


def glow(linear_rgb: np.ndarray, share: float, white: float = WHITE) -> np.ndarray:
    """The halo (linear, display-relative: 1 = white) that ``share`` of the light above ``white`` spreads into."""
    excess = np.maximum(linear_rgb.astype(np.float32) - white, 0.0) / white
    if not excess.any():
        return np.zeros_like(excess)
    diagonal = float(np.hypot(*excess.shape[:2]))
    halo = sum(weight * cv2.GaussianBlur(excess, (0, 0), sigma * diagonal) for sigma, weight in PSF)
    return share * halo


def add_bloom(bgr: np.ndarray, linear_rgb: np.ndarray, share: float) -> np.ndarray:
    """The display image with the halo of its over-white light added (``linear_rgb`` rows top-down, RGB)."""
    halo = glow(linear_rgb, share)
    if not halo.any():
        return bgr
    return _to_srgb(_to_linear(bgr) + halo[..., ::-1])
