"""Clips: the motion model (pure), tracks and events (pure), and real tiny renders whose optical flow,
boxes and resume behaviour are checked against the geometry of the motion."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from conftest import FIXTURES, render
from simgen.annotate.tracks import videos_and_tracks
from simgen.cli import main
from simgen.flow_outputs import decode_kitti
from simgen.sampling import clips
from simgen.sampling.frame_spec import CameraParams
from simgen.sampling.geometry import camera_matrices, euler_xyz_matrix, intrinsics, look_at_rotation
from simgen.tools.export import split_images


def camera() -> CameraParams:
    location = np.array([3.0, -4.0, 2.5])
    matrix_world, w2c = camera_matrices(location, look_at_rotation(location, np.array([0.0, 0.0, 0.5])))
    return CameraParams(tuple(location), matrix_world.tolist(), 35.0, 36.0, (96, 72),
                        intrinsics(35.0, 36.0, 96, 72).tolist(), w2c.tolist(), (0.0, 0.0, 0.5))


# --- the motion model (pure) ------------------------------------------------------------------------


def test_a_driving_turning_camera_follows_its_arc() -> None:
    start = camera()
    motion = clips.ClipMotion(10.0, math.radians(30), 0.0, [[0.0] * 3] * 3, [])
    assert np.allclose(clips.camera_at(start, motion, 0.0).matrix_world, start.matrix_world)
    later = clips.camera_at(start, motion, 1.0)
    heading = math.atan2(-start.matrix_world[1][2], -start.matrix_world[0][2])  # -Z: where it looks
    radius = 10.0 / math.radians(30)  # speed / turn rate
    centre = np.array(start.location[:2]) + radius * np.array([-math.sin(heading), math.cos(heading)])
    assert np.linalg.norm(np.array(later.location[:2]) - centre) == pytest.approx(radius)  # on the circle
    travelled = 2 * radius * math.sin(math.radians(30) / 2)  # the chord of 30 degrees of arc
    assert np.linalg.norm(np.subtract(later.location, start.location)) == pytest.approx(travelled)
    assert later.location[2] == pytest.approx(start.location[2])
    looks = -np.array(later.matrix_world)[:3, 2]
    assert math.degrees(math.atan2(looks[1], looks[0]) - heading) == pytest.approx(30.0)  # turned with the road
    w2c, c2w = np.array(later.world_to_camera), np.array(later.matrix_world)
    assert np.allclose(w2c[:3, :3] @ c2w[:3, :3] @ np.diag([1, -1, -1]), np.eye(3))


def test_an_orbiting_camera_circles_what_it_looks_at() -> None:
    start = camera()
    motion = clips.ClipMotion(0.0, 0.0, 0.0, [[0.0] * 3] * 3, [], math.radians(45))
    later = clips.camera_at(start, motion, 2.0)  # 90 degrees round
    target = np.array(start.look_at)
    before, after = np.subtract(start.location, target), np.subtract(later.location, target)
    assert np.linalg.norm(after) == pytest.approx(np.linalg.norm(before)) and after[2] == pytest.approx(before[2])
    assert after[:2] == pytest.approx([-before[1], before[0]])  # anticlockwise seen from above
    looks = -np.array(later.matrix_world)[:3, 2]
    assert np.allclose(np.cross(looks, -after / np.linalg.norm(after)), 0, atol=1e-9)  # still at the target
    assert np.array(later.velocity) @ after == pytest.approx(0.0, abs=1e-9)  # moving along the circle


def test_a_hand_shakes_the_camera_from_rest() -> None:
    start = camera()
    motion = clips.ClipMotion(0.0, 0.0, math.radians(2.0), np.random.default_rng(1).uniform(0, 6, (3, 3)).tolist(), [])
    assert np.allclose(clips.camera_at(start, motion, 0.0).matrix_world, start.matrix_world)
    angles = []
    for t in np.linspace(0.1, 3, 30):
        r = np.array(clips.camera_at(start, motion, float(t)).matrix_world)[:3, :3].T @ np.array(start.matrix_world)[:3, :3]
        angles.append(math.degrees(math.acos(np.clip((np.trace(r) - 1) / 2, -1, 1))))
    assert 0.3 < max(angles) < 8.0 and np.allclose(clips.camera_at(start, motion, 1.0).location, start.location)


def test_objects_drive_towards_their_front() -> None:
    from simgen.sampling.frame_spec import MaterialParams, ObjectSpec

    car = ObjectSpec(1, "car", 1, "primitive:cube", (0.0, 0.0, 0.0), (0.0, 0.0, math.radians(90)), 1.0,
                     MaterialParams("sampled", (0.5, 0.5, 0.5), (0.0, 0.0, 0.5), 0.5, 0.0))
    assert np.allclose(clips.heading_velocity(car, "-y", 5.0), (5.0, 0.0, 0.0))  # -y turned 90 degrees is +x
    assert np.allclose(clips.heading_velocity(car, "+x", 2.0), (0.0, 2.0, 0.0))


def test_dropped_and_thrown_objects_fall_and_land() -> None:
    assert clips.height_at(5.0, 0.0, 0.0) == (5.0, 0.0)
    height, speed = clips.height_at(5.0, 0.0, 0.5)
    assert height == pytest.approx(5.0 - 9.81 * 0.25 / 2) and speed == pytest.approx(-9.81 * 0.5)
    assert clips.height_at(5.0, 0.0, math.sqrt(2 * 5.0 / 9.81) + 1e-6) == (0.0, 0.0)  # landed, and stays
    top = 4.0 / 9.81  # thrown up at 4 m/s: highest after v / g, at v^2 / 2g
    assert clips.height_at(0.0, 4.0, top)[0] == pytest.approx(16 / (2 * 9.81))
    assert clips.height_at(0.0, 4.0, 2 * top + 1e-6) == (0.0, 0.0)


def test_tracks_and_their_events() -> None:
    images = [{"id": i + 1, "video_id": 1, "frame_id": i, "frame_index": i, "width": 8, "height": 6,
               "params": {"clip": {"fps": 10.0}}, "in_view": in_view}
              for i, in_view in enumerate([[1, 2], [1, 2], [1, 2], [2], [1, 2]])]
    seen = {1: [1, 2], 2: [1], 3: [1, 2], 4: [2], 5: [2]}  # image -> masks with an annotation
    annotations = [{"image_id": image, "track_id": 100_000 + mask, "category_id": 1}
                   for image, masks in seen.items() for mask in masks]
    (video,), tracks = videos_and_tracks(images, annotations)
    assert [t["id"] for t in tracks] == [100_001, 100_002] and tracks[0]["frames"] == 3
    assert video["length"] == 5 and video["fps"] == 10.0
    assert [(e["track_id"] - 100_000, e["frame_id"], e["event"]) for e in video["events"]] == [
        (2, 1, "occluded"), (2, 2, "reappear"), (1, 3, "leave"), (1, 4, "enter")]


def test_clips_are_split_whole() -> None:
    images = [{"id": i + 1, "video_id": i // 4 + 1, "conditions": []} for i in range(40)]
    splits = split_images(images, (0.6, 0.2, 0.2), 0)
    for members in splits.values():
        videos = {im["video_id"] for im in members}
        assert len(members) == 4 * len(videos)
    assert [len(m) for m in splits.values()] == [24, 8, 8]


def test_flow_needs_a_sequence_and_a_sequence_no_physics(tmp_path: Path, capsys) -> None:
    spec = yaml.safe_load((FIXTURES / "cube.yaml").read_text())
    spec["labels"] = {"outputs": ["flow"]}
    scene = tmp_path / "flow.yaml"
    scene.write_text(yaml.safe_dump(spec, sort_keys=False))
    assert main(["check", str(scene)]) == 2
    err = capsys.readouterr().err
    line = next(i for i, text in enumerate(scene.read_text().splitlines(), 1) if text.startswith("  outputs:"))
    assert f"flow.yaml:{line}:" in err and "add a sequence:" in err and "Traceback" not in err
    spec["labels"] = {}
    spec["sequence"] = {"length": 4}
    spec["placement"] = {"physics": {}}
    scene.write_text(yaml.safe_dump(spec, sort_keys=False))
    assert main(["check", str(scene)]) == 2
    assert "cannot run in it" in capsys.readouterr().err


# --- real renders -----------------------------------------------------------------------------------


def clip_scene(root: Path, name: str, **changes) -> Path:
    spec = yaml.safe_load((FIXTURES / "cube.yaml").read_text())
    spec["render"] = str(FIXTURES / "tiny.yaml")
    spec["frames"] = 3
    spec["sequence"] = {"length": 3, "fps": 10, "shutter": 0}
    spec["labels"] = {"outputs": ["flow", "flow_float"]}
    for key, value in changes.items():
        spec[key] = value
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def moving_cube(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clip")
    spec = yaml.safe_load((FIXTURES / "cube.yaml").read_text())
    cube = {**spec["classes"][0], "speed_mps": 2.0}
    assert render(clip_scene(root, "cube", classes=[cube]), root / "out") == 0
    return root / "out"


def surface_points(out: Path, image: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels (u, v), their surface points in the world (from the depth PNG) and the instance map."""
    K, w2c = np.array(image["camera"]["K"]), np.array(image["camera"]["world_to_camera"])
    depth = cv2.imread(str(out / image["depth_file"]), cv2.IMREAD_UNCHANGED) / 1000.0
    instance = cv2.imread(str(out / image["instance_file"]), cv2.IMREAD_UNCHANGED)
    v, u = np.mgrid[0:depth.shape[0], 0:depth.shape[1]]
    rays = np.dstack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(depth)]) * depth[..., None]
    world = (rays - w2c[:3, 3]) @ w2c[:3, :3]
    return np.dstack([u, v]).astype(float), world, instance


