"""Light in lux: the conversions between Blender's watts and what a light meter reads, and the
camera's exposure limits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simgen.sampling import photometry
from simgen.sampling.frame_spec import LightParams, SunParams, WorldParams


def test_lamps_and_sun_in_lux() -> None:
    for kind in ("point", "spot", "area"):
        power = photometry.lamp_power(20.0, 7.0, kind)
        assert photometry.lamp_illuminance(power, 7.0, kind) == pytest.approx(20.0)
        assert photometry.lamp_illuminance(power, 14.0, kind) == pytest.approx(5.0), "inverse square"
    assert photometry.lamp_power(1.0, 1.0, "point") == pytest.approx(4 * math.pi / 683)
    assert photometry.sun_illuminance(photometry.sun_strength(0.2)) == pytest.approx(0.2)


def test_a_uniform_sky_gives_pi_times_its_luminance(tmp_path) -> None:
    import cv2

    path = tmp_path / "uniform.hdr"
    cv2.imwrite(str(path), np.full((64, 128, 3), 0.5, np.float32))
    assert photometry.hdri_illuminance(str(path)) == pytest.approx(math.pi * 0.5 * 683, rel=0.01)
    assert photometry.sky_illuminance("color", 2.0, (0.5, 0.5, 0.5), None) == pytest.approx(2 * math.pi * 0.5 * 683)


def test_illuminance_adds_sources_and_spots_light_only_their_cone() -> None:
    sun = SunParams(elevation_deg=30.0, azimuth_deg=0.0, strength=1.0, color_temperature_k=5500, color=(1, 1, 1),
                    angle_deg=1.0)
    dark = WorldParams(type="color", hdri=None, strength=0.0, rotation_deg=0.0, color=(0.0, 0.0, 0.0))
    spot = LightParams(type="spot", location=(0.0, 0.0, 5.0), target=(0.0, 0.0, 0.0),
                       power_w=photometry.lamp_power(10.0, 5.0, "spot"), color_temperature_k=3000, color=(1, 1, 1),
                       size_m=0.1, spot_angle_deg=40.0)
    here = photometry.illuminance_at(np.zeros(3), sun, [spot], dark)
    assert here == pytest.approx(683 * 0.5 + 10.0)
    aside = photometry.illuminance_at(np.array([10.0, 0.0, 0.0]), None, [spot], dark)
    assert aside == 0.0, "outside the spot's 40 degree cone"


def test_auto_exposure_stops_at_the_camera_limits() -> None:
    reference = photometry.REFERENCE_LUX
    assert photometry.auto_exposure_ev(reference, 5.0, 6.0) == pytest.approx(0.0)
    assert photometry.auto_exposure_ev(reference / 8, 5.0, 6.0) == pytest.approx(3.0)
    assert photometry.auto_exposure_ev(1.0, 5.0, 6.0) == 5.0, "night: only as far as shutter and gain go"
    assert photometry.auto_exposure_ev(reference * 1000, 5.0, 6.0) == -6.0
