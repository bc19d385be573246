"""``simgen validate``: a clean render passes, and each injected defect is caught with its own code."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest

from simgen.errors import OutputError
from simgen.tools.validate import register, validate_dataset


@pytest.fixture
def dataset(quickstart: Path, tmp_path: Path) -> Path:
    """A private copy of the session render, so a test can break it without touching the others."""
    return Path(shutil.copytree(quickstart, tmp_path / "dataset"))


def edit_coco(out: Path, change: Callable[[dict], None]) -> None:
    path = out / "annotations.json"
    coco = json.loads(path.read_text())
    change(coco)
    path.write_text(json.dumps(coco))


def delete_image(out: Path) -> None:
    (out / "images" / "000001.png").unlink()


def wrong_bbox(out: Path) -> None:
    def widen(coco: dict) -> None:
        coco["annotations"][0]["bbox"][2] += 3
    edit_coco(out, widen)


def duplicate_annotation_id(out: Path) -> None:
    def duplicate(coco: dict) -> None:
        coco["annotations"][1]["id"] = coco["annotations"][0]["id"]
    edit_coco(out, duplicate)


def black_frame(out: Path) -> None:
    path = out / "images" / "000002.png"
    cv2.imwrite(str(path), np.zeros_like(cv2.imread(str(path), cv2.IMREAD_UNCHANGED)))


def instance_pixels_moved(out: Path) -> None:
    """Paint 5 background pixels with annotation 1's instance id, so its mask no longer matches the map."""
    coco = json.loads((out / "annotations.json").read_text())
    annotation = coco["annotations"][0]
    image = next(i for i in coco["images"] if i["id"] == annotation["image_id"])
    path = out / image["instance_file"]
    instance = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    rows, cols = np.nonzero(instance == 0)
    instance[rows[:5], cols[:5]] = annotation["mask_id"]
    cv2.imwrite(str(path), instance)


def test_clean_dataset_has_no_errors(quickstart: Path, quickstart_coco: dict) -> None:
    report = validate_dataset(quickstart)
    assert report.errors == []
    assert (report.images, report.annotations) == (4, len(quickstart_coco["annotations"]))


@pytest.mark.parametrize("defect, level, code, where", [
    (delete_image, "errors", "file-missing", "images/000001.png"),
    (wrong_bbox, "errors", "bbox-mismatch", "annotation 1"),
    (duplicate_annotation_id, "errors", "duplicate-annotation-id", "annotation 1"),
    (black_frame, "warnings", "black-image", "images/000002.png"),
    (instance_pixels_moved, "errors", "mask-mismatch", "annotation 1"),
])
def test_injected_defect_is_caught_and_nothing_else_fails(dataset: Path, defect: Callable[[Path], None],
                                                          level: str, code: str, where: str) -> None:
    defect(dataset)
    report = validate_dataset(dataset)
    findings = getattr(report, level)
    assert (code, where) in [(f.code, f.where) for f in findings], findings
    assert {f.code for f in report.errors} <= {code}, report.errors


def test_min_area_flags_small_labels(quickstart: Path, quickstart_coco: dict) -> None:
    smallest = min(quickstart_coco["annotations"], key=lambda a: a["area"])
    report = validate_dataset(quickstart, min_area_px=smallest["area"] + 1)
    assert ("small-label", f"annotation {smallest['id']}") in [(f.code, f.where) for f in report.warnings]


def run_command(*argv: str) -> int:
    """Through argparse exactly as the simgen CLI wires it: register() on a subparsers object."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["validate", *argv])
    return args.handler(args)


def test_command_exit_status_and_summary(quickstart: Path, quickstart_coco: dict, dataset: Path,
                                        capsys: pytest.CaptureFixture) -> None:
    assert run_command(str(quickstart)) == 0
    summary = capsys.readouterr().out.splitlines()[-1]
    assert summary.startswith(f"{quickstart}: 4 images, {len(quickstart_coco['annotations'])} annotations: 0 errors, ")
    wrong_bbox(dataset)
    assert run_command(str(dataset)) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["LEVEL", "CODE", "WHERE", "MESSAGE"]
    assert lines[1].split()[:4] == ["error", "bbox-mismatch", "annotation", "1"]
    assert ": 1 error, " in lines[-1]


def test_command_json_report(dataset: Path, capsys: pytest.CaptureFixture) -> None:
    duplicate_annotation_id(dataset)
    assert run_command(str(dataset), "--json") == 1
    report = json.loads(capsys.readouterr().out)  # nothing but JSON on stdout (pycocotools' chatter is muted)
    assert [e["code"] for e in report["errors"]] == ["duplicate-annotation-id"]


def test_not_a_dataset_is_a_clear_user_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="not a folder"):
        run_command(str(tmp_path / "missing"))
    with pytest.raises(OutputError, match="no annotations.json"):
        run_command(str(tmp_path))