def project(image: dict, points: np.ndarray) -> np.ndarray:
    K, w2c = np.array(image["camera"]["K"]), np.array(image["camera"]["world_to_camera"])
    camera_points = points @ w2c[:3, :3].T + w2c[:3, 3]
    uv = camera_points @ K.T
    return uv[..., :2] / uv[..., 2:]


def interior(mask: np.ndarray) -> np.ndarray:
    return cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)


def test_a_translating_cubes_flow_is_its_displacement(moving_cube: Path) -> None:
    coco = json.loads((moving_cube / "annotations.json").read_text())
    for image in coco["images"]:
        pixels, world, instance = surface_points(moving_cube, image)
        velocity = np.array(image["params"]["objects"][0]["velocity"])
        cube = interior(instance == 1)
        for key, step in (("flow_forward", 1), ("flow_backward", -1)):
            flow = np.load(moving_cube / image[f"{key}_float_file"])
            expected = project(image, world + velocity * step / 10) - pixels
            assert np.abs(flow[cube] - expected[cube]).max() < 0.1, key
            png, valid = decode_kitti(cv2.imread(str(moving_cube / image[f"{key}_file"]), cv2.IMREAD_UNCHANGED))
            assert np.abs(png[cube] - flow[cube]).max() <= 1 / 128 + 1e-4 and valid[cube].all()
        still = interior((instance == 0) & np.isfinite(np.load(moving_cube / image["flow_forward_float_file"])[..., 0]))
        assert np.abs(np.load(moving_cube / image["flow_forward_float_file"])[still]).max() < 0.05  # ground


