"""Visibility, truncation, amodal boxes, keypoints and filtering, checked on scenes built to have known answers."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import FIXTURES, render
from simgen.annotate.amodal import isolation_groups, truncation
from simgen.annotate.instances import decode_rle


def rendered(name: str, tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / name
    assert render(FIXTURES / f"{name}.yaml", out, *extra) == 0
    return json.loads((out / "annotations.json").read_text())


@pytest.fixture(scope="module")
def half_hidden(tmp_path_factory) -> dict:
    return rendered("half_hidden", tmp_path_factory.mktemp("labels"))


def test_half_hidden_object_has_visibility_one_half(half_hidden: dict) -> None:
    target = next(a for a in half_hidden["annotations"] if a["category_id"] == 1)
    assert target["visibility"] == pytest.approx(0.5, abs=0.02)
    amodal = decode_rle(target["amodal_segmentation"])
    visible = decode_rle(target["segmentation"])
    assert np.all(amodal[visible]), "the visible mask lies inside the amodal mask"
    assert target["amodal_area"] == int(amodal.sum())
    assert not target["truncated"] and target["truncation"] == 0


def test_unoccluded_object_is_exactly_fully_visible(half_hidden: dict) -> None:
    wall = next(a for a in half_hidden["annotations"] if a["category_id"] == 2)
    assert wall["visibility"] == 1.0
    assert np.array_equal(decode_rle(wall["amodal_segmentation"]), decode_rle(wall["segmentation"]))


def test_keypoints_visible_hidden_and_declared(half_hidden: dict) -> None:
    category = half_hidden["categories"][0]
    assert category["keypoints"] == ["front_left", "front_right", "back_right_top"]
    assert category["skeleton"] == [[1, 2], [2, 3]]
    target = next(a for a in half_hidden["annotations"] if a["category_id"] == 1)
    flags = target["keypoints"][2::3]
    # front-left is behind the wall; front-right is seen; the back corner is hidden by the cube itself
    # (the camera is level with the cube's centre), which only the depth test can tell
    assert flags == [1, 2, 1]
    assert target["num_keypoints"] == 3


def test_half_outside_object_is_truncated_by_one_half(tmp_path: Path) -> None:
    coco = rendered("half_outside", tmp_path)
    (ball,) = coco["annotations"]
    assert ball["truncated"] is True
    assert ball["truncation"] == pytest.approx(0.5, abs=0.02)
    x, y, w, h = ball["amodal_bbox"]
    assert x < 0 < x + w, "the amodal box extends past the left border"
    assert ball["bbox"][0] == 0
    assert ball["visibility"] == 1.0, "truncation is not occlusion"


def test_filtering_drops_or_ignores_hidden_objects(tmp_path: Path) -> None:
    scenario = (FIXTURES / "half_hidden.yaml").read_text().replace(
        "labels: {amodal_masks: true}", "labels: {min_visibility: 0.6, filtered: FILTERED}")
    for mode, expected in (("drop", None), ("ignore", 1)):
        path = tmp_path / f"{mode}.yaml"
        path.write_text(scenario.replace("FILTERED", mode).replace("render: tiny.yaml", f"render: {FIXTURES / 'tiny.yaml'}"))
        out = tmp_path / mode
        assert render(path, out) == 0
        annotations = json.loads((out / "annotations.json").read_text())["annotations"]
        target = [a for a in annotations if a["category_id"] == 1]
        if expected is None:
            assert target == []
        else:
            assert target[0]["iscrowd"] == 1 and target[0]["ignore"] == 1


def test_isolation_groups_only_for_overlapping_extents() -> None:
    extents = {1: (0, 0, 10, 10), 2: (8, 8, 20, 20), 3: (40, 40, 50, 50), 4: (15, 0, 30, 5)}
    groups = isolation_groups(extents, 64, 64)
    assert sorted(i for g in groups for i in g) == [1, 2, 4], "3 overlaps nothing and needs no pass"
    assert [1, 4] in groups or [1, 4] == groups[0], "non-overlapping 1 and 4 share a pass"


def test_truncation_fraction() -> None:
    assert truncation((-10, 0, 10, 10), 100, 100) == pytest.approx(0.5)
    assert truncation((10, 10, 20, 20), 100, 100) == 0.0
    assert truncation(None, 100, 100) == 1.0


def test_projected_centre_lies_inside_the_amodal_box(half_hidden: dict) -> None:
    image = half_hidden["images"][0]
    K = np.array(image["camera"]["K"])
    for annotation in half_hidden["annotations"]:
        u, v, w = K @ np.array(annotation["location"])
        x, y, bw, bh = annotation["amodal_bbox"]
        assert x <= u / w + 0.5 <= x + bw and y <= v / w + 0.5 <= y + bh


def test_ground_truth_as_detections_scores_ap_one_on_occluded_multiclass_data(tmp_path: Path) -> None:
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    scenario = (FIXTURES.parent.parent / "scenes" / "quickstart.yaml").read_text() + """
distractors: {count: 5, scale: [0.15, 0.3], near_camera: 0.6}
"""
    path = tmp_path / "occluded.yaml"
    path.write_text(scenario.replace("render: preview", f"render: {FIXTURES / 'tiny.yaml'}"))
    out = tmp_path / "occluded"
    assert render(path, out, "-n", "6") == 0
    coco = json.loads((out / "annotations.json").read_text())
    assert len({a["category_id"] for a in coco["annotations"]}) >= 2
    assert any(a["visibility"] < 1 for a in coco["annotations"]), "some objects are occluded"
    detections = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"],
                   "segmentation": a["segmentation"], "score": 1.0} for a in coco["annotations"]]
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(out / "annotations.json"))
        for iou_type in ("bbox", "segm"):
            evaluation = COCOeval(truth, truth.loadRes(detections), iou_type)
            evaluation.evaluate()
            evaluation.accumulate()
            evaluation.summarize()
            assert evaluation.stats[0] == pytest.approx(1.0, abs=1e-9), iou_type


@pytest.mark.parametrize("fmt", ["npy", "exr"])
def test_float_depth_on_request(tmp_path: Path, fmt: str) -> None:
    text = (FIXTURES / "cube.yaml").read_text().replace("render: tiny.yaml", f"render: {FIXTURES / 'tiny.yaml'}")
    path = tmp_path / "d.yaml"
    path.write_text(text + f"labels: {{depth_float: {fmt}}}\n")
    assert render(path, tmp_path / "d") == 0
    image = json.loads((tmp_path / "d" / "annotations.json").read_text())["images"][0]
    target = tmp_path / "d" / image["depth_float_file"]
    if fmt == "npy":
        depth = np.load(target)
    else:
        import OpenEXR

        depth = OpenEXR.File(str(target)).channels()["Z"].pixels
    millimetres = cv2.imread(str(tmp_path / "d" / image["depth_file"]), cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.float32 and depth.shape == millimetres.shape
    finite = np.isfinite(depth)
    assert np.array_equal(finite, millimetres > 0)
    assert np.allclose(depth[finite] * 1000, millimetres[finite], atol=0.51)


def test_catalog_entry_declares_keypoints_and_material_policy(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "boxes.yaml").write_text(f"""
license: CC0 1.0
entries:
  box:
    files: "{FIXTURES / 'meshes' / 'red_box.blend'}"
    material: keep
    keypoints: {{names: [top_centre, bottom_corner], points: [[0, 0, 1.0], [0.5, -0.5, 0.0]], skeleton: [[1, 2]]}}
