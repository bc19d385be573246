"""Each randomization axis reaches the render (tiny real renders) or obeys its geometry (pure)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import FIXTURES, ROOT, render
from simgen.annotate.instances import decode_rle
from simgen.config import load_scenario
from simgen.postprocess.sensor import apply_sensor_effects
from simgen.run.batch import resolve_assets
from simgen.sampling.frame_spec import AssetBounds
from simgen.sampling.geometry import box_corners, euler_xyz_matrix, project_points
from simgen.sampling.placement import footprint
from simgen.sampling.sampler import FrameSampler

UNIT = AssetBounds((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5))
UNIT_CUBE = box_corners([-0.5] * 3, [0.5] * 3)  # the corners of UNIT
BASE = f"""
name: axis
seed: 5
frames: 1
render: {FIXTURES / 'tiny.yaml'}
classes:
  - name: cube
    asset: primitive:cube
    count: 1
    scale: 0.6
    position: {{x: 0, y: 0, z: 0.3}}
    rotation_deg: {{x: 0, y: 0, z: 20}}
    material: {{mode: sampled, color: {{hue: HUE, saturation: 1, value: 1}}, roughness: 0.8}}
camera:
  focal_length_mm: 35
  fixed: {{location: [2.5, -3.0, 2.0], look_at: [0, 0, 0.3]}}
  view_transform: Standard
sun: {{elevation_deg: 50, azimuth_deg: 210, strength: SUN}}
world: {{type: color, color: [0.02, 0.02, 0.02], strength: 1}}
ground: {{material: {{mode: sampled, color: {{hue: 0, saturation: 0, value: 0.5}}}}}}
"""


def scene(tmp_path: Path, name: str, text: str, *extra: str) -> tuple[Path, dict]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    out = tmp_path / name
    assert render(path, out, *extra) == 0
    return out, json.loads((out / "annotations.json").read_text())


def object_pixels(out: Path, coco: dict, instance_id: int = 1) -> np.ndarray:
    image = coco["images"][0]
    rgb = cv2.imread(str(out / image["file_name"]))[..., ::-1].astype(float)
    annotation = next(a for a in coco["annotations"] if a["mask_id"] == instance_id)
    return rgb[decode_rle(annotation["segmentation"])]


def test_material_colour_reaches_the_mask(tmp_path: Path) -> None:
    for hue, channel in ((0.0, 0), (0.3333, 1), (0.6667, 2)):
        out, coco = scene(tmp_path, f"hue{channel}", BASE.replace("HUE", str(hue)).replace("SUN", "3"))
        mean = object_pixels(out, coco).mean(axis=0)
        assert np.argmax(mean) == channel and mean[channel] > 1.5 * np.delete(mean, channel).max(), mean


def test_stronger_sun_gives_brighter_image(tmp_path: Path) -> None:
    means = []
    for strength in (0.5, 5.0):
        out, coco = scene(tmp_path, f"sun{strength}", BASE.replace("HUE", "0").replace("SUN", str(strength)))
        means.append(cv2.imread(str(out / coco["images"][0]["file_name"])).mean())
    assert means[1] > means[0] * 1.5


def test_point_light_adds_light(tmp_path: Path) -> None:
    dark = BASE.replace("HUE", "0").replace("sun: {elevation_deg: 50, azimuth_deg: 210, strength: SUN}", "sun: null")
    lit = dark + "lights: {count: 1, type: point, power_w: 300, distance: 2, elevation_deg: 60}\n"
    out_dark, coco_dark = scene(tmp_path, "dark", dark)
    out_lit, coco_lit = scene(tmp_path, "lit", lit)
    assert object_pixels(out_lit, coco_lit).mean() > object_pixels(out_dark, coco_dark).mean() + 20
    assert coco_lit["images"][0]["params"]["lights"][0]["type"] == "point"


def test_camera_K_with_offset_principal_point_matches_projection(tmp_path: Path) -> None:
    text = (FIXTURES / "cube.yaml").read_text().replace("render: tiny.yaml", f"render: {FIXTURES / 'tiny.yaml'}")
    text = text.replace("  focal_length_mm: 35\n", "  K: {fx: 80, fy: 80, cx: 40.5, cy: 30.0}\n")
    out, coco = scene(tmp_path, "k", text)
    image, (annotation,) = coco["images"][0], coco["annotations"]
    K = np.array(image["camera"]["K"])
    assert K[0, 2] == 40.5 and K[1, 2] == 30.0 and K[0, 0] == 80
    rotation = euler_xyz_matrix(0, 0, math.radians(30))
    corners = UNIT_CUBE @ rotation.T + np.array([0.2, -0.1, 0.5])
    uv = project_points(corners, K, np.array(image["camera"]["world_to_camera"])) + 0.5
    x, y, w, h = annotation["bbox"]
    assert np.allclose([x, y, x + w, y + h], [uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()], atol=1.0)


def test_distractors_are_never_labeled_but_occlude(tmp_path: Path) -> None:
    text = (ROOT / "scenes" / "quickstart.yaml").read_text() + """
