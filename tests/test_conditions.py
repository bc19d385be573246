"""Edge cases and weather: exact coverage of condition targets, and weather that never corrupts labels."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import FIXTURES, ROOT, render
from simgen.cli import main
from simgen.config.conditions import conditions_of, fraction_of
from simgen.postprocess.fog import apply_fog

TARGETS = {"fog": 0.25, "rain": 0.1, "night": 1 / 3, "snow": 0.0}


@pytest.mark.parametrize("frames", [1, 7, 30, 40, 101, 1000])
def test_every_run_meets_every_target_within_one_frame(frames: int) -> None:
    tags = [conditions_of(i, TARGETS, seed=7) for i in range(frames)]
    for name, fraction in TARGETS.items():
        count = sum(name in t for t in tags)
        assert abs(count - fraction * frames) < 1.0 + 1e-9, (name, count, fraction * frames)


def test_forty_frames_in_four_shards_of_ten_meet_every_target() -> None:
    shards = [[conditions_of(i, TARGETS, seed=11) for i in range(k, 40, 4)] for k in range(4)]
    assert all(len(shard) == 10 for shard in shards)
    for name, fraction in TARGETS.items():
        count = sum(name in tags for shard in shards for tags in shard)
        assert abs(count - fraction * 40) < 1.0 + 1e-9


def test_shards_and_extensions_keep_the_plan() -> None:
    full = [conditions_of(i, TARGETS, seed=3) for i in range(120)]
    shards = {i: conditions_of(i, TARGETS, seed=3) for k in range(4) for i in range(k, 120, 4)}
    assert [shards[i] for i in range(120)] == full, "a frame's conditions depend on nothing but its index"
    assert [conditions_of(i, TARGETS, seed=3) for i in range(60)] == full[:60], "extending a run keeps the plan"


def test_exact_counts() -> None:
    class Count:
        count, fraction, override = 13, None, None

    fraction = fraction_of(Count(), 50)
    assert sum("x" in conditions_of(i, {"x": fraction}, seed=1) for i in range(50)) == 13


SCENE = f"""
name: weather
seed: 2
frames: 1
render: {FIXTURES / 'tiny.yaml'}
classes:
  - {{name: cube, asset: primitive:cube, count: 3, scale: 0.3}}
