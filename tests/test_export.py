"""simgen export (YOLO, YOLO-seg, COCO split files) and simgen sheet, on the shared quickstart render."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from pycocotools.coco import COCO

from simgen.annotate.instances import decode_rle, encode_rle
from simgen.dataset.reader import frame_files
from simgen.errors import OutputError, SimgenError
from simgen.tools import export, sheet
from simgen.annotate.polygons import pixel_outline
from simgen.tools.export import (SPLITS, apportion, export_dataset, parse_ratios, split_images, yolo_polygon_line)

HALVES = (0.5, 0.25, 0.25)  # 4 images -> 2/1/1, so every split holds something


def cli(*argv: str) -> int:
    """The tool subcommands as simgen.cli.main runs them (parse, run, SimgenError -> message + status)."""
    parser = argparse.ArgumentParser(prog="simgen")
    commands = parser.add_subparsers(dest="command")
    export.register(commands)
    sheet.register(commands)
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except SimgenError as exc:
        print(f"simgen: error: {exc}", file=sys.stderr)
        return exc.exit_code


def read_labels(path: Path) -> list[tuple[int, np.ndarray]]:
    rows = [line.split() for line in path.read_text().splitlines()]
    return [(int(row[0]), np.array(row[1:], dtype=float)) for row in rows]


def exported_images(dest: Path) -> dict[str, list[str]]:
    return {split: sorted(p.name for p in (dest / "images" / split).iterdir()) for split in SPLITS}


def nonempty_labels(coco: dict, image: dict) -> list[dict]:
    return [a for a in coco["annotations"] if a["image_id"] == image["id"] and not a["iscrowd"]]


@pytest.fixture(scope="module")
def yolo(quickstart: Path, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("yolo") / "ds"
    assert cli("export", str(quickstart), "--format", "yolo", "-o", str(dest), "--split", "0.5,0.25,0.25") == 0
    return dest


def test_yolo_labels_reproduce_coco_boxes(yolo: Path, quickstart: Path, quickstart_coco: dict) -> None:
    split_of = {name: split for split, names in exported_images(yolo).items() for name in names}
    for image in quickstart_coco["images"]:
        name = Path(image["file_name"]).name
        exported = yolo / "images" / split_of[name] / name
        assert exported.read_bytes() == (quickstart / image["file_name"]).read_bytes()
        labels = read_labels(yolo / "labels" / split_of[name] / f"{Path(name).stem}.txt")
        expected = nonempty_labels(quickstart_coco, image)
        assert len(labels) == len(expected)
        size = np.array([image["width"], image["height"]] * 2, dtype=float)
        for (cls, box), annotation in zip(labels, expected):
            assert quickstart_coco["categories"][cls]["id"] == annotation["category_id"]
            assert np.all((box >= 0) & (box <= 1))
            xc, yc, w, h = box * size
            np.testing.assert_allclose([xc - w / 2, yc - h / 2, w, h], annotation["bbox"], atol=1e-6 * size.max())


def test_data_yaml_names_and_paths(yolo: Path, quickstart_coco: dict) -> None:
    data = yaml.safe_load((yolo / "data.yaml").read_text())
    assert data["names"] == {i: c["name"] for i, c in enumerate(quickstart_coco["categories"])}
    assert "path" not in data, "Ultralytics takes the yaml's folder as the root: the export can move"
    for split in SPLITS:
        assert (yolo / data[split]).is_dir()
        assert (yolo / "labels" / split).is_dir()


def test_split_is_deterministic_and_covers_every_image_once(yolo: Path, quickstart: Path, quickstart_coco: dict,
                                                            tmp_path: Path) -> None:
    again = tmp_path / "again"
    export_dataset(quickstart, again, "yolo", HALVES, seed=0)
    assert exported_images(again) == exported_images(yolo)
    names = [name for names in exported_images(yolo).values() for name in names]
    assert sorted(names) == sorted(Path(im["file_name"]).name for im in quickstart_coco["images"])
    assert [len(v) for v in exported_images(yolo).values()] == [2, 1, 1]


def test_reexport_with_another_seed_leaves_no_image_in_two_splits(quickstart: Path, tmp_path: Path) -> None:
    dest = tmp_path / "ds"
    layouts = []
    for seed in range(4):
        export_dataset(quickstart, dest, "yolo", HALVES, seed=seed)
        layouts.append(exported_images(dest))
        names = [n for split in layouts[-1].values() for n in split]
        assert len(names) == len(set(names)) == 4
        assert len(list((dest / "labels").rglob("*.txt"))) == 4
    assert len({json.dumps(layout) for layout in layouts}) > 1, "the seed changes the split"


def test_split_is_stratified_by_conditions() -> None:
    tags = [["fog"], ["rain"], [], ["night", "rain"]]
    images = [{"id": i, "conditions": tags[i % 4]} for i in range(200)]
    images += [{"id": 200 + i, "conditions": [f"rare{i % 20}"]} for i in range(100)]  # 20 groups of 5
    splits = split_images(images, (0.8, 0.1, 0.1), seed=7)
    assert splits == split_images(list(reversed(images)), (0.8, 0.1, 0.1), seed=7)
    ids = sorted(im["id"] for members in splits.values() for im in members)
    assert ids == list(range(300))
    assert [len(splits[s]) for s in SPLITS] == [240, 30, 30], "small groups still add up to the ratios"
    for split in SPLITS:  # groups of 50 owe every split whole images
        assert {tuple(im["conditions"]) for im in splits[split]} >= {tuple(t) for t in tags}
    assert apportion(6, (0.8, 0.1, 0.1), (0, 0, 0)) == [4, 1, 1], "half an image owed is enough for one"
    assert apportion(3, (0.8, 0.1, 0.1), (0, 0, 0)) == [3, 0, 0]


@pytest.mark.parametrize("text", ["0.8,0.3,0.1", "0.9,0.1", "a,b,c", "1.2,-0.1,-0.1"])
def test_bad_split_is_a_clear_error(quickstart: Path, tmp_path: Path, capsys, text: str) -> None:
    with pytest.raises(OutputError, match="--split"):
        parse_ratios(text)
    assert cli("export", str(quickstart), "--format", "yolo", "-o", str(tmp_path / "d"), "--split", text) == 2
    err = capsys.readouterr().err
    assert "--split" in err and "Traceback" not in err
    assert not (tmp_path / "d").exists()


def test_refuses_the_dataset_itself_and_foreign_folders(quickstart: Path, tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="dataset folder"):
        export_dataset(quickstart, quickstart, "yolo")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not empty"):
        export_dataset(quickstart, tmp_path, "yolo-seg")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_yolo_seg_polygons_cover_the_masks(quickstart: Path, quickstart_coco: dict, tmp_path: Path) -> None:
    dest = tmp_path / "seg"
    summary = export_dataset(quickstart, dest, "yolo-seg", HALVES, seed=0, symlink=True)
    assert summary.labels + summary.skipped == len(quickstart_coco["annotations"])
    for image in quickstart_coco["images"]:
        stem = Path(image["file_name"]).stem
        [label_file] = dest.glob(f"labels/*/{stem}.txt")
        assert (dest / "images" / label_file.parent.name / f"{stem}.png").is_symlink()
        size = np.array([image["width"], image["height"]], dtype=float)
        for (cls, coords), annotation in zip(read_labels(label_file), nonempty_labels(quickstart_coco, image)):
            assert quickstart_coco["categories"][cls]["id"] == annotation["category_id"]
            points = coords.reshape(-1, 2) * size
            x, y, w, h = annotation["bbox"]  # the box a trainer derives from the polygon is the COCO box
            assert np.allclose([*points.min(0), *points.max(0)], [x, y, x + w, y + h], atol=2e-3)
            drawn = np.zeros((image["height"], image["width"]), np.uint8)
            cv2.fillPoly(drawn, [points.astype(np.int32)], 1)  # as Ultralytics rasterizes: truncate, fill
            mask = decode_rle(annotation["segmentation"])
            iou = (mask & (drawn > 0)).sum() / (mask | (drawn > 0)).sum()
            assert iou > 0.85, (image["file_name"], annotation["id"], iou)


def test_polygons_trace_pixel_edges_of_every_part_and_specks_too() -> None:
    mask = np.zeros((40, 60), bool)
    mask[5:10, 5:10] = True      # small part
    mask[20:35, 30:55] = True    # large part
    mask[2, 50] = True           # a one-pixel speck
    outline = pixel_outline(mask)
    assert np.allclose([*outline.min(0), *outline.max(0)], [5, 2, 55, 35], atol=2e-3), "the box of all parts"
    drawn = np.zeros(mask.shape, np.uint8)
    cv2.fillPoly(drawn, [outline.astype(np.int32)], 1)
    assert (drawn[mask] == 1).all(), "every part comes back"
    speck = np.zeros((40, 60), bool)
    speck[2, 50] = True
    line = yolo_polygon_line(0, encode_rle(speck), 60, 40)
    points = np.array(line.split()[1:], float).reshape(-1, 2) * [60, 40]
    assert np.allclose([*points.min(0), *points.max(0)], [50, 2, 51, 3], atol=2e-3)
    drawn = np.zeros(speck.shape, np.uint8)
    cv2.fillPoly(drawn, [points.astype(np.int32)], 1)
    assert (drawn.astype(bool) == speck).all(), "a one-pixel mask is one pixel again"
    assert yolo_polygon_line(0, encode_rle(np.zeros((4, 4), bool)), 4, 4) is None


def test_random_masks_boxes_and_fill_are_exact() -> None:
    rng = np.random.default_rng(3)
    for _ in range(400):
        h, w = rng.integers(1, 25, 2)
        mask = np.zeros((h, w), bool)
        r, c = rng.integers(0, h), rng.integers(0, w)
        mask[r:r + rng.integers(1, 9), c:c + rng.integers(1, 9)] = True
        mask[rng.integers(0, h), rng.integers(0, w)] = True  # often a second part, sometimes diagonal
        outline = pixel_outline(mask)
        ys, xs = np.nonzero(mask)
        assert np.allclose([*outline.min(0), *outline.max(0)], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1],
                           atol=2e-3)
        drawn = np.zeros(mask.shape, np.uint8)
        cv2.fillPoly(drawn, [outline.astype(np.int32)], 1)
        assert (drawn[mask] == 1).all()


def test_coco_split_files_load_and_partition(quickstart: Path, quickstart_coco: dict, tmp_path: Path) -> None:
    dest = tmp_path / "coco"
    export_dataset(quickstart, dest, "coco-split", HALVES, seed=0)
    seen_images, seen_annotations = [], []
    for split in SPLITS:
        coco = COCO(str(dest / f"annotations_{split}.json"))
        seen_images += coco.getImgIds()
        seen_annotations += coco.getAnnIds()
        for image in coco.loadImgs(coco.getImgIds()):
            assert {image["file_name"], image["depth_file"], image["instance_file"]} <= set(frame_files(image))
            for relative in frame_files(image):
                assert (dest / relative).is_file()
    assert sorted(seen_images) == sorted(im["id"] for im in quickstart_coco["images"])
    assert sorted(seen_annotations) == sorted(a["id"] for a in quickstart_coco["annotations"])


def test_coco_split_in_place_touches_no_image(quickstart: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(quickstart, copy)
    before = sorted(p.relative_to(copy) for p in copy.rglob("*"))
    summary = export_dataset(copy, copy, "coco-split", HALVES, seed=0)
    assert not summary.placed
    after = sorted(p.relative_to(copy) for p in copy.rglob("*"))
    assert sorted(set(after) - set(before)) == [Path(f"annotations_{s}.json") for s in ("test", "train", "val")]


def test_contact_sheet_has_the_expected_size(quickstart: Path, quickstart_coco: dict, tmp_path: Path) -> None:
    path = tmp_path / "sheet.png"
    assert cli("sheet", str(quickstart), "-o", str(path), "-n", "3", "--cols", "2", "--tile-width", "200") == 0
    picture = cv2.imread(str(path))
    first = quickstart_coco["images"][0]
    tile_height = round(200 * first["height"] / first["width"])
    assert picture.shape == (sheet.TITLE_HEIGHT + 2 * (tile_height + sheet.CAPTION_HEIGHT) + 3 * sheet.GAP,
                             2 * 200 + 3 * sheet.GAP, 3)
    x, y = sheet.layout_for(quickstart_coco["images"][:3], 2, 200).origin(2)
    assert picture[y:y + tile_height, x:x + 200].std() > 10, "the third image is drawn in its tile"
    assert np.all(picture[y:y + tile_height, x + 200 + sheet.GAP:] == sheet.BACKGROUND), "the fourth slot is empty"


def test_annotation_keys_do_not_collide_with_fiftyone_detection_names(quickstart_coco: dict) -> None:
    """FiftyOne's COCO importer turns extra annotation keys into Detection attributes and refuses the
    names Detection reserves (read from FiftyOne 1.22.1: its properties and fields)."""
    reserved = {"instance_id", "has_mask", "field_names", "_id", "label", "bounding_box", "mask", "mask_path",
                "confidence", "index", "attributes", "tags"}
    keys = {key for annotation in quickstart_coco["annotations"] for key in annotation}
    assert not keys & reserved and "mask_id" in keys
