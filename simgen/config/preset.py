"""Render presets (``render_configs/*.yaml``): how a frame is rendered, separate from what is in it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from simgen.config.scenario import StrictModel


class RenderPreset(StrictModel):
    """Resolution, sampling and device settings for Cycles."""

    name: str = "custom"
    resolution: tuple[int, int] = Field((640, 480), description="width, height in pixels")
    samples: int = Field(32, ge=1, description="maximum Cycles samples per pixel")
    adaptive_threshold: float = Field(0.02, ge=0, description="noise threshold for adaptive sampling; 0 disables it")
    denoise: bool = Field(False, description="OpenImageDenoise on the RGB (labels are never denoised)")
    max_bounces: int = Field(4, ge=0)
    device: Literal["auto", "cpu", "gpu"] = "auto"
    threads: int = Field(0, ge=0, description="CPU render threads; 0 = all cores")
    view_transform: Literal["Standard", "AgX", "Filmic", "Khronos PBR Neutral"] = "AgX"
    tile_size: int = Field(2048, ge=8)
    world_map_resolution: int = Field(
        512, ge=0, description="HDRI importance-map size; 0 disables world MIS. Below ~256, HDRIs with small "
                               "bright lamps (e.g. 'studio') leave white fireflies at low sample counts")
