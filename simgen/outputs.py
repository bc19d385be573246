"""The per-frame outputs of a dataset, declared once: every part that names, writes, checks or
carries frame files reads this list instead of keeping its own copy.

An output says which folder and COCO ``images[]`` key it has, when it is written (some are
opt-in through the scenario's ``labels:``), how its file is encoded from the frame's arrays,
and what ``validate`` must find when it decodes the file. The image record (``annotate``),
the writer, the dataset layout that ``--overwrite`` may clear, ``merge``, ``export`` and
``validate`` all loop over ``OUTPUTS``. A new output is one ``OUTPUTS.register`` call, here or
in a plug-in (entry point group ``simgen.outputs``, each entry an Output; see simgen.plugins).
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from simgen.plugins import OUTPUTS


@dataclass(frozen=True)
class FrameArrays:
    """What encoders receive: one frame's label arrays (rows top-down, as in the images)."""

    depth_mm: np.ndarray  # uint16 millimetres, 0 = no surface
    depth: np.ndarray  # float32 metres, inf = no surface
    instance: np.ndarray  # instance ids
    semantic: np.ndarray  # category ids
    panoptic: np.ndarray | None = None  # RGB panoptic segment ids, when written
    passes: dict[str, np.ndarray] = field(default_factory=dict)  # render passes outputs asked for, by pass name
    camera: Any = None  # the frame's CameraParams (K, world_to_camera, stereo baseline), for camera-space outputs


@dataclass(frozen=True)
class RenderPass:
    """A Cycles pass an output needs: the view-layer switch that turns it on, its layer name in the EXR
    and its channels. The backend enables and reads whatever the enabled outputs declare."""

    name: str
    switch: str  # ViewLayer attribute, e.g. use_pass_normal
    layer: str  # EXR layer, e.g. Normal, "Diffuse Color"
    channels: str  # e.g. XYZ


@dataclass(frozen=True)
class PixelSpec:
    """What ``validate`` requires of a decoded file: channel count and the dtypes allowed."""

    channels: int
    dtypes: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.channels}-channel {' or '.join(self.dtypes)}"


@dataclass(frozen=True)
class Output:
    name: str
    key: str  # the COCO images[] key holding the file's path
    folder: str
    extension: Callable[[Any], str]  # labels spec -> ".png", ".npy", ...
    encode: Callable[[FrameArrays, str], bytes] | None  # None: the renderer writes it (the RGB image)
    switch: Callable[[Any], bool] | None = None  # labels spec -> on?; None = always written
    pixels: PixelSpec | None = None  # checked by validate when the file is a PNG
    description: str = ""
    render_pass: RenderPass | None = None  # a pass the backend must render for it

    def enabled(self, labels: Any) -> bool:
        return self.switch is None or self.switch(labels)

    def path(self, index: int, labels: Any) -> str:
        return f"{self.folder}/{index:06d}{self.extension(labels)}"


def _png(array: np.ndarray) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".png", array, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    assert ok
    return encoded.tobytes()


def _float_depth(arrays: FrameArrays, extension: str) -> bytes:
    """float32 metres along the camera axis as .npy or single-channel .exr (inf where nothing was hit)."""
    depth = arrays.depth.astype(np.float32)
    if extension == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, depth)
        return buffer.getvalue()
    import OpenEXR

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "depth.exr"
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        OpenEXR.File(header, {"Z": depth}).write(str(path))
        return path.read_bytes()


def _png_of(field: str, dtype: type | None = None) -> Callable[[FrameArrays, str], bytes]:
    def encode(arrays: FrameArrays, extension: str) -> bytes:
        array = getattr(arrays, field)
        return _png(array.astype(dtype) if dtype is not None else array)
    return encode


PNG = lambda labels: ".png"  # noqa: E731 - the extension of most outputs

def register(output: Output) -> Output:
    return OUTPUTS.register(output.name, output)


register(Output("rgb", "file_name", "images", PNG, None, pixels=PixelSpec(3, ("uint8",)),
                description="RGB as Blender's view transform shows it"))
register(Output("depth", "depth_file", "depth", PNG, _png_of("depth_mm"), pixels=PixelSpec(1, ("uint16",)),
                description="uint16 millimetres along the camera axis; 0 = no surface"))
register(Output("instance", "instance_file", "instance", PNG, _png_of("instance", np.uint16),
                pixels=PixelSpec(1, ("uint16",)), description="uint16 per pixel: the annotation's mask_id; 0 = background"))
register(Output("semantic", "semantic_file", "semantic", PNG, _png_of("semantic"),
                pixels=PixelSpec(1, ("uint8", "uint16")), description="category id per pixel; 0 = background"))
register(Output("depth_float", "depth_float_file", "depth", lambda labels: f".{labels.depth_float}", _float_depth,
                switch=lambda labels: labels.depth_float != "none",
                description="float32 metres (labels.depth_float: npy or exr); inf = no surface"))

def _panoptic_png(arrays: FrameArrays, extension: str) -> bytes:
    assert arrays.panoptic is not None
    return _png(arrays.panoptic[..., ::-1])  # OpenCV writes BGR


register(Output("panoptic", "panoptic_file", "panoptic", PNG, _panoptic_png, switch=lambda labels: bool(labels.panoptic),
                pixels=PixelSpec(3, ("uint8",)),
                description="COCO panoptic: RGB segment id (R + 256 G + 256^2 B), segments in panoptic.json"))


def enabled(labels: Any) -> list[Output]:
    """The outputs a scenario's ``labels:`` section turns on, in declaration order."""
    return [output for output in OUTPUTS.values() if output.enabled(labels)]


def chosen(name: str) -> Callable[[Any], bool]:
    """The switch of an output a scenario asks for by name in ``labels.outputs`` (several outputs may
    answer to one name: ``stereo`` writes the right image and the disparity)."""
    def switch(labels: Any) -> bool:
        return name in (getattr(labels, "outputs", None) or ())

    switch.chosen_name = name  # type: ignore[attr-defined]
    return switch


def render_passes(labels: Any) -> list[RenderPass]:
    """The render passes the enabled outputs need, each once."""
    passes = {output.render_pass.name: output.render_pass for output in enabled(labels) if output.render_pass}
    return list(passes.values())


def optional_names() -> list[str]:
    """Outputs that ``labels.outputs`` may name."""
    names = (getattr(output.switch, "chosen_name", None) for output in OUTPUTS.values())
    return list(dict.fromkeys(name for name in names if name))


def folders() -> tuple[str, ...]:
    """Every folder any output writes into."""
    return tuple(dict.fromkeys(output.folder for output in OUTPUTS.values()))


def always_keys() -> tuple[str, ...]:
    """The image-record keys every finished frame has (the outputs that are never switched off)."""
    return tuple(output.key for output in OUTPUTS.values() if output.switch is None)


def file_paths(index: int, labels: Any) -> dict[str, str]:
    """COCO images[] key -> path (relative to the dataset) of each file frame ``index`` has."""
    return {output.key: output.path(index, labels) for output in enabled(labels)}


import simgen.surface_outputs  # noqa: E402,F401 - normals and albedo register themselves
import simgen.stereo_outputs  # noqa: E402,F401 - the right camera's image and the disparity
import simgen.nir_output  # noqa: E402,F401 - a near-infrared camera
import simgen.thermal_output  # noqa: E402,F401 - a radiometric thermal camera
import simgen.flow_outputs  # noqa: E402,F401 - optical flow of clips
