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


def test_overcast_sky_is_the_cie_gradation_and_lights_the_ground_with_seven_ninths(tmp_path) -> None:
    """Rendered beside a uniform sky of the same colour and strength: each sky pixel is (1 + 2 sin(elevation)) / 3
    of it, and the open ground gets 7/9 of its light (the CIE overcast sky integrated over the hemisphere)."""
    import dataclasses

    import yaml

    from simgen.run.redirect import redirect_output
    from tests.conftest import tiny_backend

    path = tmp_path / "overcast.yaml"
    path.write_text(yaml.safe_dump({
        "name": "overcast", "frames": 1,
        "classes": [{"name": "ball", "asset": "primitive:sphere", "count": 1, "scale": 0.2}],
        "camera": {"focal_length_mm": 14.0, "orbit": {"distance": 6.0, "elevation_deg": 12.0, "look_at": "objects"}},
        "sun": {"strength": 0.0}, "world": {"type": "overcast", "color": [0.6, 0.6, 0.6], "strength": 2.0}}))
    log = tmp_path / "blender.log"
    backend, _, sampler, _ = tiny_backend(path, log)
    frame = sampler.sample(0)
    radiance = {}
    try:
        for kind in ("overcast", "color"):
            with redirect_output(log):
                backend.apply(dataclasses.replace(frame, world=dataclasses.replace(frame.world, type=kind)))
                backend.render()
                passes = backend.save_outputs(tmp_path / f"{kind}.png")
                radiance[kind] = backend.read_combined().mean(axis=2)
    finally:
        backend.close()
    open_sky = np.pad(~np.isfinite(passes.depth), 1, constant_values=True)
    sky = open_sky[1:-1, 1:-1] & open_sky[:-2, 1:-1] & open_sky[2:, 1:-1] & open_sky[1:-1, :-2] & open_sky[1:-1, 2:]
    rows, cols = np.nonzero(sky)  # (a pixel beside a surface mixes it in through the pixel filter)
    K, world_to_camera = np.array(frame.camera.K), np.array(frame.camera.world_to_camera)
    rays = np.linalg.inv(K) @ np.stack([cols, rows, np.ones_like(cols)]).astype(float)  # pixel centres
    up = (world_to_camera[:3, :3].T @ rays)[2] / np.linalg.norm(rays, axis=0)
    expected = (1 + 2 * np.maximum(up, 0)) / 3
    assert len(rows) > 500 and up.max() > 0.2, "the view holds sky well above the horizon"
    ratio = radiance["overcast"][sky] / radiance["color"][sky]
    assert np.abs(ratio / expected - 1).max() < 0.03  # (1.8 %: the pixel filter averages across the horizon)
    assert radiance["overcast"][sky].max() / radiance["overcast"][sky].min() > 1.4, "brighter up high"
    ground = (passes.instance == 0) & np.isfinite(passes.depth) & (passes.depth < 20)
    lit = np.median(radiance["overcast"][ground]) / np.median(radiance["color"][ground])
    assert lit == pytest.approx(7 / 9, rel=0.04)  # (0.763: the ball shades a little)
    world = dataclasses.replace(frame.world, color=(0.6, 0.6, 0.6), strength=2.0)
    assert photometry.sky_illuminance("overcast", 2.0, world.color, None) == pytest.approx(
        7 / 9 * photometry.sky_illuminance("color", 2.0, world.color, None))
