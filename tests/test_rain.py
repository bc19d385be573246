"""Analytic rain against the physics it is built from: Marshall-Palmer drop sizes, terminal velocity,
streaks as long as a drop falls during the exposure and as wide as the drop, faint where drops are
small against their streak."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import yaml

from conftest import FIXTURES

from simgen.postprocess import rain
from simgen.sampling.frame_spec import AssetBounds

K = np.array([[620.0, 0, 319.5], [0, 620.0, 239.5], [0, 0, 1]])  # 640 x 480, 55 degrees across
LEVEL = np.eye(4)
LEVEL[:3, :3] = [[1, 0, 0], [0, 0, -1], [0, 1, 0]]  # looking along world +y, world up = image up
SIZE = (640, 480)
OPEN = np.full((480, 640), np.inf)


def streaks(rate: float, exposure: float = 1 / 60, seed: int = 0) -> rain.Streaks:
    return rain.sample_streaks(rate, exposure, (0.0, 0.0, 0.0), K, LEVEL, SIZE, np.random.default_rng(seed))


def one(s: rain.Streaks, i: int) -> rain.Streaks:
    pick = slice(i, i + 1)
    return replace(s, start=s.start[pick], end=s.end[pick], width_px=s.width_px[pick], alpha=s.alpha[pick],
                   depth=s.depth[pick], diameter_mm=s.diameter_mm[pick], veil=0.0)


def test_streaks_are_as_long_as_a_drop_falls_and_as_wide_as_it_is() -> None:
    """At 640 x 480, drops beyond 2 m make streaks at most 2 px wide, and each drawn streak is
    v(D) x exposure x f / z long within 20 %."""
    exposure = 1 / 60
    s = streaks(25.0, exposure)
    checked = 0
    for i in np.nonzero(s.depth > 2.0)[0][:400]:
        expected = rain.terminal_velocity(s.diameter_mm[i]) * exposure * K[1, 1] / s.depth[i]
        top, bottom = s.start[i], s.end[i]
        inside = min(top[1], bottom[1]) > 0 and max(top[1], bottom[1]) < 479 and 0 < top[0] < 639
        if expected < 12 or not inside:
            continue  # a few pixels long: rasterising rounds too much to measure
        layer = rain.rain_layer(one(s, i), SIZE, OPEN)
        ys, xs = np.nonzero(layer)
        length = ys.max() - ys.min() + 1  # no wind: straight down the image
        widths = np.bincount(ys - ys.min())
        assert abs(length - expected) <= 0.2 * expected, (length, expected)
        assert np.median(widths) <= 2, "a drop beyond 2 m is at most 2 px wide"
        assert s.width_px[i] <= 2
        checked += 1
    assert checked >= 20


def test_drop_numbers_and_sizes_follow_marshall_palmer() -> None:
    for rate in (1.0, 10.0, 50.0):
        lam = 4.1 * rate ** -0.21
        expected = 8000 / lam * (math.exp(-lam * 0.5) - math.exp(-lam * 6.0))
        assert rain.drops_per_m3(rate) == pytest.approx(expected)
        diameters = rain.sample_diameters(rate, 200_000, np.random.default_rng(1))
        assert diameters.min() >= 0.5 and diameters.max() <= 6.0
        # mean of an exponential cut to [a, b]
        a, b = 0.5, 6.0
        mean = (a * math.exp(-lam * a) - b * math.exp(-lam * b)) / (math.exp(-lam * a) - math.exp(-lam * b)) + 1 / lam
        assert diameters.mean() == pytest.approx(mean, rel=0.01)
    assert rain.drops_per_m3(1.0) < rain.drops_per_m3(10.0) < rain.drops_per_m3(50.0)
    assert rain.terminal_velocity(2.0) == pytest.approx(9.65 - 10.3 * math.exp(-1.2))  # about 6.5 m/s


def test_the_drawn_drops_are_the_ones_in_view() -> None:
    s = streaks(2.0, seed=3)
    volume = rain.frustum_volume(K, SIZE, rain.NEAR_M, s.split_m)
    expected = rain.drops_per_m3(2.0) * volume
    assert abs(len(s.depth) - expected) < 5 * math.sqrt(expected), "Poisson around density x frustum volume"
    assert (s.depth >= rain.NEAR_M).all() and (s.depth <= s.split_m + 1e-9).all()


def test_heavier_rain_covers_more_and_walls_hide_the_drops_behind_them() -> None:
    coverage = [rain.rain_layer(streaks(rate), SIZE, OPEN).mean() for rate in (1.0, 8.0, 50.0)]
    assert coverage[0] < coverage[1] < coverage[2]
    assert coverage[2] < 0.2, "even violent rain leaves most of the exposure to the scene"
    wall = np.full((480, 640), 1.0)  # a surface 1 m away: only drops nearer than it show
    near_only = rain.rain_layer(streaks(50.0), SIZE, wall).mean()
    assert 0 < near_only < coverage[2]


def test_streaks_fade_on_what_they_cross() -> None:
    """A drop shows the light around it: streaks lighten a dark background under a bright sky and
    barely change a bright uniform one, as in photographs."""
    coverage = np.zeros((48, 64), np.float32)
    coverage[10:30, 30] = 0.3
    dark = np.full((48, 64, 3), 0.02, np.float32)
    dark[:, :8] = 1.0  # a bright sky at the side
    assert (rain.apply_rain(dark, coverage)[10:30, 30] > 0.02).all()
    bright = np.full((48, 64, 3), 0.8, np.float32)
    assert np.allclose(rain.apply_rain(bright, coverage)[10:30, 30], 0.8 * (0.7 + 0.3 * rain.DROP_GLOW), atol=1e-3)


def test_snowfall_places_the_nearest_flakes_a_camera_sees_at_that_rate() -> None:
    """Gunn-Marshall numbers and sizes; only the nearest MAX_FLAKES are placed (they are opaque objects
    that labels account for), filling the depth where that many are expected."""
    import simgen
    from simgen.sampling import snowfall

    for rate in (0.5, 3.0):
        lam = 2.55 * rate ** -0.48
        a, b = snowfall.MIN_MELTED_MM, snowfall.MAX_MELTED_MM
        expected = 3800 * rate ** -0.87 / lam * (math.exp(-lam * a) - math.exp(-lam * b))
        assert snowfall.flakes_per_m3(rate) == pytest.approx(expected)
        scenario = simgen.load_scenario({
            "name": "snow", "frames": 2, "weather": {"snow": {"rate_mm_h": rate}},
            "classes": [{"name": "a", "asset": "primitive:cube", "count": 1, "scale": 0.1}]})
        frame = simgen.Generator(scenario, render_config="draft").sample(0)
        K = np.array(frame.camera.K)
        reach = snowfall.reach_m(rate, K, frame.camera.resolution)
        mean_count = expected * snowfall.view_volume(K, frame.camera.resolution, snowfall.NEAR_M, reach)
        assert abs(len(frame.snow) - mean_count) < 5 * math.sqrt(mean_count)
        assert len(frame.snow) <= snowfall.MAX_FLAKES * 1.1
        world_to_camera = np.array(frame.camera.world_to_camera)
        depths = [(world_to_camera[:3, :3] @ p.location + world_to_camera[:3, 3])[2] for p in frame.snow]
        assert min(depths) >= snowfall.NEAR_M - 1e-6 and max(depths) <= reach + 1e-6
        melted = np.array([p.scale[0] for p in frame.snow]) * 1000 / snowfall.FLAKE_PER_MELTED
        mean = (a * math.exp(-lam * a) - b * math.exp(-lam * b)) / (math.exp(-lam * a) - math.exp(-lam * b)) + 1 / lam
        assert melted.mean() == pytest.approx(mean, rel=0.1)
        assert all(p.hides_labels for p in frame.snow), "opaque: the labels account for them"


def test_a_lens_drop_shows_the_scene_around_it_upside_down_and_blurred() -> None:
    from simgen.postprocess.lens_drops import add_lens_drops

    flat = np.full((120, 160, 3), 100, np.uint8)
    seen, coverage = add_lens_drops(flat, [(0.5, 0.5, 0.08)])  # radius 12.8 px at the centre
    assert coverage[60, 80] > 0.8 and coverage[60, 100] == 0.0 and coverage[5, 5] == 0.0
    assert abs(int(seen[60, 80, 0]) - 108) <= 2  # a flat scene stays flat, a little brighter (gathered light)
    edge = np.zeros((120, 160, 3), np.uint8)
    edge[:, 80:] = 255  # dark on the left, bright on the right
    seen, _ = add_lens_drops(edge, [(0.5, 0.5, 0.08)])
    left, right = seen[55:66, 72:78].mean(), seen[55:66, 83:89].mean()
    assert left > right + 60, "inside the drop the bright side shows on the left: the picture is turned"
    assert np.array_equal(seen[:, :50], edge[:, :50])  # nothing changes away from it


def test_rain_puts_drops_on_the_lens(tmp_path) -> None:
    from simgen.config import load_scenario
    from simgen.run.batch import resolve_assets
    from simgen.sampling.sampler import FrameSampler

    def first_frame(weather: dict):
        spec = yaml.safe_load((FIXTURES / "cube.yaml").read_text())
        spec["weather"] = weather
        path = tmp_path / "s.yaml"
        path.write_text(yaml.safe_dump(spec))
        scenario = load_scenario(path)
        assets = resolve_assets(scenario)
        unit = AssetBounds((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5))
        return FrameSampler(scenario, assets, {r.key: unit for r in assets.all()}, (96, 72)).sample(0)

    drops = first_frame({"rain": {"lens_drops": 4, "lens_drop_radius": [0.02, 0.03]}}).lens_drops
    assert len(drops) == 4 and all(0 <= x <= 1 and 0 <= y <= 1 and 0.02 <= r <= 0.03 for x, y, r in drops)
    assert first_frame({}).lens_drops == []


def test_falling_snow_dims_the_distance_by_its_flakes_cross_section() -> None:
    """The veil of the flakes too far to draw: beta = 2 x their geometric cross-section per m^3, from the
    Gunn-Marshall sizes in closed form; visibility falls with the rate, about 1 km in light snow and under
    500 m in heavy snow, as observed."""
    from simgen.sampling.snowfall import (FLAKE_PER_MELTED, MAX_MELTED_MM, MIN_MELTED_MM, extinction_per_m, n0,
                                          slope)
    from simgen.sampling.frame_spec import CONTRAST_LN

    def closed_form(rate: float) -> float:  # 2 N0 (pi/4) k^2 * integral of D^2 exp(-L D) dD, k in m per mm
        lam, k = slope(rate), FLAKE_PER_MELTED / 1000

        def antiderivative(d: float) -> float:
            return -math.exp(-lam * d) * (d * d / lam + 2 * d / lam ** 2 + 2 / lam ** 3)

        return 2 * n0(rate) * math.pi / 4 * k * k * (antiderivative(MAX_MELTED_MM) - antiderivative(MIN_MELTED_MM))

    for rate in (0.5, 1.0, 5.0):
        assert extinction_per_m(rate) == pytest.approx(closed_form(rate), rel=1e-3)
    visibility = {rate: CONTRAST_LN / extinction_per_m(rate) for rate in (0.5, 1.0, 5.0)}
    assert 700 < visibility[1.0] < 1500 and visibility[5.0] < 500 and visibility[0.5] > visibility[1.0] > visibility[5.0]


def ground_depth(height_m: float = 1.5, far_m: float = 40.0) -> np.ndarray:
    """Planar depth of a flat ground 1.5 m under the LEVEL camera, cut at far_m (sky beyond)."""
    rows = (np.arange(480) - K[1, 2]) / K[1, 1]  # camera y (down) per unit depth
    with np.errstate(divide="ignore"):
        z = np.where(rows > 0, height_m / rows, np.inf)
    z = np.where(z <= far_m, z, np.inf)
    return np.repeat(z[:, None], 640, axis=1)


def test_splashes_carry_the_rain_rate_and_cover_the_ground_they_fall_on() -> None:
    from simgen.postprocess import splashes

    # the impacts' water is the rain asked for (Marshall-Palmer with Atlas velocities: within 20 %)
    for rate in (1.0, 5.0, 10.0, 30.0, 100.0):
        assert splashes.water_flux_mm_h(rate) == pytest.approx(rate, rel=0.2)
    assert splashes.impacts_per_m2_s(30) > splashes.impacts_per_m2_s(10) > splashes.impacts_per_m2_s(1)
    # each pixel's patch of a flat ground adds up to the ground in view: the trapezoid between the
    # bottom row's ray and the 40 m cut, as wide as the view at each depth
    depth = ground_depth()
    area, up = splashes.surface_patches(depth, K, LEVEL)
    rows = np.flatnonzero(area[:, 320] > 0)  # the row next to the sky has no patch (no neighbour above)
    def ground_at(row: float) -> float:  # depth of the ground a pixel-edge row sees
        return 1.5 / ((row - K[1, 2]) / K[1, 1])
    lo, hi = ground_at(rows[-1] + 0.5), ground_at(rows[0] - 0.5)
    half = 320 / K[0, 0]  # half the view's width per metre of depth
    assert up[rows].mean() > 0.99 and not up[~np.isfinite(depth)].any() and len(rows) >= 215
    assert area[rows].sum() == pytest.approx(half * (hi ** 2 - lo ** 2), rel=0.01)
    # a wall is not the ground
    wall = np.full((480, 640), 5.0)
    assert not splashes.surface_patches(wall, K, LEVEL)[1].any()
    # as many splashes as drops hit the ground in the exposure and a crown's life
    expected = splashes.impacts_per_m2_s(10) * (1 / 60 + splashes.CROWN_S) * area[up].sum()
    layer, count = splashes.splash_layer(depth, 10.0, 1 / 60, K, LEVEL, np.random.default_rng(1))
    assert abs(count - expected) < 5 * math.sqrt(expected)
    assert (layer[~np.isfinite(depth)] == 0).all() and layer[rows].sum() > 0
    # time-averaged coverage does not depend on the exposure: short ones catch few crisp crowns, long ones many faint
    short, few = splashes.splash_layer(depth, 10.0, 1 / 1000, K, LEVEL, np.random.default_rng(2))
    long, many = splashes.splash_layer(depth, 10.0, 1 / 30, K, LEVEL, np.random.default_rng(3))
    assert many > 2.5 * few
    assert short.sum() == pytest.approx(long.sum(), rel=0.1)
    assert short.max() > long.max()