distractors:
  count: 6
  scale: [0.15, 0.3]
  near_camera: 0.6
"""
    out, coco = scene(tmp_path, "distract", text.replace("render: preview", f"render: {FIXTURES / 'tiny.yaml'}"),
                      "-n", "6")
    occluded = 0
    for image in coco["images"]:
        instance = cv2.imread(str(out / image["instance_file"]), cv2.IMREAD_UNCHANGED)
        labeled = {o["instance_id"] for o in image["params"]["objects"]}
        assert set(np.unique(instance)) <= labeled | {0}, "distractor pixels are background in the labels"
        assert len(image["params"]["distractors"]) > 0
    for annotation in coco["annotations"]:
        if annotation["visibility"] < 0.999:
            occluded += 1
            assert annotation["amodal_area"] > annotation["area"]
    assert occluded > 0, "near-camera distractors hide some labeled objects"


def test_sky_world_and_procedural_and_image_materials_render(tmp_path: Path) -> None:
    texture_dir = tmp_path / "textures"
    texture_dir.mkdir()
    stripes = np.zeros((32, 32, 3), np.uint8)
    stripes[:, ::8] = (0, 0, 255)
    cv2.imwrite(str(texture_dir / "stripes.png"), stripes)
    text = BASE.replace("HUE", "0.5").replace("SUN", "3")
    text = text.replace("world: {type: color, color: [0.02, 0.02, 0.02], strength: 1}", "world: {type: sky, strength: 0.3}")
    text = text.replace("material: {mode: sampled, color: {hue: 0.5, saturation: 1, value: 1}, roughness: 0.8}",
                        f"material: {{mode: image, textures: {texture_dir}, pattern_scale: 4}}")
    text = text.replace("ground: {material: {mode: sampled, color: {hue: 0, saturation: 0, value: 0.5}}}",
                        "ground: {material: {mode: procedural, pattern: checker, pattern_scale: 3}}")
    out, coco = scene(tmp_path, "looks", text)
    params = coco["images"][0]["params"]
    assert params["world"]["type"] == "sky"
    assert params["objects"][0]["material"]["texture"].endswith("stripes.png")
    image = cv2.imread(str(out / coco["images"][0]["file_name"]))
    ground = image[cv2.imread(str(out / coco["images"][0]["instance_file"]), cv2.IMREAD_UNCHANGED) == 0]
    assert ground.std() > 10, "a checker ground is not flat"


@pytest.mark.parametrize("blur, recorded", [
    ("dof: {p: 1, f_stop: 0.5, focus: distance, focus_distance_m: 1.0}", ("f_stop", 0.5)),
    ("motion_blur: {p: 1, shutter: 1.0, camera_speed_mps: 12, object_speed_mps: 0}", ("shutter", 1.0)),
])
def test_blur_keeps_labels_sharp(tmp_path: Path, blur: str, recorded: tuple) -> None:
    text = (FIXTURES / "cube.yaml").read_text().replace("render: tiny.yaml", f"render: {FIXTURES / 'tiny.yaml'}")
    out_sharp, sharp = scene(tmp_path, "pinhole", text)
    out_blur, blurred = scene(tmp_path, "blurred", text.replace("  fixed:", f"  {blur}\n  fixed:"))
    assert blurred["images"][0]["params"]["camera"][recorded[0]] == recorded[1]
    for key in ("instance_file", "depth_file"):
        a = cv2.imread(str(out_sharp / sharp["images"][0][key]), cv2.IMREAD_UNCHANGED)
        b = cv2.imread(str(out_blur / blurred["images"][0][key]), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(a, b), f"{key} follows the pinhole camera, not the blurred RGB"
    rgb_sharp = cv2.imread(str(out_sharp / sharp["images"][0]["file_name"])).astype(float)
    rgb_blur = cv2.imread(str(out_blur / blurred["images"][0]["file_name"])).astype(float)
    x, y, w, h = sharp["annotations"][0]["bbox"]
    edge = (slice(y, y + h), slice(max(x - 3, 0), x + 4))  # the object's left edge, where blur shows
    assert np.abs(rgb_blur[edge] - rgb_sharp[edge]).mean() > 4, "the RGB itself is blurred"


# ---------------------------------------------------------------- pure sampling checks
def sampler_for(text: str, tmp_path: Path, vertices: dict | None = None) -> FrameSampler:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    scenario = load_scenario(path)
    assets = resolve_assets(scenario)
    bounds = {ref.key: UNIT for ref in assets.all()}
    return FrameSampler(scenario, assets, bounds, (160, 120), vertices)


def lowest_point(points: np.ndarray, scale: float, rotation_euler, location) -> float:
    """Height of the lowest of a shape's points once scaled, rotated and placed: what rests on the ground."""
    return float(((np.asarray(points) * scale) @ euler_xyz_matrix(*rotation_euler).T)[:, 2].min() + location[2])


