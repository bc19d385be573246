"""Light in the units people measure it in: lux at the objects, and how a camera exposes for it.

Blender's light units are radiometric watts; at Blender's (and glTF's) 683 lm/W a sun of strength
S W/m^2 gives S * 683 lx on a surface facing it, and a point or spot lamp of P W (Blender spreads a
lamp's power over the whole sphere, a spot only masks it) gives P * 683 / (4 pi d^2) lx at d metres.
So a condition can ask for "5-30 lx at the objects" and get it at any scene scale.

Exposure: simgen's EV 0 shows a surface lit with ``REFERENCE_LUX`` as a day scene. A camera with
auto-exposure lifts a darker scene towards that, but only as far as its longest shutter and
highest gain go (``max_boost_ev``); beyond that a night stays dark, and the gain it used shows as
noise.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from simgen.assets.files import bundled_hdri_file
from simgen.sampling.frame_spec import LightParams, SunParams, WorldParams

if TYPE_CHECKING:
    from simgen.sampling.frame_spec import FrameSpec

LUMENS_PER_WATT = 683.0
REFERENCE_LUX = 3000.0  # what EV 0 exposes for: a built-in day (sun 1-4 W/m^2 and its sky) gives 1500-9000 lx
# Blender's physical sky at strength 1 lights a horizontal surface with 5.7, 9.2 and 10.4 klx with the
# sun at 10, 32 and 46 degrees (measured: a white plane under the sky alone); 11 klx * sin(elevation)^0.3
# meets those within 12 %.
SKY_TEXTURE_LUX = 11000.0


def sun_illuminance(strength_w_m2: float) -> float:
    return strength_w_m2 * LUMENS_PER_WATT


def sun_strength(lux: float) -> float:
    return lux / LUMENS_PER_WATT


def lamp_power(lux: float, distance_m: float, kind: str) -> float:
    """The power (Blender W) that gives ``lux`` at ``distance_m`` on the lamp's axis."""
    if kind == "area":  # a Lambertian emitter: on-axis intensity P / pi per steradian
        return lux * math.pi * distance_m ** 2 / LUMENS_PER_WATT
    return lux * 4 * math.pi * distance_m ** 2 / LUMENS_PER_WATT


def lamp_illuminance(power_w: float, distance_m: float, kind: str) -> float:
    """Illuminance on the axis at ``distance_m``, facing the lamp (inverse-square, no shadowing)."""
    unit = lamp_power(1.0, max(distance_m, 1e-3), kind)
    return power_w / unit


def _read_radiance(path: Path) -> np.ndarray | None:
    try:
        if path.suffix.lower() == ".exr":
            import OpenEXR

            with OpenEXR.File(str(path)) as image:
                channels = image.channels()
                if "RGB" in channels:
                    return np.asarray(channels["RGB"].pixels, np.float64)[..., :3]
                return np.dstack([np.asarray(channels[c].pixels, np.float64) for c in "RGB"])
        import cv2

        bgr = cv2.imread(str(path), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR)
        return None if bgr is None else bgr[..., ::-1].astype(np.float64)
    except Exception:  # noqa: BLE001 - an unreadable map only loses the sky's share of the estimate
        return None


@lru_cache(maxsize=64)
def hdri_illuminance(path: str) -> float:
    """Horizontal illuminance (lx) an equirectangular HDRI gives at strength 1: the upper hemisphere's
    luminance weighted by cos(zenith angle) and solid angle (pi * L for a uniform sky)."""
    radiance = _read_radiance(Path(path))
    if radiance is None or radiance.ndim != 3:
        return 0.0
    luminance = np.clip(radiance @ [0.2126, 0.7152, 0.0722], 0, None)
    height, width = luminance.shape
    elevation = (0.5 - (np.arange(height) + 0.5) / height) * math.pi  # +pi/2 at the top row
    weight = np.where(elevation > 0, np.sin(elevation) * np.cos(elevation), 0.0)  # cos(zenith) * solid angle
    solid = (math.pi / height) * (2 * math.pi / width)
    return float((luminance * weight[:, None]).sum() * solid * LUMENS_PER_WATT)


def sky_illuminance(kind: str, strength: float, color: tuple[float, float, float], hdri: str | None,
                    sun_elevation_deg: float = 45.0) -> float:
    """What the world adds on a horizontal surface, in lux, for each kind of world."""
    if kind == "color":
        return math.pi * float(np.dot(color, [0.2126, 0.7152, 0.0722])) * strength * LUMENS_PER_WATT
    if kind == "overcast":  # the integral of L_z (1 + 2 cos(zenith)) / 3 * cos(zenith) over the sky: 7 pi / 9 L_z
        return 7 * math.pi / 9 * float(np.dot(color, [0.2126, 0.7152, 0.0722])) * strength * LUMENS_PER_WATT
    if kind == "sky":
        return SKY_TEXTURE_LUX * max(math.sin(math.radians(sun_elevation_deg)), 0.02) ** 0.3 * strength
    if not hdri:
        return 0.0
    path = hdri if ("/" in hdri or "." in hdri) else str(bundled_hdri_file(hdri))  # a bundled name
    return hdri_illuminance(path) * strength


def auto_exposure_ev(key_lux: float, max_boost_ev: float, max_cut_ev: float) -> float:
    """The exposure a camera picks to show ``key_lux`` like the reference day, within its limits."""
    wanted = math.log2(REFERENCE_LUX / max(key_lux, 1e-6))
    return float(min(max(wanted, -max_cut_ev), max_boost_ev))


def daylight_illuminance(sun: SunParams | None, world: WorldParams) -> float:
    """Lux on a horizontal surface in the open from the sun and sky."""
    total = sky_illuminance(world.type, world.strength, tuple(world.color), world.hdri,
                            sun.elevation_deg if sun is not None else 45.0)
    if sun is not None:
        total += sun_illuminance(sun.strength) * max(math.sin(math.radians(sun.elevation_deg)), 0.0)
    return total


def lamps_illuminance(point: np.ndarray, lights: Sequence[LightParams]) -> float:
    """Lux at ``point`` from each lamp facing it (inverse square; nothing outside a spot's cone)."""
    total = 0.0
    for light in lights:
        offset = np.asarray(point, float) - np.asarray(light.location, float)
        distance = float(np.linalg.norm(offset))
        if light.type == "spot":
            axis = np.asarray(light.target, float) - np.asarray(light.location, float)
            cosine = float(offset @ axis) / max(distance * float(np.linalg.norm(axis)), 1e-9)
            if cosine < math.cos(math.radians(light.spot_angle_deg) / 2):
                continue  # outside the cone
        total += lamp_illuminance(light.power_w, distance, light.type)
    return total


def illuminance_at(point: np.ndarray, sun: SunParams | None, lights: Sequence[LightParams],
                   world: WorldParams, daylight_factor: float = 1.0) -> float:
    """Lux at ``point`` on a horizontal surface from the sun and sky (indoors: the ``daylight_factor``
    share its windows let in), plus each lamp facing it (no shadows: an estimate of how much light
    is around, for exposure and for severity labels)."""
    return daylight_illuminance(sun, world) * daylight_factor + lamps_illuminance(point, lights)


def frame_illuminance(frame: "FrameSpec", point: np.ndarray) -> float:
    """Lux at ``point`` in a frame, its environment's daylight factor included."""
    factor = frame.environment.daylight_factor if frame.environment is not None else 1.0
    return illuminance_at(point, frame.sun, frame.lights, frame.world, factor)