placement: {{area: [2, 2]}}
camera: {{focal_length_mm: 30, orbit: {{distance: 4, elevation_deg: 25, azimuth_deg: 30}}}}
world: {{type: color, color: [0.4, 0.4, 0.45], strength: 1}}
"""


def run(tmp_path: Path, name: str, extra: str) -> tuple[Path, dict]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(SCENE + extra)
    out = tmp_path / name
    assert render(path, out) == 0
    return out, json.loads((out / "annotations.json").read_text())


def labels(out: Path, coco: dict) -> np.ndarray:
    return cv2.imread(str(out / coco["images"][0]["instance_file"]), cv2.IMREAD_UNCHANGED)


@pytest.fixture(scope="module")
def clear(tmp_path_factory) -> tuple[Path, dict]:
    return run(tmp_path_factory.mktemp("clear"), "clear", "")


@pytest.mark.parametrize("name, weather", [
    ("fog_analytic", "weather: {fog: {mode: analytic, density: 0.5}}\n"),
    ("fog_volume", "weather: {fog: {mode: volume, density: 0.3}}\n"),
    ("rain", "weather: {rain: {mode: streaks, streaks: 300}}\n"),
    ("rain_analytic", "weather: {rain: {rate_mm_h: 50, exposure_s: 0.03}}\n"),
])
def test_fog_and_rain_change_the_image_but_not_the_labels(tmp_path: Path, clear, name: str, weather: str) -> None:
    out, coco = run(tmp_path, name, weather)
    assert np.array_equal(labels(out, coco), labels(*clear)), "labels are those of the clear scene"
    for key in ("depth_file",):
        a = cv2.imread(str(out / coco["images"][0][key]), cv2.IMREAD_UNCHANGED)
        b = cv2.imread(str(clear[0] / clear[1]["images"][0][key]), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(a, b), "fog never leaks into the depth used for labels"
    rgb = cv2.imread(str(out / coco["images"][0]["file_name"])).astype(float)
    rgb_clear = cv2.imread(str(clear[0] / clear[1]["images"][0]["file_name"])).astype(float)
    assert np.abs(rgb - rgb_clear).mean() > 3
    params = coco["images"][0]["params"]
    if name == "rain_analytic":
        assert params["rain"] == [] and params["rainfall"]["rate_mm_h"] == 50
        assert max(a["rain_coverage"] for a in coco["annotations"]) > 0, "drops cross the objects"
    if name == "rain":
        assert len(params["rain"]) == 300 and params["distractors"] == [] and params["snow"] == []
        assert all(streak["static"] and not streak["hides_labels"] for streak in params["rain"])


def test_snowflakes_only_ever_hide_pixels(tmp_path: Path, clear) -> None:
    out, coco = run(tmp_path, "snow", "weather: {snow: {flakes: 400, size_m: 0.03, cover: 1.0}}\n")
    snowy, plain = labels(out, coco), labels(*clear)
    changed = snowy != plain
    assert changed.any(), "opaque flakes cover some object pixels"
    assert np.all(snowy[changed] == 0), "a flake turns an object pixel into background, never into another object"
    for annotation in coco["annotations"]:
        assert annotation["visibility"] <= 1.0
    assert any(a["visibility"] < 1.0 for a in coco["annotations"])
    assert coco["images"][0]["params"]["ground"]["material"]["snow"] == 1.0
    flakes = coco["images"][0]["params"]["snow"]
    assert len(flakes) == 400 and all(f["hides_labels"] and f["static"] for f in flakes)


def test_analytic_fog_fades_far_pixels_more() -> None:
    image = np.full((10, 20, 3), 40, np.uint8)
    image[:, :5] = 250  # bright surroundings set the fog's light level
    depth = np.tile(np.linspace(1, 20, 20, dtype=np.float32), (10, 1))
    depth[:, -1] = np.inf  # the sky: nothing but fog
    K = np.array([[20.0, 0, 9.5], [0, 20.0, 4.5], [0, 0, 1]])
    fogged = apply_fog(image, depth, 0.2, (0.8, 0.8, 0.8), K).astype(float)
    fog_colour = fogged[0, -1]
    distance_to_fog = np.abs(fogged[0, 5:19] - fog_colour).mean(axis=1)
    assert np.all(np.diff(distance_to_fog) <= 0) and distance_to_fog[0] > 5 * distance_to_fog[-1], \
        "the farther the pixel, the closer to the fog colour"
    assert fogged[0, 6].mean() > 40, "dark near pixels are lifted by the lit fog"


def test_conditions_reach_frames_and_change_them(tmp_path: Path) -> None:
    text = SCENE.replace("frames: 1", "frames: 4") + "conditions: {night: 0.5, glare: {count: 1}}\n"
    path = tmp_path / "c.yaml"
    path.write_text(text)
    out = tmp_path / "c"
    assert render(path, out) == 0
    coco = json.loads((out / "annotations.json").read_text())
    tags = [image["conditions"] for image in coco["images"]]
    assert sum("night" in t for t in tags) == 2 and sum("glare" in t for t in tags) == 1
    for image in coco["images"]:
        params = image["params"]
        if image["conditions"] == ["night"]:  # (a later condition may override parts of an earlier one)
            assert params["world"]["hdri"].endswith("night") and params["lights"]
            assert 0.05 <= params["sun"]["strength"] * 683 <= 0.3, "moonlight, in lux"
            centre = np.mean([o["location"] for o in params["objects"]], axis=0)
            for light in params["lights"]:  # each lamp gives 5-30 lx at the objects, at any distance
                target = np.array(light["target"])
                assert np.abs(target[:2] - centre[:2]).max() < 1e-6, "aimed at the objects"
                lux = light["power_w"] * 683 / (4 * np.pi * np.sum((np.array(light["location"]) - target) ** 2))
                assert 5 - 1e-6 <= lux <= 30 + 1e-6
        if "glare" in image["conditions"]:
            camera = np.array(params["camera"]["look_at"]) - np.array(params["camera"]["location"])
            heading = np.degrees(np.arctan2(camera[1], camera[0]))
            assert abs((params["sun"]["azimuth_deg"] - heading + 180) % 360 - 180) <= 15.0001


def test_unknown_condition_is_a_clear_error(tmp_path: Path, capsys) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(SCENE + "conditions: {foog: 0.2}\n")
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "unknown condition 'foog'" in err and "did you mean 'fog'" in err and "c.yaml:" in err


@pytest.mark.parametrize("scale", [1.0, 10.0], ids=["tabletop", "street"])
def test_night_is_dark_at_any_scale(tmp_path: Path, scale: float) -> None:
    """Night frames' median luminance is under 0.4 x the clear frames' of the same scene, on a table
    (objects 0.3 m, camera 4 m away) and at street scale (3 m objects, 40 m): lamps give lux at the
    objects, not watts, and the camera's exposure stops where a real one does."""
    text = SCENE.replace("frames: 1", "frames: 8").replace(
        "world: {type: color, color: [0.4, 0.4, 0.45], strength: 1}",
        "world: {hdri: courtyard, strength: 1}\nsun: {strength: 3}") + "conditions: {night: 0.5}\n"
    text = text.replace("scale: 0.3}", f"scale: {0.3 * scale}}}").replace("area: [2, 2]", f"area: [{2 * scale}, {2 * scale}]")
    text = text.replace("distance: 4,", f"distance: {4 * scale},")
    path = tmp_path / "n.yaml"
    path.write_text(text)
    out = tmp_path / "n"
    assert render(path, out) == 0
    coco = json.loads((out / "annotations.json").read_text())
    medians: dict[bool, list[float]] = {True: [], False: []}
    for image in coco["images"]:
        gray = cv2.cvtColor(cv2.imread(str(out / image["file_name"])), cv2.COLOR_BGR2GRAY)
        medians["night" in image["conditions"]].append(float(np.median(gray)))
    night, clear = np.median(medians[True]), np.median(medians[False])
    assert len(medians[True]) == 4 and night < 0.4 * clear, (night, clear)
    assert night > 2, "dark, not black: the lamps and the camera's gain still show the scene"
    lux = [a["illuminance_lux"] for a in coco["annotations"]
           if "night" in next(i for i in coco["images"] if i["id"] == a["image_id"])["conditions"]]
    assert lux and all(1 < v < 200 for v in lux), "night: a few lamps' worth of lux at each object"


