"""Render presets (``render_configs/*.yaml``): how a frame is rendered, separate from what is in it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from simgen.config.limits import MAX_PIXELS, MAX_SAMPLES, MAX_SIDE_PX

from simgen.config.strict import StrictModel


Side = Annotated[int, Field(ge=1, le=MAX_SIDE_PX)]


class RenderPreset(StrictModel):
    """Resolution, sampling and device settings for Cycles."""

    name: str = "custom"
    resolution: tuple[Side, Side] = Field((640, 480), description=f"width, height in pixels (each 1..{MAX_SIDE_PX})")
    samples: int = Field(32, ge=1, le=MAX_SAMPLES, description="maximum Cycles samples per pixel")
    adaptive_threshold: float = Field(0.02, ge=0, le=1,
                                      description="noise threshold for adaptive sampling; 0 disables it")
    denoise: bool = Field(False, description="OpenImageDenoise on the RGB (labels are never denoised)")
    max_bounces: int = Field(4, ge=0, le=1024)
    device: Literal["auto", "cpu", "gpu"] = "auto"
    threads: int = Field(0, ge=0, le=1024, description="CPU render threads; 0 = all cores")
    view_transform: Literal["Standard", "AgX", "Filmic", "Khronos PBR Neutral"] = "AgX"
    tile_size: int = Field(2048, ge=8, le=65_536)
    persistent_data: bool = Field(
        False, description="keep Cycles' scene from one frame to the next: about 3 % faster at 160x120, but a "
                           "frame's noise then depends on the frames rendered before it in the same process, so a "
                           "resumed or re-rendered frame differs in noise (not in labels)")
    world_map_resolution: int = Field(
        512, ge=0, le=16_384, description="HDRI importance-map size; 0 disables world MIS. Below ~256, HDRIs with small "
                               "bright lamps (e.g. 'studio') leave white fireflies at low sample counts")

    @model_validator(mode="after")
    def _pixels_bounded(self) -> "RenderPreset":
        width, height = self.resolution
        if width * height > MAX_PIXELS:
            raise PydanticCustomError("resolution", "{w}x{h} is {mp} megapixels; at most {limit} are supported",
                                      {"w": width, "h": height, "mp": width * height // 1_000_000,
                                       "limit": MAX_PIXELS // 1_000_000})
        return self
