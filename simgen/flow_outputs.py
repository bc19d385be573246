"""Optical flow of clips (``sequence:`` with ``labels.outputs: [flow]``): where each pixel's surface is
in the clip's next frame (forward) and previous frame (backward), in pixels.

The flow is Cycles' own motion-vector pass, rendered with the label passes: every object and the
camera are keyed one frame time before and after the frame (BlenderBackend.apply_motion), and Cycles
projects each pixel's surface point at those times. A pixel's flow is *valid* where its surface is
also seen in the other frame: the other frame's flow back from the landing point returns within
0.5 px + 5 % (a forward-backward check on two more 1-sample renders of the neighbouring frames), so
occluded and out-of-view pixels are marked invalid. Stored as KITTI stores flow: uint16 PNG with
R = 64 u + 2^15, G = 64 v + 2^15, B = 1 where valid; ``flow_float`` adds float32 (H, W, 2) .npy files,
NaN where no surface was hit.
"""

from __future__ import annotations

import io

import numpy as np

from simgen.outputs import PNG, FrameArrays, Output, PixelSpec, RenderPass, _png, chosen, register

VECTOR = RenderPass("vector", "use_pass_vector", "Vector", "XYZW")
FORWARD, BACKWARD = "flow_forward", "flow_backward"  # FrameArrays.passes keys: (H, W, 3) u, v, valid


def forward(vector: np.ndarray) -> np.ndarray:
    """Flow to the next frame, OpenCV pixel axes (x right, y down), from Cycles' vector pass (whose ZW hold
    the current minus the next position, y up)."""
    return np.dstack([-vector[..., 2], vector[..., 3]]).astype(np.float32)


def backward(vector: np.ndarray) -> np.ndarray:
    """Flow to the previous frame (XY hold the previous minus the current position, y up)."""
    return np.dstack([vector[..., 0], -vector[..., 1]]).astype(np.float32)


def consistent(flow: np.ndarray, surface: np.ndarray, back: np.ndarray, other_surface: np.ndarray) -> np.ndarray:
    """Where ``flow`` lands on the same surface in the other frame: inside it, on a surface, and the other
    frame's flow ``back`` (bilinear at the landing point) returns within 0.5 px + 5 % of the motion."""
    import cv2

    height, width = surface.shape
    u, v = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    x, y = u + flow[..., 0], v + flow[..., 1]
    returned = cv2.remap(back, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)
    inside = (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)
    landed = np.zeros_like(surface)
    xi, yi = np.clip(np.rint(x).astype(int), 0, width - 1), np.clip(np.rint(y).astype(int), 0, height - 1)
    landed[inside] = other_surface[yi[inside], xi[inside]]
    error = np.linalg.norm(flow + returned, axis=-1)
    with np.errstate(invalid="ignore"):
        return surface & inside & landed & (error < 0.5 + 0.05 * np.linalg.norm(flow, axis=-1))


def kitti(flow: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """KITTI's flow PNG layout, in OpenCV's BGR channel order (B = valid, G = v, R = u)."""
    encoded = np.clip(np.rint(np.nan_to_num(flow) * 64 + 2 ** 15), 0, 65535).astype(np.uint16)
    return np.dstack([valid.astype(np.uint16), encoded[..., 1], encoded[..., 0]])


def decode_kitti(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(flow (H, W, 2) float32, valid (H, W) bool) from a KITTI flow PNG read by OpenCV."""
    flow = (np.dstack([bgr[..., 2], bgr[..., 1]]).astype(np.float32) - 2 ** 15) / 64
    return flow, bgr[..., 0] > 0


def colour(flow: np.ndarray, valid: np.ndarray, full_px: float | None = None) -> np.ndarray:
    """A picture of flow (BGR uint8): hue is the direction, saturation the length (``full_px`` or the
    99th percentile is full), black where invalid; the usual optical-flow colour wheel."""
    import cv2

    length = np.linalg.norm(np.nan_to_num(flow), axis=-1)
    full = full_px or max(float(np.percentile(length[valid], 99)) if valid.any() else 1.0, 1e-6)
    angle = (np.degrees(np.arctan2(-flow[..., 1], -flow[..., 0])) + 180.0) / 2.0  # OpenCV hue: 0-180
    hsv = np.dstack([np.nan_to_num(angle), np.clip(length / full, 0, 1) * 255, np.full(length.shape, 255.0)])
    picture = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)
    picture[~valid] = 0
    return picture


def _png_of(key: str):
    def encode(arrays: FrameArrays, extension: str) -> bytes:
        both = arrays.passes[key]
        return _png(kitti(both[..., :2], both[..., 2] > 0))
    return encode


def _npy_of(key: str):
    def encode(arrays: FrameArrays, extension: str) -> bytes:
        flow = arrays.passes[key][..., :2].copy()
        flow[~np.isfinite(arrays.depth)] = np.nan
        buffer = io.BytesIO()
        np.save(buffer, flow.astype(np.float32))
        return buffer.getvalue()
    return encode


for direction, key in (("forward", FORWARD), ("backward", BACKWARD)):
    register(Output(key, f"{key}_file", key, PNG, _png_of(key), switch=chosen("flow"),
                    pixels=PixelSpec(3, ("uint16",)), render_pass=VECTOR,
                    description=f"optical flow to the clip's {'next' if direction == 'forward' else 'previous'} "
                                f"frame, KITTI PNG: 64 u + 2^15, 64 v + 2^15, valid"))
    register(Output(f"{key}_float", f"{key}_float_file", key, lambda labels: ".npy", _npy_of(key),
                    switch=chosen("flow_float"), render_pass=VECTOR,
                    description=f"{direction} flow as float32 (H, W, 2) pixels; NaN = no surface"))
