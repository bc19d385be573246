"""The thermal camera's images: radiometric temperature and a display rendering of it.

``thermal/NNNNNN.png`` is uint16 centikelvin of apparent (black-body) temperature: 29315 is 20 C,
the scale a radiometric camera reports in; 0 nowhere (the sky has a temperature too).
``thermal_display/NNNNNN.png`` maps the frame's 1st-99th percentile to the inferno palette, as a
thermal camera's screen does. The camera's own imperfections are applied to the temperatures:
Gaussian optics blur (``blur_px``) and noise of ``noise_k`` kelvin (NETD).
"""

from __future__ import annotations

import numpy as np

from simgen.outputs import PNG, FrameArrays, Output, PixelSpec, _png, chosen, register
from simgen.sampling.thermal import REFERENCE_K

THERMAL = "thermal"  # FrameArrays.passes key: apparent temperature in kelvin, (H, W) float32


def apparent_kelvin(relative_radiance: np.ndarray, blur_px: float, noise_k: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Temperature a radiometric camera reports from radiance relative to a 300 K black body."""
    import cv2

    kelvin = REFERENCE_K * np.maximum(relative_radiance.astype(np.float64), 0.0) ** 0.25
    if blur_px > 0:
        kelvin = cv2.GaussianBlur(kelvin, (0, 0), blur_px)
    return (kelvin + rng.normal(0.0, noise_k, kelvin.shape)).astype(np.float32)


def _radiometric(arrays: FrameArrays, extension: str) -> bytes:
    return _png(np.clip(np.rint(arrays.passes[THERMAL] * 100.0), 0, 65535).astype(np.uint16))


def _display(arrays: FrameArrays, extension: str) -> bytes:
    import cv2

    kelvin = arrays.passes[THERMAL]
    low, high = np.percentile(kelvin, [1, 99])
    scaled = np.clip((kelvin - low) / max(high - low, 1e-3) * 255.0, 0, 255).astype(np.uint8)
    return _png(cv2.applyColorMap(scaled, cv2.COLORMAP_INFERNO))


register(Output("thermal", "thermal_file", "thermal", PNG, _radiometric, switch=chosen("thermal"),
                pixels=PixelSpec(1, ("uint16",)), description="radiometric thermal: uint16 centikelvin (29315 = 20 C)"))
register(Output("thermal_display", "thermal_display_file", "thermal_display", PNG, _display, switch=chosen("thermal"),
                pixels=PixelSpec(3, ("uint8",)), description="the thermal image on the inferno palette (1-99th percentile)"))
