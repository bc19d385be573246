"""Render presets (``render_configs/*.yaml``): how a frame is rendered, separate from what is in it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from simgen.config.limits import MAX_PIXELS, MAX_SAMPLES, MAX_SIDE_PX

from simgen.config.strict import StrictModel


Side = Annotated[int, Field(ge=1, le=MAX_SIDE_PX)]
Bounce = Annotated[int, Field(ge=0, le=1024)]


class Bounces(StrictModel):
    """Bounces per kind of scattering; each left out is Blender's default. All but ``transparent`` are
    capped by ``max_bounces``.
    Why per kind: a diffuse bounce or two carries most of a scene's indirect light, while glass and
    water need many transmission bounces to look like glass and not like black."""

    diffuse: Bounce | None = None
    glossy: Bounce | None = None
    transmission: Bounce | None = None
    volume: Bounce | None = Field(None, description="bounces inside fog and other volumes (Blender's default: 0)")
    transparent: Bounce | None = Field(None, description="alpha-transparent surfaces passed through (not capped by "
                                                         "max_bounces: rain streaks and leaves need them)")


class RenderPreset(StrictModel):
    """Resolution, sampling and device settings for Cycles."""

    name: str = "custom"
    resolution: tuple[Side, Side] = Field((640, 480), description=f"width, height in pixels (each 1..{MAX_SIDE_PX})")
    samples: int = Field(32, ge=1, le=MAX_SAMPLES, description="maximum Cycles samples per pixel")
    adaptive_threshold: float = Field(0.02, ge=0, le=1,
                                      description="noise threshold for adaptive sampling; 0 disables it")
    denoise: bool = Field(False, description="OpenImageDenoise on the RGB (labels are never denoised)")
    max_bounces: int = Field(4, ge=0, le=1024)
    bounces: Bounces = Field(default_factory=Bounces)
    adaptive_min_samples: int = Field(0, ge=0, le=MAX_SAMPLES,
                                      description="samples every pixel gets before adaptive sampling may stop it; "
                                                  "0 = Cycles' choice")
    denoise_prefilter: Literal["none", "fast", "accurate"] = Field(
        "accurate", description="how the denoiser cleans its albedo and normal guides first")
    denoise_passes: Literal["rgb", "albedo", "albedo_normal"] = Field(
        "albedo_normal", description="guides the denoiser reads beside the noisy image (edges and textures kept)")
    denoise_quality: Literal["high", "balanced", "fast"] = "high"
    light_tree: bool = Field(True, description="sample lamps by their estimated contribution (many lamps: streets, "
                                               "rooms at night)")
    guiding: bool = Field(False, description="path guiding (CPU only): learns where light comes from while rendering")
    clamp_direct: float = Field(0.0, ge=0, le=1e6, description="clamp of direct light samples; 0 = none")
    clamp_indirect: float = Field(10.0, ge=0, le=1e6, description="clamp of indirect light samples (fireflies); "
                                                                  "0 = none")
    caustics: bool = Field(True, description="reflective and refractive caustics")
    filter_glossy: float = Field(1.0, ge=0, le=10, description="blur of glossy paths after a diffuse bounce "
                                                               "(fewer fireflies)")
    texture_limit: Literal[0, 128, 256, 512, 1024, 2048, 4096, 8192] = Field(
        0, description="largest texture side at render time; 0 = full size")
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
