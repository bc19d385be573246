"""The ``environment:`` section: the place objects stand in (a room, a street, a table in a room).

Every number is a distribution, sampled once per layout (frame index // ``every``), so a run can
keep one room for many frames while the objects, camera and light change each frame.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from simgen.config.distributions import ChoiceDist, Distribution, FloatDist, IntDist, constant, uniform, within
from simgen.config.strict import StrictModel

Metres = Annotated[FloatDist, AfterValidator(lambda d: within(d, 0, 10_000, "distance in metres", open_low=True))]
Small = Annotated[IntDist, AfterValidator(lambda d: within(d, 0, 64, "count (0..64)"))]
Lux = Annotated[FloatDist, AfterValidator(lambda d: within(d, 0, 200_000, "illuminance in lux"))]

FLOORS = ("planks", "tiles", "carpet", "concrete")
WALLS = ("plaster", "wallpaper", "concrete", "bricks")
FACADES = ("bricks", "plaster", "concrete", "panels")


def choice(*names: str) -> Distribution:
    return Distribution("choice", names)


class RoomSpec(StrictModel):
    """A rectangular or L-shaped room with doors, windows (the world seen through them), ceiling lamps
    and baseboards."""

    width_m: Metres = Field(default_factory=lambda: uniform(4.0, 7.0), description="inner size along x")
    depth_m: Metres = Field(default_factory=lambda: uniform(4.0, 7.0), description="inner size along y")
    l_shape: float = Field(0.3, ge=0, le=1, description="probability that a corner is cut out (an L-shaped plan)")
    height_m: Metres = Field(default_factory=lambda: uniform(2.5, 3.1))
    windows: Small = Field(default_factory=lambda: Distribution("uniform", (1, 3), integer=True))
    window_width_m: Metres = Field(default_factory=lambda: uniform(0.9, 1.8))
    window_height_m: Metres = Field(default_factory=lambda: uniform(1.0, 1.5))
    sill_m: Metres = Field(default_factory=lambda: uniform(0.7, 1.0), description="window sill height")
    doors: Small = Field(default_factory=lambda: constant(1))
    lamps: Small = Field(default_factory=lambda: Distribution("uniform", (1, 2), integer=True),
                         description="ceiling fixtures")
    floor: ChoiceDist = Field(default_factory=lambda: choice(*FLOORS), description=f"one of {', '.join(FLOORS)}")
    walls: ChoiceDist = Field(default_factory=lambda: choice(*WALLS), description=f"one of {', '.join(WALLS)}")
    ceiling: ChoiceDist = Field(default_factory=lambda: choice("plaster"), description="plaster or concrete")


class TableSpec(StrictModel):
    """The table of a tabletop environment: its top is where labeled objects stand."""

    width_m: Metres = Field(default_factory=lambda: uniform(1.2, 1.8))
    depth_m: Metres = Field(default_factory=lambda: uniform(0.7, 1.0))
    height_m: Metres = Field(default_factory=lambda: uniform(0.72, 0.78))
    top: ChoiceDist = Field(default_factory=lambda: choice("planks", "laminate", "stone"),
                            description="planks, laminate or stone")
    outdoors: float = Field(0.0, ge=0, le=1, description="probability that the table stands on a paved patio "
                                                         "under the open sky instead of in a room (the rain and "
                                                         "snow conditions set 1)")


class StreetSpec(StrictModel):
    """A straight street between two rows of buildings: lanes and markings, kerbs and sidewalks,
    crosswalks, street lamps, signs and traffic lights; both ends closed by a cross street's facades."""

    intersection: float = Field(0.4, ge=0, le=1, description="probability that a second street crosses this one "
                                                              "near its middle")
    lanes: Annotated[IntDist, AfterValidator(lambda d: within(d, 1, 8, "lane count (1..8)"))] = Field(
        default_factory=lambda: Distribution("choice", (2, 2, 3, 4), integer=True))
    lane_width_m: Metres = Field(default_factory=lambda: uniform(3.0, 3.6))
    sidewalk_m: Metres = Field(default_factory=lambda: uniform(2.5, 5.0))
    length_m: Metres = Field(default_factory=lambda: constant(220.0), description="between the closing facades")
    building_width_m: Metres = Field(default_factory=lambda: uniform(8.0, 24.0), description="frontage per building")
    building_height_m: Metres = Field(default_factory=lambda: uniform(7.0, 28.0))
    facade: ChoiceDist = Field(default_factory=lambda: choice(*FACADES), description=f"one of {', '.join(FACADES)}")
    lamp_spacing_m: Metres = Field(default_factory=lambda: uniform(22.0, 32.0))
    lamp_height_m: Metres = Field(default_factory=lambda: uniform(6.0, 8.0))
    crosswalks: Small = Field(default_factory=lambda: Distribution("uniform", (0, 2), integer=True))
    signs: Small = Field(default_factory=lambda: Distribution("uniform", (1, 4), integer=True))
    traffic_lights: Small = Field(default_factory=lambda: Distribution("uniform", (0, 2), integer=True),
                                  description="pairs, at crosswalks")
    lit_windows: FloatDist = Field(default_factory=lambda: uniform(0.2, 0.6),
                                   description="share of windows lit when the lamps are on")


class LampsSpec(StrictModel):
    """The environment's own lights (ceiling fixtures, street lamps), their power set from the
    illuminance they give on the floor or road below them."""

    on: Literal["auto", "always", "never"] = Field(
        "auto", description="auto: rooms always; streets when daylight at the objects falls under 1000 lx")
    illuminance_lux: Lux | None = Field(
        None, description="at the floor under a lamp (default: rooms [100, 300], streets [5, 30])")
    color_temperature_k: FloatDist = Field(default_factory=lambda: uniform(2700.0, 4500.0))


class EnvironmentSpec(StrictModel):
    """Where objects stand: ``open`` (the ground plane and world, as without this section), a
    ``room``, a ``street`` or a ``tabletop`` (a table in a room)."""

    type: Literal["open", "room", "street", "tabletop"] = "open"
    every: int = Field(1, ge=1, le=1_000_000, description="a new layout every this many frames")
    room: RoomSpec = Field(default_factory=RoomSpec)
    table: TableSpec = Field(default_factory=TableSpec)
    street: StreetSpec = Field(default_factory=StreetSpec)
    lamps: LampsSpec = Field(default_factory=LampsSpec)