def test_the_clip_has_videos_tracks_and_a_mot_export_scored_perfect(moving_cube: Path, tmp_path: Path) -> None:
    motmetrics = pytest.importorskip("motmetrics")
    coco = json.loads((moving_cube / "annotations.json").read_text())
    (video,) = coco["videos"]
    assert video["length"] == 3 and [im["frame_id"] for im in coco["images"]] == [0, 1, 2]
    assert {a["track_id"] for a in coco["annotations"]} == {t["id"] for t in coco["tracks"]} == {100_001}
    boxes = [a["bbox"] for a in coco["annotations"]]
    assert boxes[0] != boxes[2], "the cube moves"
    dest = tmp_path / "mot"
    assert main(["export", str(moving_cube), "--format", "mot", "-o", str(dest), "--split", "1,0,0"]) == 0
    gt = dest / "train" / video["name"] / "gt" / "gt.txt"
    assert sorted(p.name for p in (dest / "train" / video["name"] / "img1").glob("*.png")) == \
        ["000001.png", "000002.png", "000003.png"]
    from PIL import Image
    from simgen.tools.sheet import clip_gifs

    gif, = clip_gifs(moving_cube, tmp_path / "gifs", tile_width=96)
    assert Image.open(gif).n_frames == 3
    truth = motmetrics.io.loadtxt(str(gt), fmt="mot15-2D")
    accumulator = motmetrics.utils.compare_to_groundtruth(truth, truth, "iou", distth=0.5)
    summary = motmetrics.metrics.create().compute(accumulator, metrics=["mota", "idf1", "num_switches"])
    assert summary["mota"].iloc[0] == 1.0 and summary["idf1"].iloc[0] == 1.0 and summary["num_switches"].iloc[0] == 0


