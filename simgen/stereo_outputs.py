"""Stereo: a rectified second camera ``camera.stereo_baseline_m`` to the right of the first (same
intrinsics and orientation, moved along its own x axis), its image, and the disparity map.

Disparity is derived from the left camera's depth: d = f B / Z in pixels (f the focal length in
pixels, B the baseline, Z the depth along the axis), so a left pixel (u, v) shows the same
surface as right pixel (u - d, v). Stored as KITTI stores it: uint16 = round(256 d), 0 where no
surface was hit.
"""

from __future__ import annotations

import numpy as np

from simgen.outputs import PNG, FrameArrays, Output, PixelSpec, _png, chosen, register

RIGHT = "right_rgb"  # FrameArrays.passes key of the right camera's rendered image (BGR uint8)


def disparity(depth: np.ndarray, focal_px: float, baseline_m: float) -> np.ndarray:
    """Pixels of horizontal shift from the left to the right image; 0 where no surface."""
    with np.errstate(divide="ignore"):
        values = np.where(np.isfinite(depth) & (depth > 0), focal_px * baseline_m / depth, 0.0)
    return values


def _disparity_png(arrays: FrameArrays, extension: str) -> bytes:
    camera = arrays.camera
    assert camera is not None and camera.stereo_baseline_m is not None
    shift = disparity(arrays.depth, float(camera.K[0][0]), camera.stereo_baseline_m)
    return _png(np.clip(np.rint(shift * 256), 0, 65535).astype(np.uint16))


def _right_png(arrays: FrameArrays, extension: str) -> bytes:
    return _png(arrays.passes[RIGHT])


register(Output("right", "right_file", "images_right", PNG, _right_png, switch=chosen("stereo"),
                pixels=PixelSpec(3, ("uint8",)), description="the right camera's RGB (camera.stereo_baseline_m)"))
register(Output("disparity", "disparity_file", "disparity", PNG, _disparity_png, switch=chosen("stereo"),
                pixels=PixelSpec(1, ("uint16",)), description="left-to-right disparity, uint16 = 256 x pixels; 0 = none"))
