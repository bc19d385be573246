"""Near-infrared reflectance (850 nm, an active NIR camera's band), from what a frame already knows.

Most dyes and pigments are transparent in the near infrared, so a dyed fabric or plastic reflects
strongly whatever its visible colour, while carbon-black pigments stay dark; metals reflect about
as in the visible. So, unless a class gives ``nir_reflectance``: metallic surfaces 0.6; others
0.08 + 0.62 min(1, 2.5 V), with V the HSV value of their base colour (black 0.08, anything from
mid-grey up 0.7). Environment surfaces take their family's value from published spectra: asphalt
low, plaster and white paint high, glass dark (it transmits NIR, but is drawn as a surface).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simgen.sampling.frame_spec import EnvMaterial, MaterialParams

FAMILY = {"planks": 0.55, "laminate": 0.55, "wood": 0.55, "tiles": 0.6, "carpet": 0.5, "concrete": 0.35,
          "plaster": 0.8, "wallpaper": 0.7, "bricks": 0.45, "panels": 0.4, "asphalt": 0.12, "paving": 0.35,
          "paint": 0.75, "paint_color": 0.5, "glass": 0.05, "dark_glass": 0.05, "metal": 0.5, "stone": 0.4,
          "lamp": 0.8}


@dataclass
class ProjectorParams:
    """The dot projector of a frame: its power, baseline and pattern (see ProjectorSpec)."""

    power_w: float
    offset_m: float
    fov_deg: float
    dot_spacing_deg: float
    dot_size: float


@dataclass
class NirParams:
    """What the NIR view of a frame is lit by and how each thing in it reflects."""

    illuminator_w: float
    cone_deg: float
    offset_m: float
    sun_share: float
    sky_share: float
    lamp_share: float
    objects: list[float] = field(default_factory=list)  # per labeled object, in the frame's order
    props: list[float] = field(default_factory=list)  # per solid prop (surface, backdrop, distractors)
    ground: float = 0.35
    environment: dict[str, float] = field(default_factory=dict)  # per environment material group
    projector: ProjectorParams | None = None


def reflectance(material: MaterialParams) -> float:
    if material.metallic > 0.5:
        return 0.6
    return 0.08 + 0.62 * min(1.0, 2.5 * float(material.hsv[2]))


def family_reflectance(look: EnvMaterial) -> float:
    return FAMILY.get(look.family, 0.4)