def test_a_turning_camera_gives_the_reprojection_flow(tmp_path: Path) -> None:
    """A static scene from a camera turning at 20 deg/s and driving at 1 m/s: every surface pixel's flow is
    its depth point projected into the next frame's camera, within 0.1 px."""
    scene = clip_scene(tmp_path, "turn", sequence={"length": 3, "fps": 10, "shutter": 0,
                                                   "camera": {"speed_mps": 1.0, "turn_deg_s": 20}})
    assert render(scene, tmp_path / "out") == 0
    coco = json.loads((tmp_path / "out" / "annotations.json").read_text())
    first, second = coco["images"][0], coco["images"][1]
    assert first["camera"]["world_to_camera"] != second["camera"]["world_to_camera"]
    pixels, world, instance = surface_points(tmp_path / "out", first)
    flow = np.load(tmp_path / "out" / first["flow_forward_float_file"])
    png, valid = decode_kitti(cv2.imread(str(tmp_path / "out" / first["flow_forward_file"]), cv2.IMREAD_UNCHANGED))
    surface = interior(np.isfinite(flow[..., 0]))
    edges = cv2.Canny((instance * 50).astype(np.uint8), 1, 1) > 0  # the depth PNG blurs nothing, but mm steps do
    inside = surface & ~cv2.dilate(edges.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    expected = project(second, world) - pixels
    assert np.median(np.abs(flow[inside] - expected[inside])) < 0.05
    assert np.percentile(np.abs(flow[inside] - expected[inside]), 99) < 0.1
    assert np.abs(flow[inside]).max() > 1.0, "the camera's turn moves the image"
    landing = pixels + flow
    out_of_view = (landing[..., 0] < 0) | (landing[..., 0] > 95) | (landing[..., 1] < 0) | (landing[..., 1] > 71)
    assert not valid[inside & out_of_view].any() and valid[inside & ~out_of_view].mean() > 0.95


def test_motion_blur_is_centred_where_the_labels_say(tmp_path: Path) -> None:
    """A blurred clip frame: the cube's mask is where the frame's own pose projects it (the blur is keyed
    around the pose the frame shows, not the last frame's)."""
    spec = yaml.safe_load((FIXTURES / "cube.yaml").read_text())
    cube = {**spec["classes"][0], "speed_mps": 3.0}
    scene = clip_scene(tmp_path, "blur", classes=[cube], sequence={"length": 3, "fps": 10, "shutter": 0.8},
                       labels={})
    assert render(scene, tmp_path / "out") == 0
    coco = json.loads((tmp_path / "out" / "annotations.json").read_text())
    for image, annotation in zip(coco["images"], coco["annotations"]):
        obj = image["params"]["objects"][0]
        corners = np.array([[x, y, z] for x in (-.5, .5) for y in (-.5, .5) for z in (-.5, .5)])
        corners = corners @ euler_xyz_matrix(*obj["rotation_euler"]).T + obj["location"]
        uv = project(image, corners) + 0.5
        x, y, w, h = annotation["bbox"]
        assert np.allclose([x, y, x + w, y + h], [*uv.min(0), *uv.max(0)], atol=1.0)


def test_a_clip_killed_midway_and_resumed_equals_an_uninterrupted_one(moving_cube: Path, tmp_path: Path) -> None:
    scene = moving_cube.parent / "cube.yaml"
    out = tmp_path / "out"
    assert render(scene, out, "-n", "2") == 0  # stopped after two of the clip's three frames
    assert render(scene, out) == 0
    resumed, whole = (json.loads((folder / "annotations.json").read_text()) for folder in (out, moving_cube))
    for key in ("images", "annotations", "videos", "tracks"):
        assert resumed[key] == whole[key], key
    for image in whole["images"]:
        for key in ("file_name", "flow_forward_file", "instance_file"):
            a = cv2.imread(str(out / image[key]), cv2.IMREAD_UNCHANGED)
            b = cv2.imread(str(moving_cube / image[key]), cv2.IMREAD_UNCHANGED)
            assert np.array_equal(a, b), (image["id"], key)


def test_a_falling_cubes_flow_follows_its_curve(tmp_path: Path) -> None:
    """A cube dropped from 1 m: each frame's forward flow over the cube is the move to where gravity puts it
    in the next frame (not the straight line of its speed now), within 0.1 px; it lands and stops."""
    spec = yaml.safe_load((FIXTURES / "cube.yaml").read_text())
    cube = {**spec["classes"][0], "drop_m": 1.0}
    scene = clip_scene(tmp_path, "drop", classes=[cube], frames=4, sequence={"length": 4, "fps": 5, "shutter": 0})
    assert render(scene, tmp_path / "out") == 0
    coco = json.loads((tmp_path / "out" / "annotations.json").read_text())
    heights = [image["params"]["objects"][0]["location"][2] for image in coco["images"]]
    assert heights == pytest.approx([1.5, 1.5 - 9.81 * 0.2 ** 2 / 2, 1.5 - 9.81 * 0.4 ** 2 / 2, 0.5])  # lands at 0.45 s
    image, after = coco["images"][0], coco["images"][1]
    pixels, world, instance = surface_points(tmp_path / "out", image)
    flow = np.load(tmp_path / "out" / image["flow_forward_float_file"])
    fall = np.subtract(after["params"]["objects"][0]["location"], image["params"]["objects"][0]["location"])
    expected = project(image, world + fall) - pixels
    cube_px = interior(instance == 1)
    error = np.abs(flow[cube_px] - expected[cube_px])
    assert np.percentile(error, 99) < 0.1 and error.max() < 0.2  # the depth PNG's millimetres, at the edges
    assert np.abs(flow[cube_px]).max() > 3.0


def test_exports_name_clips_by_id_never_by_a_doctored_name(moving_cube: Path, tmp_path: Path) -> None:
    """videos[].name is data: a COCO file edited to name a clip '../../escape' exports and draws it as clip_000000."""
    from simgen.tools.sheet import clip_gifs

    out = tmp_path / "out"
    shutil.copytree(moving_cube, out)
    coco = json.loads((out / "annotations.json").read_text())
    coco["videos"][0]["name"] = "../../escape"
    (out / "annotations.json").write_text(json.dumps(coco))
    dest = tmp_path / "deep" / "mot"
    assert main(["export", str(out), "--format", "mot", "-o", str(dest), "--split", "1,0,0"]) == 0
    assert (dest / "train" / "clip_000000" / "gt" / "gt.txt").is_file() and not (tmp_path / "escape").exists()
    gif, = clip_gifs(out, tmp_path / "gifs", tile_width=64)
    assert gif.parent == tmp_path / "gifs" and gif.name == "clip_000000.gif"
