"""Multi-camera rigs: the rig's geometry (pure), and a real tiny render of the known cube seen by three
cameras whose labels must each match that camera's own projection of the cube."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from conftest import FIXTURES, render
from simgen.cli import main
from simgen.dataset.layout import DATASET
from simgen.sampling.frame_spec import CameraParams
from simgen.sampling.geometry import camera_matrices, euler_xyz_matrix, intrinsics, look_at_rotation
from simgen.sampling.rig import view_camera
from simgen.tools.validate import validate_dataset

RIG = [{"name": "left", "position_m": [-0.5, 0.0, 0.0], "yaw_deg": -12},
       {"name": "tele", "focal_length_mm": 60, "resolution": [64, 48], "pitch_deg": 3, "outputs": ["normals"]}]


def main_camera() -> CameraParams:
    location = np.array([3.0, -4.0, 2.5])
    matrix_world, w2c = camera_matrices(location, look_at_rotation(location, np.array([0.0, 0.0, 0.5])))
    return CameraParams(tuple(location), matrix_world.tolist(), 35.0, 36.0, (96, 72),
                        intrinsics(35.0, 36.0, 96, 72).tolist(), w2c.tolist(), (0.0, 0.0, 0.5))


def to_camera(camera: CameraParams, points: np.ndarray) -> np.ndarray:
    w2c = np.array(camera.world_to_camera)
    return points @ w2c[:3, :3].T + w2c[:3, 3]


# --- geometry (pure) --------------------------------------------------------------------------------


def test_a_rig_camera_without_offset_or_turn_is_the_main_camera() -> None:
    main_cam = main_camera()
    same = view_camera(main_cam, (0.0, 0.0, 0.0), 0.0, 0.0, 0.0)
    assert np.allclose(same.world_to_camera, main_cam.world_to_camera)
    assert np.allclose(same.matrix_world, main_cam.matrix_world) and same.K == main_cam.K


def test_rig_offsets_and_turns_are_in_the_main_cameras_axes() -> None:
    main_cam = main_camera()
    points = np.random.default_rng(0).uniform(-2, 2, (20, 3))
    seen = to_camera(main_cam, points)
    moved = view_camera(main_cam, (0.3, -0.2, 0.1), 0.0, 0.0, 0.0)  # right, up, forward
    assert np.allclose(to_camera(moved, points), seen - [0.3, -0.2, 0.1])
    right = view_camera(main_cam, (0.0, 0.0, 0.0), 90.0, 0.0, 0.0)  # turned right: looks along the main's x
    assert np.allclose(to_camera(right, points)[:, 2], seen[:, 0])
    up = view_camera(main_cam, (0.0, 0.0, 0.0), 0.0, 90.0, 0.0)  # tilted up: looks along the main's -y
    assert np.allclose(to_camera(up, points)[:, 2], -seen[:, 1])
    rolled = view_camera(main_cam, (0.0, 0.0, 0.0), 0.0, 0.0, 90.0)  # clockwise: its x is the main's y
    assert np.allclose(to_camera(rolled, points)[:, 0], seen[:, 1])
    for camera in (moved, right, up, rolled):  # Blender's pose and OpenCV's extrinsics agree
        c2w = np.array(camera.matrix_world)
        assert np.allclose(np.linalg.inv(np.array(camera.world_to_camera))[:3, 3], c2w[:3, 3])
        assert np.allclose(c2w[:3, 3], camera.location)


def test_a_rig_camera_has_its_own_lens_and_image_size() -> None:
    main_cam = main_camera()
    wide = view_camera(main_cam, (0.0, 0.0, 0.0), 0.0, 0.0, 0.0, fov_deg=90.0, resolution=(64, 48))
    assert wide.resolution == (64, 48)
    assert wide.K[0][0] == pytest.approx(32.0) and wide.K[0][2] == pytest.approx(31.5)  # f = W / 2 at 90 deg
    assert wide.focal_length_mm == pytest.approx(18.0)


def test_duplicate_or_unfit_camera_names_are_one_clear_error(tmp_path: Path, capsys) -> None:
    spec = yaml.safe_load((FIXTURES / "cube.yaml").read_text())
    spec["camera"]["rig"] = [{"name": "left"}, {"name": "left", "yaw_deg": 30}]
    scene = tmp_path / "twice.yaml"
    scene.write_text(yaml.safe_dump(spec, sort_keys=False))
    assert main(["check", str(scene)]) == 2
    err = capsys.readouterr().err
    line = [i for i, text in enumerate(scene.read_text().splitlines(), 1) if text.strip() == "- name: left"][1]
    assert f"twice.yaml:{line}:" in err and "two rig cameras are named 'left'" in err and "Traceback" not in err
    spec["camera"]["rig"] = [{"name": "Left Cam"}]
    scene.write_text(yaml.safe_dump(spec, sort_keys=False))
    assert main(["check", str(scene)]) == 2
    assert "camera.rig[0].name" in capsys.readouterr().err


def test_the_rig_folders_are_simgens_own() -> None:
    assert DATASET.owns_file(Path("cameras/left/images/000003.png"))
    assert DATASET.owns_file(Path("cameras/left/annotations.json"))
    assert DATASET.owns_folder(Path("cameras")) and DATASET.owns_folder(Path("cameras/left/depth"))
    assert not DATASET.owns_file(Path("cameras/left/notes.txt"))
    assert not DATASET.owns_file(Path("cameras/Left Cam/images/000003.png"))
    assert not DATASET.owns_file(Path("cameras/annotations.json"))


# --- a real render ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rig(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("rig")
    spec = yaml.safe_load((FIXTURES / "cube.yaml").read_text())
    spec["render"] = str(FIXTURES / "tiny.yaml")
    spec["frames"] = 2
    spec["camera"]["rig"] = RIG
    scene = root / "rig.yaml"
    scene.write_text(yaml.safe_dump(spec))
    assert render(scene, root / "out") == 0
    return root / "out"


def cube_box(image: dict) -> list[float]:
    """The cube's 2D box in COCO pixels (edges at integers) from its 8 corners seen by this image's camera."""
    K, w2c = np.array(image["camera"]["K"]), np.array(image["camera"]["world_to_camera"])
    corners = np.array([[x, y, z] for x in (-.5, .5) for y in (-.5, .5) for z in (-.5, .5)])
    corners = corners @ euler_xyz_matrix(0, 0, math.radians(30)).T + [0.2, -0.1, 0.5]
    uv = (corners @ w2c[:3, :3].T + w2c[:3, 3]) @ K.T
    uv = uv[:, :2] / uv[:, 2:] + 0.5  # OpenCV pixel centres are integers; COCO pixel edges are
    return [uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()]


def test_each_cameras_labels_match_its_own_projection(rig: Path) -> None:
    main_coco = json.loads((rig / "annotations.json").read_text())
    boxes = {}
    for folder, name in (("", None), ("cameras/left/", "left"), ("cameras/tele/", "tele")):
        coco = json.loads((rig / f"{folder}annotations.json").read_text())
        assert [i["id"] for i in coco["images"]] == [i["id"] for i in main_coco["images"]]  # one id, one instant
        for image in coco["images"]:
            assert image.get("camera_name") == name
            annotation, = [a for a in coco["annotations"] if a["image_id"] == image["id"]]
            x, y, w, h = annotation["bbox"]
            assert np.allclose([x, y, x + w, y + h], cube_box(image), atol=1.0), name
            rgb = cv2.imread(str(rig / folder / image["file_name"]))
            assert rgb.shape[:2] == (image["height"], image["width"])
            instance = cv2.imread(str(rig / folder / image["instance_file"]), cv2.IMREAD_UNCHANGED)
            assert int((instance == annotation["mask_id"]).sum()) == annotation["area"]
            boxes[name] = annotation["bbox"]
    assert boxes["left"][0] > boxes[None][0] + 20, "a camera moved and turned left sees the cube further right"
    tele = json.loads((rig / "cameras/tele/annotations.json").read_text())["images"][0]
    assert (tele["width"], tele["height"]) == (64, 48) and "normals_file" in tele
    assert "normals_file" not in main_coco["images"][0]


def test_the_summary_sheet_and_manifest_show_every_camera(rig: Path, tmp_path: Path, capsys) -> None:
    from simgen.tools.sheet import GAP, sheet_png

    manifest = json.loads((rig / "manifest.json").read_text())
    assert manifest["cameras"] == {"left": {"images": 2, "annotations": 2}, "tele": {"images": 2, "annotations": 2}}
    sheet = cv2.imdecode(np.frombuffer(sheet_png(rig, json.loads((rig / "annotations.json").read_text()),
                                                 tile_width=100), np.uint8), cv2.IMREAD_COLOR)
    assert sheet.shape[1] == 3 * 100 + 4 * GAP  # a column per camera


def test_validate_checks_every_camera(rig: Path) -> None:
    report = validate_dataset(rig)
    assert not report.errors and report.images == 6
    broken = json.loads((rig / "cameras/left/annotations.json").read_text())
    broken["annotations"][0]["area"] += 5
    copy = rig.parent / "broken"
    if not copy.exists():
        import shutil
        shutil.copytree(rig, copy)
    (copy / "cameras/left/annotations.json").write_text(json.dumps(broken))
    report = validate_dataset(copy)
    assert report.errors and all(f.where.startswith("cameras/left/") for f in report.errors)


def test_resume_checks_each_cameras_files(rig: Path, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "out"
    shutil.copytree(rig, out)
    scene = rig.parent / "rig.yaml"
    kept = (out / "images/000000.png").stat().st_mtime_ns
    (out / "cameras/tele/normals/000001.png").write_bytes(b"damaged")
    assert render(scene, out) == 0
    assert (out / "images/000000.png").stat().st_mtime_ns == kept, "intact frames are kept"
    assert cv2.imread(str(out / "cameras/tele/normals/000001.png")) is not None, "the damaged frame is rendered again"
    assert not validate_dataset(out).errors


def test_shards_of_a_rig_merge_with_every_camera(rig: Path, tmp_path: Path) -> None:
    scene = rig.parent / "rig.yaml"
    parts = [tmp_path / f"part{k}" for k in (1, 2)]
    for k, part in enumerate(parts, 1):
        assert render(scene, part, "--shard", f"{k}/2") == 0
    merged = tmp_path / "merged"
    assert main(["merge", *map(str, parts), "-o", str(merged)]) == 0
    for folder in ("", "cameras/left/", "cameras/tele/"):
        assert json.loads((merged / f"{folder}annotations.json").read_text()) ["images"] == \
            json.loads((rig / f"{folder}annotations.json").read_text())["images"]
    assert not validate_dataset(merged).errors


def test_overwrite_clears_the_rig_folders(rig: Path, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "out"
    shutil.copytree(rig, out)
    assert render(FIXTURES / "cube.yaml", out, "--overwrite") == 0  # another dataset, without a rig
    assert not (out / "cameras").exists()
    shutil.copytree(rig / "cameras", out / "cameras")
    (out / "cameras/left/notes.txt").write_text("mine")
    assert render(scene := rig.parent / "rig.yaml", out, "--overwrite") == 2, scene  # never deletes what is not its own
    assert (out / "cameras/left/notes.txt").read_text() == "mine"


def test_a_journal_camera_name_cannot_lead_outside_the_dataset(rig: Path, tmp_path: Path) -> None:
    """A rig camera's name in the journal becomes a path: a doctored one ('../..') is refused, never followed."""
    import shutil

    from simgen.dataset.reader import record_files
    from simgen.dataset.writer import intact, read_journal

    out = tmp_path / "out"
    shutil.copytree(rig, out)
    record = next(iter(read_journal(out)))
    record["views"] = {"../../outside": record["views"]["left"]}
    assert any(".." in path for path in record_files(record))
    assert not intact(out, record)
