"""Camera imperfections on the rendered RGB: exposure error, vignetting, noise, chromatic aberration, JPEG.

They work on approximately linear light (the PNG's sRGB curve undone), in the order a real
camera applies them: optics (exposure, vignetting), sensor (noise), lens (colour fringes),
then compression. Pure numpy/OpenCV, deterministic given the generator.
"""

from __future__ import annotations

import cv2
import numpy as np


def _to_linear(srgb: np.ndarray) -> np.ndarray:
    c = srgb.astype(np.float32) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _to_srgb(linear: np.ndarray) -> np.ndarray:
    c = np.clip(linear, 0.0, 1.0)
    srgb = np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055)
    return np.clip(np.rint(srgb * 255.0), 0, 255).astype(np.uint8)


def _radius_squared(height: int, width: int) -> np.ndarray:
    """Squared distance from the image centre, 1.0 at the corners."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return ((x - (width - 1) / 2) ** 2 + (y - (height - 1) / 2) ** 2) / (((width - 1) / 2) ** 2 + ((height - 1) / 2) ** 2)


def _scale_channel(channel: np.ndarray, factor: float) -> np.ndarray:
    height, width = channel.shape
    centre = ((width - 1) / 2, (height - 1) / 2)
    matrix = cv2.getRotationMatrix2D(centre, 0.0, factor)
    return cv2.warpAffine(channel, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def apply_sensor_effects(bgr: np.ndarray, effects: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """The image with each listed effect applied at its amount (see SensorSpec for the units)."""
    if not effects:
        return bgr
    height, width = bgr.shape[:2]
    linear = _to_linear(bgr)
    if "exposure_error" in effects:
        linear *= 2.0 ** effects["exposure_error"]
    if "vignetting" in effects:
        linear *= (1.0 - effects["vignetting"] * _radius_squared(height, width))[..., None]
    if "noise" in effects:
        linear += rng.normal(0.0, effects["noise"], size=linear.shape).astype(np.float32)
    image = _to_srgb(linear)
    if "chromatic_aberration" in effects:
        half_diagonal = 0.5 * float(np.hypot(width, height))
        shift = effects["chromatic_aberration"] / half_diagonal
        image = image.copy()
        image[..., 2] = _scale_channel(image[..., 2], 1.0 + shift)  # red spreads outwards
        image[..., 0] = _scale_channel(image[..., 0], 1.0 - shift)  # blue inwards
    if "jpeg" in effects:
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(round(effects["jpeg"]))])
        assert ok
        image = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    return image
