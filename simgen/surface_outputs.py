"""Surface normals and albedo: two outputs, each one ``register`` call with the Cycles pass it needs.

Normals are in camera space with OpenCV axes (x right, y down, z forward), as the 4x4
``world_to_camera`` of the image record; Cycles gives them in world space, averaged over a pixel's
samples, so they are turned into the camera's axes and renormalised (at an object's edge a pixel's
normal is the mean of what it covers). Albedo is Cycles' diffuse colour pass: the surface's base
colour without any light, less the few per cent its glossy coat reflects (Fresnel, more at grazing
angles); metals (no diffuse part) are black.
"""

from __future__ import annotations

import io

import numpy as np

from simgen.outputs import PNG, FrameArrays, Output, PixelSpec, RenderPass, _png, chosen, register

NORMAL = RenderPass("normal", "use_pass_normal", "Normal", "XYZ")
ALBEDO = RenderPass("albedo", "use_pass_diffuse_color", "Diffuse Color", "RGB")


def camera_normals(arrays: FrameArrays) -> np.ndarray:
    """(H, W, 3) unit normals in OpenCV camera axes; NaN where no surface was hit."""
    assert arrays.camera is not None
    world = arrays.passes[NORMAL.name].astype(np.float64)
    camera = world @ np.asarray(arrays.camera.world_to_camera)[:3, :3].T
    length = np.linalg.norm(camera, axis=-1, keepdims=True)
    camera = camera / np.maximum(length, 1e-12)
    camera[~np.isfinite(arrays.depth) | (length[..., 0] < 1e-6)] = np.nan
    return camera


def _normals_png(arrays: FrameArrays, extension: str) -> bytes:
    """uint16 per axis: (n + 1) / 2 * 65535, x y z in R G B; (0, 0, 0) where no surface (no unit vector maps there)."""
    normals = camera_normals(arrays)
    encoded = np.where(np.isnan(normals), 0.0, np.rint((normals + 1.0) / 2.0 * 65535.0)).astype(np.uint16)
    return _png(encoded[..., ::-1])  # OpenCV writes BGR


def _normals_npy(arrays: FrameArrays, extension: str) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, camera_normals(arrays).astype(np.float32))
    return buffer.getvalue()


def _albedo_png(arrays: FrameArrays, extension: str) -> bytes:
    """8-bit sRGB (the albedo's linear colour through the sRGB curve), like the colour textures it stands for."""
    linear = np.clip(arrays.passes[ALBEDO.name].astype(np.float64), 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return _png(np.rint(srgb * 255.0).astype(np.uint8)[..., ::-1])


register(Output("normals", "normals_file", "normals", PNG, _normals_png, switch=chosen("normals"),
                pixels=PixelSpec(3, ("uint16",)), render_pass=NORMAL,
                description="camera-space unit normals (OpenCV axes), uint16 (n + 1) / 2 * 65535 in R G B; 0 = none"))
register(Output("normals_float", "normals_float_file", "normals", lambda labels: ".npy", _normals_npy,
                switch=chosen("normals_float"), render_pass=NORMAL,
                description="camera-space unit normals as float32 (H, W, 3) .npy; NaN where no surface"))
register(Output("albedo", "albedo_file", "albedo", PNG, _albedo_png, switch=chosen("albedo"),
                pixels=PixelSpec(3, ("uint8",)), render_pass=ALBEDO,
                description="diffuse albedo (base colour without light), 8-bit sRGB"))
