"""Water drops on the lens (pure numpy/OpenCV): what rain leaves on a camera that is out in it.

A drop on the front glass is centimetres from the entrance pupil, so it is far out of focus; and a
drop is itself a strong lens, so through it the camera sees a small, upside-down picture of a much
wider patch of the scene. Each drop is drawn that way: the patch ``SPREAD`` times its radius around
it, turned by 180 degrees and shrunk into the drop, blurred by the defocus, a little brighter (the
drop gathers light from the wide patch), behind a soft edge and a faint dark rim where light leaves
the drop at grazing angles. A coverage map (0..1 per pixel, the drop's opacity) says which pixels
the drops degrade, for the per-object severity labels.
"""

from __future__ import annotations

import cv2
import numpy as np

SPREAD = 3.0  # the patch a drop shows, in drop radii
GAIN = 1.08  # light gathered from that patch


def add_lens_drops(image: np.ndarray, drops: list[tuple[float, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (BGR uint8) seen through drops (x, y as shares of width and height, radius as a share of the
    width); returns the new image and the coverage map (H, W) float32."""
    height, width = image.shape[:2]
    out = image.astype(np.float32)
    coverage = np.zeros((height, width), np.float32)
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    for sx, sy, sr in drops:
        cx, cy, radius = sx * width, sy * height, max(sr * width, 1.5)
        x0, x1 = int(max(cx - radius - 2, 0)), int(min(cx + radius + 3, width))
        y0, y1 = int(max(cy - radius - 2, 0)), int(min(cy + radius + 3, height))
        if x1 <= x0 or y1 <= y0:
            continue
        du, dv = u[y0:y1, x0:x1] - cx, v[y0:y1, x0:x1] - cy
        distance = np.hypot(du, dv) / radius
        # refraction: a point at offset d inside the drop shows the scene at -SPREAD d (turned, magnified out)
        map_x = np.clip(cx - SPREAD * du, 0, width - 1).astype(np.float32)
        map_y = np.clip(cy - SPREAD * dv, 0, height - 1).astype(np.float32)
        seen = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        sigma = max(radius / 5, 0.6)  # defocus: a drop on the glass is never sharp
        seen = cv2.GaussianBlur(seen, (0, 0), sigma) * GAIN
        alpha = np.clip(1.0 - distance, 0.0, 1.0) ** 0.35  # soft, thick edge
        alpha = cv2.GaussianBlur(alpha, (0, 0), max(radius / 10, 0.5))
        rim = np.exp(-((distance - 0.92) / 0.08) ** 2) * 0.25  # light leaving at grazing angles: a darker ring
        patch = out[y0:y1, x0:x1]
        blended = patch * (1 - alpha[..., None]) + seen * alpha[..., None]
        out[y0:y1, x0:x1] = blended * (1 - rim[..., None])
        coverage[y0:y1, x0:x1] = np.maximum(coverage[y0:y1, x0:x1], alpha)
    return np.clip(out, 0, 255).astype(np.uint8), coverage