def test_free_rotation_rests_exactly_on_the_ground(tmp_path: Path) -> None:
    sampler = sampler_for("name: f\nclasses: [{name: c, asset: primitive:cone, count: 4, rotation: free, scale: 0.3}]\n"
                          "placement: {area: [4, 4]}\n", tmp_path, {"primitive:cone": UNIT_CUBE})
    angles = []
    for index in range(10):
        for obj in sampler.sample(index).objects:
            assert abs(lowest_point(UNIT_CUBE, obj.scale, obj.rotation_euler, obj.location)) < 1e-9
            angles.append(obj.rotation_euler[0])
    assert np.std(angles) > 0.5, "tilts vary, not just yaw"


def test_grid_placement_fills_cells_without_overlap(tmp_path: Path) -> None:
    sampler = sampler_for("name: g\nclasses: [{name: c, asset: primitive:cube, count: 9, scale: 0.2}]\n"
                          "placement: {mode: grid, area: [3, 3], grid_jitter: 0.1}\n", tmp_path)
    objects = sampler.sample(0).objects
    assert len(objects) == 9
    xs = sorted({round(o.location[0]) for o in objects})
    assert len(xs) == 3, "three columns"
    for i, a in enumerate(objects):
        for b in objects[i + 1:]:
            assert np.hypot(a.location[0] - b.location[0], a.location[1] - b.location[1]) > 2 * footprint(UNIT, a.rotation_euler, 0.2).radius


def test_fov_band_pose_and_in_view_constraint(tmp_path: Path) -> None:
    text = ("name: b\nclasses: [{name: c, asset: primitive:cube, count: 5, scale: 0.3}]\nplacement: {area: [6, 6]}\n"
            "camera: {fov_deg: 90, band: {height: [1.2, 1.8], y: [-8, -7], yaw_deg: [60, 120]}, min_in_view: 0.8}\n")
    sampler = sampler_for(text, tmp_path)
    for index in range(8):
        camera = sampler.sample(index).camera
        assert 1.2 <= camera.location[2] <= 1.8
        assert camera.focal_length_mm == pytest.approx(18.0)
        frame = sampler.sample(index)
        if camera.pose_tries < sampler.scenario.camera.max_pose_tries:
            centres = np.array([o.location for o in frame.objects])
            assert sampler._in_view(centres, np.array(camera.K), np.array(camera.world_to_camera)) >= 0.8


