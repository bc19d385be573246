"""Long-wave infrared (8-14 um): surface temperatures and emissivities, from what a frame knows (pure).

A thermal camera sees emitted radiance, about eps sigma T^4 / pi, plus the (1 - eps) share of its
surroundings a surface reflects; the sun barely counts in this band and lamps not at all. Unless a
class gives ``temperature_c``, objects take the air's temperature, except the classes people and
running vehicles make warm (clothing over skin 28-34 C, a car's body 25-60 C with the engine running).
Ground and facades warm in the sun by up to 20 C (by the sun's illuminance on the ground, so not
under the moon; less when wet),
glass is cool (it reflects the cold sky), a clear sky reads 20-40 C colder than the air, and
ceiling and street lamps are hot.

Parts: an asset's faces belong to a part by their material's name (``part_of``: tyres, glass, lamps;
the rest is the body). A running vehicle's tyres are 5-20 C above the air (rolling friction), its
lamps 30-60 C above it when lit (at night) and its glass halfway between the air and the cabin;
a class's ``parts_c`` sets any of them. Other classes' parts take the body's temperature, each
with its material's emissivity (rubber 0.95, glass 0.85).
"""

from __future__ import annotations

from dataclasses import dataclass, field

WARM = {"person": (28.0, 34.0), "pedestrian": (28.0, 34.0), "people": (28.0, 34.0), "rider": (28.0, 34.0),
        "car": (25.0, 60.0), "truck": (25.0, 70.0), "bus": (25.0, 60.0), "motorcycle": (30.0, 80.0),
        "vehicle": (25.0, 60.0), "dog": (30.0, 36.0), "cat": (30.0, 36.0)}
SOLAR_GAIN_C = {"asphalt": 20.0, "paving": 12.0, "concrete": 12.0, "bricks": 10.0, "panels": 8.0, "plaster": 6.0,
                "metal": 12.0, "stone": 10.0}
EMISSIVITY = {"glass": 0.85, "dark_glass": 0.85, "metal": 0.3, "lamp": 0.9}
PARTS = ("body", "tyre", "glass", "lamp")  # index = the mesh's simgen_part face attribute
PART_WORDS = {  # lower-case fragments of material names, checked lamp first ("GLASS_headlights" is a lamp)
    "lamp": ("light", "lamp", "faro", "signal", "reflector", "indicator", "blinker"),
    "tyre": ("tire", "tyre", "rubber", "tread", "neumatic"),
    "glass": ("glass", "window", "cristal", "windshield", "windscreen", "mirror"),
}
PART_EMISSIVITY = {"tyre": 0.95, "glass": 0.85, "lamp": 0.9}
VEHICLES = {"car", "truck", "bus", "motorcycle", "vehicle"}
REFERENCE_K = 300.0  # radiances are rendered in units of a 300 K black body's, to keep them near 1


@dataclass
class ThermalParams:
    """Temperatures (Celsius) and emissivities of everything in a frame's thermal view, and the sky's."""

    ambient_c: float
    sky_c: float
    noise_k: float  # the camera's noise-equivalent temperature difference (NETD)
    blur_px: float
    objects: list[tuple[float, float]] = field(default_factory=list)  # (temperature, emissivity) per labeled object
    parts: list[list[tuple[float, float]]] = field(default_factory=list)  # per labeled object: tyre, glass, lamp
    props: list[tuple[float, float]] = field(default_factory=list)
    ground: tuple[float, float] = (20.0, 0.95)
    environment: dict[str, tuple[float, float]] = field(default_factory=dict)  # per material group


def radiance(celsius: float, emissivity: float = 1.0) -> float:
    """Emitted radiance in units of a 300 K black body's (Stefan-Boltzmann over the band, a grey body)."""
    return emissivity * ((celsius + 273.15) / REFERENCE_K) ** 4


def apparent_celsius(relative_radiance: float) -> float:
    """The black-body temperature that emits ``relative_radiance`` (what a radiometric camera reports)."""
    return REFERENCE_K * max(relative_radiance, 0.0) ** 0.25 - 273.15


def class_temperature(name: str, ambient_c: float, draw: float) -> float:
    low, high = WARM.get(name.lower(), (ambient_c - 1.0, ambient_c + 1.0))
    return low + draw * (high - low)


def solar_load(sun_lux_horizontal: float) -> float:
    """0..1: how strongly the sun heats what it shines on (full summer sun, ~80,000 lx on the ground, is 1)."""
    return min(max(sun_lux_horizontal / 80_000.0, 0.0), 1.0)


def surface_temperature(family: str, group: str, ambient_c: float, sun_load: float, wetness: float,
                        lamps_on: bool) -> tuple[float, float]:
    """(temperature, emissivity) of an environment surface group; ``sun_load`` from solar_load."""
    emissivity = EMISSIVITY.get(family, 0.95)
    if group == "lamp":
        return (ambient_c + 40.0 if lamps_on else ambient_c, emissivity)
    if group == "window_lit" and lamps_on:
        return (ambient_c + 5.0, emissivity)
    return (ambient_c + SOLAR_GAIN_C.get(family, 4.0) * sun_load * (1.0 - 0.7 * wetness), emissivity)


def part_of(material_name: str) -> int:
    """The part (index into PARTS) a face with this material belongs to."""
    name = material_name.lower()
    for part in ("lamp", "tyre", "glass"):
        if any(word in name for word in PART_WORDS[part]):
            return PARTS.index(part)
    return 0


def part_temperatures(name: str, body: tuple[float, float], ambient_c: float, lamps_on: bool,
                      draws: tuple[float, float], given: dict[str, float] | None = None) -> list[tuple[float, float]]:
    """(temperature, emissivity) of an object's tyres, glass and lamps (PARTS[1:]), from its class and body."""
    temperature = body[0]
    if name.lower() in VEHICLES:  # running: warm tyres, lit lamps at night, a warm cabin behind the glass
        values = {"tyre": ambient_c + 5.0 + 15.0 * draws[0],
                  "glass": (ambient_c + temperature) / 2,
                  "lamp": ambient_c + 30.0 + 30.0 * draws[1] if lamps_on else ambient_c + 2.0}
    else:
        values = {part: temperature for part in PARTS[1:]}
    values.update(given or {})
    return [(values[part], PART_EMISSIVITY[part]) for part in PARTS[1:]]