def test_run_prints_and_records_coverage(tmp_path: Path, capsys) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(SCENE.replace("frames: 1", "frames: 4") + "conditions: {overexposed: 0.5}\n")
    assert render(path, tmp_path / "c") == 0
    printed = capsys.readouterr().out
    assert "Coverage" in printed and "overexposed" in printed and "50.0%" in printed
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert manifest["coverage"]["overexposed"] == {"target": 0.5, "frames": 2, "achieved": 0.5}


def test_ground_fog_is_thinner_higher_up() -> None:
    from simgen.postprocess.fog import optical_depth
    from simgen.sampling.geometry import camera_matrices, intrinsics, look_at_rotation

    eye, target = np.array([0.0, -10.0, 1.0]), np.array([0.0, 0.0, 1.0])
    _, world_to_camera = camera_matrices(eye, look_at_rotation(eye, target))
    K = intrinsics(35, 36, 41, 31)  # odd sizes: pixel (15, 20) looks exactly along the axis
    depth = np.full((31, 41), 10.0, np.float32)
    uniform = optical_depth(depth, 0.2, K, world_to_camera, None)
    ground = optical_depth(depth, 0.2, K, world_to_camera, 2.0)
    centre = (15, 20)
    assert uniform[centre] == pytest.approx(0.2 * 10, rel=1e-5)
    assert ground[centre] == pytest.approx(0.2 * 10 * np.exp(-0.5), rel=1e-4), "a level ray at 1 m: density * e^(-1/2)"
    assert ground[0, 20] < ground[centre] < ground[30, 20], "rays climbing cross thinner fog than rays going down"