def test_sensor_effects_change_the_image_as_described() -> None:
    rng = np.random.default_rng(0)
    flat = np.full((60, 80, 3), 128, np.uint8)
    vignetted = apply_sensor_effects(flat, {"vignetting": 0.5}, rng)
    assert vignetted[0, 0].mean() < vignetted[30, 40].mean() - 20
    noisy = apply_sensor_effects(flat, {"noise": 0.03}, rng)
    assert 2 < noisy.astype(float).std() < 20
    darker = apply_sensor_effects(flat, {"exposure_error": -1.0}, rng)
    assert darker.mean() < 100
    assert apply_sensor_effects(flat, {}, rng) is flat


def test_sensor_effects_are_recorded(tmp_path: Path) -> None:
    sampler = sampler_for("name: s\nclasses: [{name: c, asset: primitive:cube, count: 1}]\n"
                          "sensor: {jpeg: {p: 1, amount: [30, 40]}, noise: {p: 0}}\n", tmp_path)
    effects = sampler.sample(0).sensor
    assert set(effects) == {"jpeg"} and 30 <= effects["jpeg"] <= 40


def _cylinder_vertices(segments: int = 48) -> np.ndarray:
    angles = 2 * np.pi * np.arange(segments) / segments
    ring = np.column_stack([0.5 * np.cos(angles), 0.5 * np.sin(angles)])
    return np.vstack([np.column_stack([ring, np.full(segments, z)]) for z in (-0.5, 0.5)])


def test_physics_settled_objects_rest_on_the_ground(tmp_path: Path) -> None:
    text = f"""
name: pile
seed: 4
frames: 2
render: {FIXTURES / 'tiny.yaml'}
classes:
  - {{name: cube, asset: primitive:cube, count: 3, scale: 0.12, rotation: free}}
  - {{name: can, asset: primitive:cylinder, count: 3, scale: 0.1, rotation: free}}
placement: {{area: [0.4, 0.4], physics: {{steps: 90, drop_height_m: [0.05, 0.3]}}}}
camera: {{orbit: {{distance: 1.5, elevation_deg: 40}}}}
"""
    out, coco = scene(tmp_path, "pile", text)
    shapes = {"primitive:cube": UNIT_CUBE, "primitive:cylinder": _cylinder_vertices()}
    resting = 0
    for image in coco["images"]:
        assert image["params"]["physics_steps"] == 90
        for obj in image["params"]["objects"]:
            lowest = lowest_point(shapes[obj["asset"]], obj["scale"], obj["rotation_euler"], obj["location"])
            assert lowest > -0.01, "nothing sinks into the ground"
            resting += lowest < 0.01
    assert resting >= 4, "objects come to rest on the ground (or on each other), none hovers at its drop height"
    _, again = scene(tmp_path, "pile_again", text)
    assert [i["params"]["objects"] for i in again["images"]] == [i["params"]["objects"] for i in coco["images"]]


def test_objects_stand_on_a_named_surface(tmp_path: Path) -> None:
    text = f"""
name: tabletop
frames: 2
render: {FIXTURES / 'tiny.yaml'}
classes: [{{name: cube, asset: primitive:cube, count: [2, 3], scale: 0.08}}]
placement: {{surface: "{FIXTURES / 'meshes' / 'table.blend'}#Table"}}
camera: {{orbit: {{distance: 1.5, elevation_deg: 45}}}}
"""
    out, coco = scene(tmp_path, "table", text)
    top = 0.72 + 0.02  # the table top's upper face in the fixture
    for image in coco["images"]:
        for obj in image["params"]["objects"]:
            lowest = lowest_point(UNIT_CUBE, obj["scale"], obj["rotation_euler"], obj["location"])
            assert lowest == pytest.approx(top, abs=1e-5)
            assert -0.3 <= obj["location"][0] <= 0.9 and -0.2 <= obj["location"][1] <= 0.6, "on the top, not beside it"
        assert image["params"]["surface"]["static"] is True and image["params"]["distractors"] == []
    assert len(coco["annotations"]) >= 4


