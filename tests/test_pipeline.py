"""End-to-end: real Cycles renders at tiny size, labels checked against the rendered passes."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from conftest import FIXTURES, ROOT, render
from simgen.annotate.instances import decode_rle
from simgen.sampling.geometry import box_corners, euler_xyz_matrix, project_points


def read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, path
    return image


def test_pycocotools_loads_and_files_exist(quickstart: Path, quickstart_coco: dict) -> None:
    coco = COCO(str(quickstart / "annotations.json"))
    assert len(coco.getImgIds()) == 4
    assert [c["name"] for c in quickstart_coco["categories"]] == ["cube", "sphere", "monkey"]
    assert [c["id"] for c in quickstart_coco["categories"]] == [1, 2, 3]
    for image in quickstart_coco["images"]:
        for key, channels, dtype in (("file_name", 3, np.uint8), ("depth_file", 1, np.uint16),
                                     ("instance_file", 1, np.uint16), ("semantic_file", 1, np.uint8)):
            array = read(quickstart / image[key])
            assert array.shape[:2] == (image["height"], image["width"]) == (72, 96)
            assert (array.ndim == 3) == (channels == 3)
            assert array.dtype == dtype
    ids = [a["id"] for a in quickstart_coco["annotations"]]
    assert len(ids) == len(set(ids)) and ids
    assert len(quickstart_coco["annotations"]) > 0


def test_every_mask_is_exactly_its_instance_pixels(quickstart: Path, quickstart_coco: dict) -> None:
    by_image: dict[int, list[dict]] = {}
    for annotation in quickstart_coco["annotations"]:
        by_image.setdefault(annotation["image_id"], []).append(annotation)
    for image in quickstart_coco["images"]:
        instance = read(quickstart / image["instance_file"])
        semantic = read(quickstart / image["semantic_file"])
        labeled = by_image.get(image["id"], [])
        assert sorted(np.unique(instance[instance > 0]).tolist()) == sorted(a["mask_id"] for a in labeled)
        for annotation in labeled:
            mask = decode_rle(annotation["segmentation"])
            assert np.array_equal(mask, instance == annotation["mask_id"])
            assert annotation["area"] == int(mask.sum())
            rows, cols = np.nonzero(mask)
            assert annotation["bbox"] == [cols.min(), rows.min(), cols.max() - cols.min() + 1, rows.max() - rows.min() + 1]
            assert np.all(semantic[mask] == annotation["category_id"])
            assert annotation["iscrowd"] == 0
        assert np.all(semantic[instance == 0] == 0)


def test_image_records_carry_camera_and_params(quickstart_coco: dict) -> None:
    image = quickstart_coco["images"][0]
    K = np.array(image["camera"]["K"])
    assert K.shape == (3, 3) and K[2, 2] == 1
    assert np.array(image["camera"]["world_to_camera"]).shape == (4, 4)
    params = image["params"]
    assert {"objects", "camera", "sun", "world", "ground"} <= params.keys()
    assert params["index"] == image["frame_index"] == 0


def test_depth_and_rgb_are_plausible(quickstart: Path, quickstart_coco: dict) -> None:
    for image in quickstart_coco["images"]:
        rgb = read(quickstart / image["file_name"])
        assert 10 < rgb.mean() < 245, "image is black or blown out"
        depth = read(quickstart / image["depth_file"])
        instance = read(quickstart / image["instance_file"])
        on_objects = depth[instance > 0]
        assert on_objects.min() > 0, "every object pixel has a surface"
        camera_distance = np.linalg.norm(np.array(image["params"]["camera"]["location"]))
        assert on_objects.max() / 1000 < camera_distance + 2


def test_known_cube_bbox_and_depth_match_geometry(tmp_path: Path) -> None:
    out = tmp_path / "cube"
    assert render(FIXTURES / "cube.yaml", out) == 0
    coco = json.loads((out / "annotations.json").read_text())
    image, (annotation,) = coco["images"][0], coco["annotations"]
    K = np.array(image["camera"]["K"])
    world_to_camera = np.array(image["camera"]["world_to_camera"])
    rotation = euler_xyz_matrix(0, 0, np.radians(30))
    centre = np.array([0.2, -0.1, 0.5])
    corners = box_corners([-0.5] * 3, [0.5] * 3) @ rotation.T + centre
    uv = project_points(corners, K, world_to_camera) + 0.5  # OpenCV pixel centres -> COCO pixel edges
    x, y, w, h = annotation["bbox"]
    expected = [uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()]
    assert np.allclose([x, y, x + w, y + h], expected, atol=1.0), ([x, y, x + w, y + h], expected)

    # Depth: cast the ray of every interior pixel at the cube (slab test) and compare z-depth.
    depth = read(out / image["depth_file"]).astype(float) / 1000
    mask = decode_rle(annotation["segmentation"])
    interior = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    r, t = world_to_camera[:3, :3], world_to_camera[:3, 3]
    origin_world = -r.T @ t
    rows, cols = np.nonzero(interior)
    assert len(rows) > 50
    for row, col in zip(rows, cols):
        direction_world = r.T @ np.linalg.solve(K, [col, row, 1.0])
        o = rotation.T @ (origin_world - centre)
        d = rotation.T @ direction_world
        t_near = np.max(np.minimum((-0.5 - o) / d, (0.5 - o) / d))
        hit = origin_world + t_near * direction_world
        expected_z = (r @ hit + t)[2]
        assert abs(depth[row, col] - expected_z) / expected_z < 0.01

    assert np.allclose(annotation["location"], r @ centre + t, atol=1e-4)
    assert np.allclose(annotation["dimensions"], [1, 1, 1], atol=1e-4)


def test_same_seed_gives_identical_labels(quickstart: Path, quickstart_coco: dict, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert render(ROOT / "scenes" / "quickstart.yaml", again, "-n", "4") == 0
    second = json.loads((again / "annotations.json").read_text())
    for key in ("images", "annotations", "categories"):
        assert second[key] == quickstart_coco[key]
    for image in second["images"]:
        assert np.array_equal(read(again / image["instance_file"]), read(quickstart / image["instance_file"]))


def test_other_seed_gives_other_scene(quickstart_coco: dict, tmp_path: Path) -> None:
    out = tmp_path / "seed"
    assert render(ROOT / "scenes" / "quickstart.yaml", out, "-n", "1", "--seed", "99") == 0
    other = json.loads((out / "annotations.json").read_text())
    assert other["images"][0]["params"] != quickstart_coco["images"][0]["params"]


def test_rerun_resumes_and_extends(tmp_path: Path, capsys) -> None:
    out = tmp_path / "resume"
    assert render(ROOT / "scenes" / "quickstart.yaml", out, "-n", "2") == 0
    assert "resuming" not in capsys.readouterr().err
    first = (out / "images" / "000000.png").stat().st_mtime_ns
    assert render(ROOT / "scenes" / "quickstart.yaml", out, "-n", "3") == 0
    assert f"resuming {out}: 2 of 3 frame(s) already there, rendering the other 1" in capsys.readouterr().err
    coco = json.loads((out / "annotations.json").read_text())
    assert [i["frame_index"] for i in coco["images"]] == [0, 1, 2]
    assert (out / "images" / "000000.png").stat().st_mtime_ns == first, "finished frames are not re-rendered"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["images"] == 3
    assert set(manifest["timing"]["stage_seconds"]) == {"sample", "scene_update", "physics", "render", "readback", "label_passes", "sensor", "annotate", "write"}


def test_licenses_recorded(quickstart: Path, quickstart_coco: dict) -> None:
    assert quickstart_coco["licenses"] and all("name" in entry for entry in quickstart_coco["licenses"])
    assert "primitive:cube" in (quickstart / "ATTRIBUTION.txt").read_text()


@pytest.mark.parametrize("name", ["ycb_tabletop.yaml"])
def test_shipped_ycb_scenario_renders(name: str, tmp_path: Path) -> None:
    out = tmp_path / "ycb"
    assert render(ROOT / "scenes" / name, out, "-n", "1") == 0
    coco = json.loads((out / "annotations.json").read_text())
    assert coco["annotations"], "YCB objects are visible and labeled"
    assert any("CC BY 4.0" == entry["name"] for entry in coco["licenses"])
    assert "ycb" in (out / "ATTRIBUTION.txt").read_text().lower()