def test_crowded_unusual_pose_and_pixel_sized_objects(tmp_path: Path) -> None:
    from simgen.config import load_scenario
    from simgen.run.batch import resolve_assets
    from simgen.sampling.frame_spec import AssetBounds
    from simgen.sampling.sampler import FrameSampler

    path = tmp_path / "s.yaml"
    path.write_text(SCENE.replace("count: 3", "count: 2").replace("frames: 1", "frames: 30")
                    + "conditions: {crowded: 0.5, unusual_pose: 0.5, tiny_objects_px: 1.0}\n")
    scenario = load_scenario(path)
    assets = resolve_assets(scenario)
    unit = AssetBounds((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5))
    sampler = FrameSampler(scenario, assets, {r.key: unit for r in assets.all()}, (96, 72))
    for index in range(30):
        frame = sampler.sample(index)
        if "crowded" in frame.conditions:
            assert len(frame.objects) + len(frame.dropped) >= 5
        else:
            assert len(frame.objects) + len(frame.dropped) == 2
        tilted = any(abs(o.rotation_euler[0]) > 1e-6 or abs(o.rotation_euler[1]) > 1e-6 for o in frame.objects)
        assert tilted == ("unusual_pose" in frame.conditions)
        distance = np.linalg.norm(np.array(frame.camera.location) - np.array(frame.camera.look_at))
        span_px = frame.camera.K[0][0] * 0.3 / distance
        assert 6 - 1e-6 <= span_px <= 16 + 1e-6, "the typical object spans the requested pixels"


def test_occluders_aimed_for_a_visibility_reach_it_approximately(tmp_path: Path) -> None:
    medians = []
    for aim in (0.3, 0.8):
        path = tmp_path / f"aim{aim}.yaml"
        path.write_text(f"""
name: aim
seed: 2
frames: 8
render: {FIXTURES / 'tiny.yaml'}
classes: [{{name: cube, asset: primitive:cube, count: 1, scale: 0.4}}]
distractors: {{count: 1, near_camera: 1.0, shapes: primitive:sphere, scale: [0.05, 0.15], deform: 0,
              target_visibility: {aim}}}
camera: {{orbit: {{distance: [2.5, 3.5], elevation_deg: [10, 40]}}}}
""")
        out = tmp_path / f"aim{aim}"
        assert render(path, out) == 0
        coco = json.loads((out / "annotations.json").read_text())
        assert all(i["params"]["distractors"][0]["aimed_at"] == 1 for i in coco["images"])
        medians.append(float(np.median([a["visibility"] for a in coco["annotations"]])))
    assert abs(medians[0] - 0.3) < 0.15 and abs(medians[1] - 0.8) < 0.15, medians


VISIBILITY_SCENE = f"""
name: visibility
seed: 1
frames: 1
render: {FIXTURES / 'tiny.yaml'}
classes:
  - {{name: white, asset: 'primitive:cube', count: 1, size_m: 2.0,
      material: {{color: {{hue: 0, saturation: 0, value: 0.8}}, roughness: 1.0}}}}
  - {{name: black, asset: 'primitive:cube', count: 1, size_m: 2.0,
      material: {{color: {{hue: 0, saturation: 0, value: 0.0}}, roughness: 1.0}}}}
placement: {{area: [6, 3], mode: grid}}
camera: {{focal_length_mm: 35, orbit: {{distance: 20, elevation_deg: 3, azimuth_deg: 90}}}}
world: {{type: color, color: [1, 1, 1], strength: 1}}
ground: {{enabled: false}}
sun: null
"""