def test_pile_mode_stacks_objects(tmp_path: Path) -> None:
    text = f"""
name: heap
seed: 9
frames: 2
render: {FIXTURES / 'tiny.yaml'}
classes: [{{name: cube, asset: primitive:cube, count: 4, scale: 0.1}}]
placement: {{mode: pile, area: [0.02, 0.02], physics: {{steps: 120}}}}
camera: {{orbit: {{distance: 1.2, elevation_deg: 40}}}}
"""
    _, coco = scene(tmp_path, "heap", text)
    heights = []
    for image in coco["images"]:
        for obj in image["params"]["objects"]:
            heights.append(lowest_point(UNIT_CUBE, obj["scale"], obj["rotation_euler"], obj["location"]))
    assert min(heights) > -0.01 and sum(h < 0.01 for h in heights) >= 2, "the bottom of the pile is on the ground"
    assert max(heights) > 0.09, "boxes dropped over one spot come to rest on each other"


def test_pile_without_physics_is_refused(tmp_path: Path, capsys) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nclasses: [{name: c, asset: primitive:cube}]\nplacement: {mode: pile}\n")
    from simgen.cli import main

    assert main(["check", str(path)]) == 2
    assert "needs physics" in capsys.readouterr().err


def test_keep_and_jitter_the_assets_own_material(tmp_path: Path) -> None:
    base = BASE.replace("HUE", "0").replace("SUN", "3").replace("asset: primitive:cube", f"asset: {FIXTURES / 'meshes' / 'red_box.blend'}")
    keep = base.replace("material: {mode: sampled, color: {hue: 0, saturation: 1, value: 1}, roughness: 0.8}",
                        "material: {mode: keep}")
    out, coco = scene(tmp_path, "keep", keep)
    red = object_pixels(out, coco).mean(axis=0)
    assert red[0] > 2 * max(red[1], red[2]), "the asset's own red material is kept"
    jitter = keep.replace("material: {mode: keep}", "material: {mode: jitter, jitter: {hue: 0.5, saturation: 0, value: 0}}")
    for seed in range(3):
        out, coco = scene(tmp_path, f"jitter{seed}", jitter.replace("seed: 5", f"seed: {seed}"))
        shift = coco["images"][0]["params"]["objects"][0]["material"]["jitter"][0]
        mean = object_pixels(out, coco).mean(axis=0)
        if abs(shift) > 0.2:
            assert np.argmax(mean) != 0, f"a hue shift of {shift:.2f} turns red into another colour"
        else:
            assert np.argmax(mean) == 0


def test_backdrop_plane_faces_the_camera_behind_the_objects(tmp_path: Path) -> None:
    text = BASE.replace("HUE", "0").replace("SUN", "3") + "backdrop: {distance_m: 1.0, size_m: 8}\n"
    out, coco = scene(tmp_path, "backdrop", text)
    image = coco["images"][0]
    plane = image["params"]["backdrop"]
    assert plane["asset"] == "primitive:plane" and plane["static"] and plane["hides_labels"]
    assert image["params"]["distractors"] == [], "the backdrop is not a distractor"
    normal = euler_xyz_matrix(*plane["rotation_euler"])[:, 2]
    to_camera = np.array(image["params"]["camera"]["location"]) - plane["location"]
    assert normal @ to_camera / np.linalg.norm(to_camera) > 0.999
    depth = cv2.imread(str(out / image["depth_file"]), cv2.IMREAD_UNCHANGED)
    assert (depth > 0).all(), "the backdrop fills the whole background"