""")
    scene = tmp_path / "s.yaml"
    scene.write_text(f"""
name: kp
frames: 1
render: {FIXTURES / 'tiny.yaml'}
classes: [{{name: box, asset: catalog:boxes/box, count: 1, scale: 0.5, position: {{x: 0, y: 0, z: 0}}}}]
camera: {{focal_length_mm: 35, fixed: {{location: [2.0, -3.0, 2.0], look_at: [0, 0, 0.25]}}}}
""")
    out = tmp_path / "out"
    assert render(scene, out) == 0
    coco = json.loads((out / "annotations.json").read_text())
    assert coco["categories"][0]["keypoints"] == ["top_centre", "bottom_corner"]
    (annotation,) = coco["annotations"]
    assert annotation["keypoints"][2] == 2, "the top centre faces the camera"
    assert coco["images"][0]["params"]["objects"][0]["material"]["mode"] == "keep"


def test_a_box_hides_only_what_no_face_plane_separates_from_the_eye() -> None:
    from simgen.annotate.amodal import box_corners_world, group_window, hidden_by_boxes

    def box(centre, size, yaw=0.0):
        return box_corners_world(np.array([centre], float), np.array([size], float), np.array([yaw]))

    cube = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (0.0, 1.0)])  # stands on z = 0
    eye = np.array([0.0, -6.0, 1.5])
    road = box([0, 0, -0.05], [20, 20, 0.1])  # top face at z = 0, the cube on it
    assert not hidden_by_boxes(cube, eye, road)
    assert hidden_by_boxes(cube - [0, 0, 0.01], eye, road), "sunk 1 cm into the road: the road may hide its foot"
    wall = box([0, -3, 1], [4, 0.2, 2])  # between the eye and the cube
    assert hidden_by_boxes(cube, eye, wall)
    assert hidden_by_boxes(cube, eye, box([0.3, -3, 1], [0.1, 0.1, 2], 30.0)), "a thin post across the rays to one side"
    assert not hidden_by_boxes(cube, eye, box([3, -3, 1], [1, 1, 2], 30.0)), "a post off to the side, turned"
    assert not hidden_by_boxes(cube, eye, box([0, 3, 1], [4, 0.2, 2])), "a wall behind"
    assert hidden_by_boxes(cube, eye, np.concatenate([road, wall])), "any one box that may hide counts"
    assert not hidden_by_boxes(cube, eye, np.zeros((0, 8, 3)))
    # a pass's window holds each member's extent with the jitter margin
    extents = {1: (10.2, 5.5, 20.1, 15.0), 2: (40.0, 30.0, 50.0, 47.9), 3: None}
    assert group_window(extents, [1, 2], 64, 48) == (7, 2, 53, 48)
    assert group_window(extents, [3], 64, 48) == (0, 0, 64, 48), "reaching behind the camera: the whole frame"


def test_hidden_candidates_are_nearer_surfaces_of_others_in_the_window() -> None:
    """Only a pixel showing something else nearer than the object's far side can hide it."""
    from simgen.annotate.amodal import hidden_candidates

    instance = np.array([[0, 1, 2, 2],
                         [1, 1, 2, 0],
                         [0, 0, 0, 0]])
    z = np.array([[1.0, 5.0, 2.0, 9.0],
                  [5.0, 5.0, 3.0, np.nan],
                  [4.0, 6.0, 8.0, 1.0]])
    points = np.dstack([np.zeros_like(z), np.zeros_like(z), z])  # the eye at the origin looking along +z
    rows, cols = hidden_candidates(instance, points, np.zeros(3), np.array([0.0, 0.0, 1.0]), 1, (0, 0, 3, 3), 6.0)
    assert sorted(zip(rows.tolist(), cols.tolist())) == [(0, 0), (0, 2), (1, 2), (2, 0)]