def target_contrast(out: Path, coco: dict) -> float:
    """White minus black target, in linear light (the tiny preset's Standard view is plain sRGB)."""
    image = coco["images"][0]
    srgb = cv2.imread(str(out / image["file_name"])).astype(float).mean(axis=2) / 255
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    instance = cv2.imread(str(out / image["instance_file"]), cv2.IMREAD_UNCHANGED)
    level = {}
    for a in coco["annotations"]:
        inner = cv2.erode((instance == a["mask_id"]).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        level[coco["categories"][a["category_id"] - 1]["name"]] = linear[inner].mean()
    return level["white"] - level["black"]


def test_a_target_at_the_visibility_distance_keeps_five_percent_of_its_contrast(tmp_path: Path) -> None:
    """Meteorological visibility: the distance at which contrast falls to 5 %. The targets' faces are
    19 m from the camera; analytic fog must give 5 % +- 1 %, volume fog (Cycles' own scattering) the
    same within 3 %."""
    measured = {}
    for name, fog in (("clear", ""), ("analytic", "weather: {fog: {mode: analytic, visibility_m: 19}}\n"),
                      ("volume", "weather: {fog: {mode: volume, visibility_m: 19, anisotropy: 0}}\n")):
        (tmp_path / f"{name}.yaml").write_text(VISIBILITY_SCENE + fog)
        assert render(tmp_path / f"{name}.yaml", tmp_path / name) == 0
        coco = json.loads((tmp_path / name / "annotations.json").read_text())
        measured[name] = target_contrast(tmp_path / name, coco)
        if fog:
            transmittance = [a["fog_transmittance"] for a in coco["annotations"]]
            assert all(0.04 < t < 0.05 for t in transmittance), "the centres lie 1 m beyond the faces"
    analytic, volume = measured["analytic"] / measured["clear"], measured["volume"] / measured["clear"]
    assert analytic == pytest.approx(0.05, abs=0.01)
    assert volume == pytest.approx(analytic, abs=0.03)


def test_the_fog_condition_looks_the_same_at_any_scale() -> None:
    """The built-in fog is defined by its effect: visibility a multiple of the camera's distance to its
    target, so a tabletop and a street get the same fade, not a haze on one and a wall on the other."""
    import simgen

    ratios = {}
    for distance in (1.5, 30.0):
        scenario = simgen.load_scenario({
            "name": "scale", "classes": [{"name": "a", "asset": "primitive:cube", "count": 1, "scale": 0.1}],
            "camera": {"orbit": {"distance": distance}}, "conditions": {"fog": 1.0}, "frames": 40})
        generator = simgen.Generator(scenario, render_config=str(FIXTURES / "tiny.yaml"))
        frames = [generator.sample(i) for i in range(40)]
        ratios[distance] = sorted(f.fog.visibility_m / np.linalg.norm(np.subtract(f.camera.look_at, f.camera.location))
                                  for f in frames)
        assert all(1.2 - 1e-9 <= r <= 5.0 + 1e-9 for r in ratios[distance])
    assert np.allclose(ratios[1.5], ratios[30.0]), "the same draws, whatever the scale"


def test_ground_fog_height_can_follow_the_scene_scale() -> None:
    """relative_height: the layer is a share of the camera's distance, so a table's fog hugs the table and
    a street's rises to the cars; the extinction at a given share of the distance is the same."""
    import simgen

    layers = {}
    for distance in (1.5, 30.0):
        scenario = simgen.load_scenario({
            "name": "layer", "classes": [{"name": "a", "asset": "primitive:cube", "count": 1, "scale": 0.1}],
            "camera": {"orbit": {"distance": distance}}, "frames": 10,
            "weather": {"fog": {"relative_visibility": 3.0, "relative_height": [0.05, 0.2]}}})
        generator = simgen.Generator(scenario, render_config=str(FIXTURES / "tiny.yaml"))
        layers[distance] = [generator.sample(i).fog.height_m / distance for i in range(10)]
        assert all(0.05 - 1e-9 <= h <= 0.2 + 1e-9 for h in layers[distance])
    assert np.allclose(layers[1.5], layers[30.0])
    with pytest.raises(simgen.SimgenError, match="height_m or relative_height"):
        simgen.load_scenario({"name": "x", "classes": [{"name": "a", "asset": "primitive:cube"}],
                              "weather": {"fog": {"height_m": 1.0, "relative_height": 0.1}}})


@pytest.mark.parametrize("name", ["quickstart", "ycb_tabletop", "domain_randomization", "edge_cases", "indoor", "tabletop_room",
                                  "street"])
def test_tiny_objects_are_coco_small_in_every_shipped_scenario(name: str) -> None:
    """At the scenario's own resolution, every labeled object of a tiny_objects frame has a box under
    32 x 32 px (COCO's small), whatever the scene's scale and pose sampler (planned from the posed
    hulls, which bound what the render can show)."""
    import simgen
    from simgen.annotate.amodal import camera_points, world_points
    from simgen.annotate.frame import plan_frame
    from simgen.assets.geometry_cache import Geometry
    from simgen.errors import AssetError

    data = simgen.load_scenario(name).model_dump(mode="json")
    data.update(conditions={"tiny_objects": 1.0}, frames=12)
    try:
        generator = simgen.Generator(simgen.load_scenario(data, base_dir=ROOT / "scenes"))
    except AssetError as exc:
        pytest.skip(f"{name} needs an asset pack: {exc}")
    frames = [generator.sample(i) for i in range(12)]
    hulls = Geometry(generator.assets.all()).hulls
    areas = []
    for frame in frames:
        assert frame.conditions == ["tiny_objects"]
        width, height = frame.camera.resolution
        by_id = {o.instance_id: o for o in frame.objects}
        for instance_id, extent in plan_frame(frame, hulls).extents.items():
            if extent is None:  # reaches behind the camera: only if wholly there (a room's far side), unseen
                points = camera_points(world_points(by_id[instance_id], hulls[by_id[instance_id].asset]),
                                       np.array(frame.camera.world_to_camera))
                assert np.all(points[:, 2] <= 0)
                continue
            x0, y0, x1, y1 = max(extent[0], 0), max(extent[1], 0), min(extent[2], width), min(extent[3], height)
            areas.append(max(x1 - x0, 0) * max(y1 - y0, 0))
    assert areas and max(areas) < 32 * 32, f"largest box {max(areas):.0f} px"
    assert np.percentile(areas, 90) > 16, "tiny, not gone"


@pytest.mark.parametrize("distance", [2.0, 40.0], ids=["tabletop", "street"])
def test_truncation_cuts_the_share_asked_for_at_any_scale(distance: float) -> None:
    """The truncation condition turns the camera until one object has 20-60 % of its box past an edge:
    the planned truncation of the most-cut object meets the drawn share within 0.05."""
    import simgen
    from simgen.annotate.amodal import truncation
    from simgen.annotate.amodal import camera_points, world_points
    from simgen.annotate.frame import plan_frame
    from simgen.assets.geometry_cache import Geometry

    size = distance / 10
    scenario = simgen.load_scenario({
        "name": "cut", "frames": 30, "conditions": {"truncation": 1.0},
        "classes": [{"name": "a", "asset": "primitive:cube", "count": [1, 3], "size_m": size}],
        "placement": {"area": [3 * size, 3 * size]}, "camera": {"orbit": {"distance": distance}}})
    generator = simgen.Generator(scenario, render_config=str(FIXTURES / "tiny.yaml"))
    frames = [generator.sample(i) for i in range(30)]
    hulls = Geometry(generator.assets.all()).hulls
    for frame in frames:
        width, height = frame.camera.resolution
        cut = truncation(plan_frame(frame, hulls).extents[frame.camera.truncated], width, height)
        assert 0.2 <= frame.camera.truncated_share <= 0.6
        assert cut == pytest.approx(frame.camera.truncated_share, abs=0.05)


def test_check_warns_when_cameras_see_past_the_ground_and_fit_view_grows_it(tmp_path: Path, capsys) -> None:
    import simgen
    from simgen.sampling.sampler import FrameSampler

    scene = {"name": "edge", "frames": 20, "conditions": {"tiny_objects": 1.0},
             "classes": [{"name": "a", "asset": "primitive:cube", "count": 2, "scale": 0.1}],
             "ground": {"size": 10}}
    path = tmp_path / "edge.yaml"
    path.write_text(json.dumps(scene))
    generator = simgen.Generator(simgen.load_scenario(scene), render_config=str(FIXTURES / "tiny.yaml"))
    past = sum(FrameSampler.sees_past_ground(generator.sample(i)) for i in range(20))
    assert past >= 10, "a camera backed far away on a 10 m plane sees its edge"
    assert main(["check", str(path), "--sample", "1", "--render-config", str(FIXTURES / "tiny.yaml")]) == 0
    err = capsys.readouterr().err
    assert f"{past} of 20 sampled frames see past the ground's edge (ground.size 10 m)" in err
    assert "ground.fit_view: true" in err
    scene["ground"]["fit_view"] = True
    generator = simgen.Generator(simgen.load_scenario(scene), render_config=str(FIXTURES / "tiny.yaml"))
    frames = [generator.sample(i) for i in range(20)]
    assert not any(FrameSampler.sees_past_ground(f) for f in frames)
    assert all(f.ground.size >= 2 * 200 * f.camera.location[2] for f in frames)


def test_night_light_wins_over_the_sky_of_conditions_listed_after_it() -> None:
    import simgen

    scenario = simgen.load_scenario({
        "name": "wet night", "frames": 6, "conditions": {"night": 1.0, "rain": 1.0, "dusk": 1.0},
        "classes": [{"name": "a", "asset": "primitive:cube", "count": 1, "scale": 0.1}]})
    generator = simgen.Generator(scenario, render_config=str(FIXTURES / "tiny.yaml"))
    for frame in (generator.sample(i) for i in range(6)):
        assert frame.conditions == ["night", "rain", "dusk"]
        assert frame.world.strength <= 0.003 and frame.sun.strength * 683 <= 0.3, "moonlight and a sky glow"
        assert frame.rainfall is not None, "and it rains"


@pytest.mark.parametrize("sun", [{"illuminance_lux": [20000, 90000]}, {"strength": [1.0, 4.0]}], ids=["lux", "watts"])
def test_rain_and_snow_fall_under_an_overcast_sky(sun: dict) -> None:
    """Whatever the scenario's sun: the cloud leaves at most 200 lx of it, and the overcast sky gives
    1,000-6,000 lx on open ground."""
    import simgen
    from simgen.sampling.photometry import daylight_illuminance, sky_illuminance

    for condition in ("rain", "snow"):
        scenario = simgen.load_scenario({
            "name": condition, "frames": 8, "conditions": {condition: 1.0}, "sun": sun,
            "world": {"type": "sky", "strength": [0.6, 1.2]},
            "classes": [{"name": "a", "asset": "primitive:cube", "count": 1, "scale": 0.1}]})
        generator = simgen.Generator(scenario, render_config=str(FIXTURES / "tiny.yaml"))
        for frame in (generator.sample(i) for i in range(8)):
            assert frame.world.type == "overcast"
            assert frame.sun.strength * 683 <= 200.0 + 1e-9
            sky = sky_illuminance("overcast", frame.world.strength, frame.world.color, None)
            assert 1000 * 0.99 <= sky <= 6000 * 1.01
            assert daylight_illuminance(frame.sun, frame.world) <= sky + 200.0 + 1e-9


def test_cloud_hides_the_sun_of_a_time_of_day_listed_after_it() -> None:
    """Rain at dusk is overcast whichever of the two the scenario lists first."""
    import simgen

    worlds = []
    for order in (("rain", "dusk"), ("dusk", "rain")):
        scenario = simgen.load_scenario({
            "name": "wet dusk", "frames": 4, "conditions": {name: 1.0 for name in order},
            "classes": [{"name": "a", "asset": "primitive:cube", "count": 1, "scale": 0.1}]})
        generator = simgen.Generator(scenario, render_config=str(FIXTURES / "tiny.yaml"))
        frames = [generator.sample(i) for i in range(4)]
        assert all(f.world.type == "overcast" and f.sun.strength * 683 <= 200.0 + 1e-9 for f in frames)
        worlds.append([(f.world, f.sun) for f in frames])
    assert worlds[0] == worlds[1], "the same frames either way"
