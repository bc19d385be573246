"""KITTI and Pascal VOC exports, checked against their specs (KITTI: the devkit's 3D box and projection;
VOC: 1-based inclusive boxes) and loaded with torchvision's VOC reader where it is installed."""

from __future__ import annotations

import math
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest

from simgen.cli import main
from simgen.tools.exports.kitti import KITTI_OBJECT_FROM_SIMGEN, level_frame


def devkit_box_corners(h: float, w: float, l: float, location: np.ndarray, rotation_y: float) -> np.ndarray:
    """The KITTI object devkit's compute_box_3d, written from its definition."""
    c, s = math.cos(rotation_y), math.sin(rotation_y)
    rotation = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    corners = np.array([[l / 2, l / 2, -l / 2, -l / 2, l / 2, l / 2, -l / 2, -l / 2],
                        [0, 0, 0, 0, -h, -h, -h, -h],
                        [w / 2, -w / 2, -w / 2, w / 2, w / 2, -w / 2, -w / 2, w / 2]])
    return (rotation @ corners).T + location


def read_calib(path: Path) -> dict[str, np.ndarray]:
    return {key: np.array(values.split(), float) for key, values in
            (line.split(":", 1) for line in path.read_text().splitlines())}


def test_kitti_labels_reproject_onto_the_3d_boxes(quickstart: Path, quickstart_coco: dict, tmp_path: Path) -> None:
    dest = tmp_path / "kitti"
    assert main(["export", str(quickstart), "--format", "kitti", "-o", str(dest), "--split", "0.5,0.25,0.25"]) == 0
    by_image = {image["file_name"].split("/")[-1].split(".")[0]: image for image in quickstart_coco["images"]}
    listed = sorted(line for split in ("train", "val", "test")
                    for line in (dest / "ImageSets" / f"{split}.txt").read_text().split())
    assert listed == sorted(by_image)
    checked = 0
    for stem, image in by_image.items():
        annotations = [a for a in quickstart_coco["annotations"] if a["image_id"] == image["id"]]
        lines = (dest / "training" / "label_2" / f"{stem}.txt").read_text().splitlines()
        assert len(lines) == len(annotations) and (dest / "training" / "image_2" / f"{stem}.png").is_file()
        p2 = read_calib(dest / "training" / "calib" / f"{stem}.txt")["P2"].reshape(3, 4)
        r_cl = level_frame(np.array(image["camera"]["world_to_camera"]))
        for line, annotation in zip(lines, annotations):
            fields = line.split()
            assert len(fields) == 15 and fields[0] == quickstart_coco["categories"][annotation["category_id"] - 1]["name"]
            left, top, right, bottom = map(float, fields[4:8])
            x, y, w, h = annotation["bbox"]
            assert (left, top, right, bottom) == (x, y, x + w, y + h)
            height, width, length, *location, rotation_y = map(float, fields[8:])
            upright = r_cl.T @ np.array(annotation["rotation"]) @ KITTI_OBJECT_FROM_SIMGEN
            if annotation["box3d_projected"] is None or abs(upright[1, 1] - 1) > 1e-4:
                continue  # a tumbled object: KITTI's box turns about the vertical only
            corners = devkit_box_corners(height, width, length, np.array(location), rotation_y)
            uvw = (p2 @ np.hstack([corners, np.ones((8, 1))]).T).T
            projected = uvw[:, :2] / uvw[:, 2:]
            ours = np.array(annotation["box3d_projected"])
            gaps = np.linalg.norm(ours[:, None, :] - projected[None, :, :], axis=2).min(axis=1)
            assert gaps.max() < 0.05, (stem, gaps.max())
            checked += 1
    assert checked >= 6, "upright objects were checked"


def test_voc_boxes_and_lists_follow_the_spec(quickstart: Path, quickstart_coco: dict, tmp_path: Path) -> None:
    dest = tmp_path / "voc"
    assert main(["export", str(quickstart), "--format", "voc", "-o", str(dest), "--split", "0.5,0.25,0.25"]) == 0
    base = dest / "VOCdevkit" / "VOC2012"
    names = {c["id"]: c["name"] for c in quickstart_coco["categories"]}
    for image in quickstart_coco["images"]:
        stem = Path(image["file_name"]).stem
        root = ElementTree.parse(base / "Annotations" / f"{stem}.xml").getroot()
        assert root.findtext("filename") == f"{stem}.jpg" and (base / "JPEGImages" / f"{stem}.jpg").is_file()
        assert (int(root.findtext("size/width")), int(root.findtext("size/height"))) == (image["width"], image["height"])
        objects = root.findall("object")
        annotations = [a for a in quickstart_coco["annotations"] if a["image_id"] == image["id"]]
        assert [o.findtext("name") for o in objects] == [names[a["category_id"]] for a in annotations]
        for obj, annotation in zip(objects, annotations):
            x, y, w, h = annotation["bbox"]
            box = [int(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")]
            assert box == [x + 1, y + 1, x + w, y + h], "VOC boxes are 1-based and inclusive"
    trainval = (base / "ImageSets" / "Main" / "trainval.txt").read_text().split()
    assert len(trainval) + len((base / "ImageSets" / "Main" / "test.txt").read_text().split()) == 4
    torchvision = pytest.importorskip("torchvision")
    dataset = torchvision.datasets.VOCDetection(str(dest), year="2012", image_set="trainval")
    image, target = dataset[0]
    assert image.size == (quickstart_coco["images"][0]["width"], quickstart_coco["images"][0]["height"])
    assert target["annotation"]["object"], "torchvision reads the objects"
