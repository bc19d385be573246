"""``simgen report``, ``eval`` and ``diff`` on a real render: every report section is there and the page renders;
ground truth scored as predictions is perfect in every slice, and a miss shows up only in the slices it belongs to;
diff names the one setting that changed."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from simgen.errors import OutputError
from simgen.tools import diff as diff_tool
from simgen.tools import evaluate as evaluate_tool
from simgen.tools import report as report_tool
from simgen.tools.diff import MISSING, Difference, compare, diff_datasets
from simgen.tools.evaluate import SliceResult, evaluate
from simgen.tools.report import SECTIONS, build_report

CHROMIUM = Path("/usr/bin/chromium")
BANDS = (0.1, 0.3, 0.6, 0.9)  # one visibility per band, so that no band is empty


@pytest.fixture(scope="module")
def tagged(quickstart: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session render with one labeled image tagged 'fog', a fog target in the scenario, and
    visibilities spread over all four bands."""
    out = Path(shutil.copytree(quickstart, tmp_path_factory.mktemp("tagged") / "dataset"))
    coco = json.loads((out / "annotations.json").read_text())
    fog_image = coco["annotations"][0]["image_id"]
    for image in coco["images"]:
        image["conditions"] = ["fog"] if image["id"] == fog_image else []
    for index, annotation in enumerate(coco["annotations"]):
        annotation["visibility"] = BANDS[index % len(BANDS)]
        annotation["fog_transmittance"] = (0.05, 0.2, 0.5, 1.0)[index % 4]
    (out / "annotations.json").write_text(json.dumps(coco))
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["scenario"]["conditions"] = {"fog": 0.25, "night": 0.1}
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


@pytest.fixture(scope="module")
def report_path(tagged: Path) -> Path:
    return build_report(tagged)


def ground_truth_predictions(out: Path, score: float = 1.0) -> list[dict[str, Any]]:
    coco = json.loads((out / "annotations.json").read_text())
    return [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"],
             "segmentation": a["segmentation"], "score": score} for a in coco["annotations"]]


def by_label(results: list[SliceResult]) -> dict[str, SliceResult]:
    return {result.label: result for result in results}


# --- report ---------------------------------------------------------------------------------------


def test_report_has_every_section_and_only_embedded_images(report_path: Path, tagged: Path) -> None:
    page = report_path.read_text()
    assert report_path == tagged / "report.html"
    for section_id, _ in SECTIONS:
        assert f'id="{section_id}"' in page
    images = page.count('src="data:image/png;base64,')
    assert images >= 7  # 5 plots, the world bars and the thumbnails
    assert "http://" not in page and "https://" not in page and "<script" not in page
    pngs = sorted((tagged / "report_files").glob("*.png"))
    assert len(pngs) == images
    assert all(cv2.imread(str(png)) is not None for png in pngs)


def test_report_shows_condition_targets(report_path: Path) -> None:
    coverage = report_path.read_text().split('id="conditions"')[1].split("</section>")[0]
    assert "<td>fog</td><td>1</td><td>25.0%</td>" in coverage  # 1 of 4 frames
    assert "<td>night</td><td>0</td><td>0.0%</td>" in coverage  # targeted but never seen
    assert "+0.0 pp" in coverage and "clear (no tag)" in coverage


def test_report_renders_in_a_browser(report_path: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    shot = tmp_path / "shot.png"
    subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path}",
                    f"--screenshot={shot}", "--window-size=1200,3000", report_path.as_uri()],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    pixels = cv2.imread(str(shot))
    assert pixels is not None and pixels.shape[:2] == (3000, 1200)
    colours = np.unique(pixels.reshape(-1, 3).astype(np.int32) @ np.array([1 << 16, 1 << 8, 1]))
    assert pixels.std() > 20 and len(colours) > 200  # plots and photos, not one blank page colour


def test_report_command_writes_beside_a_chosen_path(quickstart: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    dest = tmp_path / "reports" / "qs.html"
    assert run_command("report", str(quickstart), "-o", str(dest), "--thumbnails", "2") == 0
    assert dest.is_file() and (tmp_path / "reports" / "qs_files" / "thumbnails.png").is_file()
    assert str(dest) in capsys.readouterr().out
    assert not (quickstart / "report.html").exists()


def test_report_of_no_dataset_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="not a folder"):
        build_report(tmp_path / "missing")
    with pytest.raises(OutputError, match="annotations.json"):
        build_report(tmp_path)


# --- eval -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_ground_truth_scores_perfect_in_every_slice(tagged: Path, iou_type: str) -> None:
    results = evaluate(tagged, ground_truth_predictions(tagged), iou_type)
    kinds = {result.kind for result in results}
    assert kinds == {"all", "condition", "visibility", "fog_transmittance", "illuminance_lux", "size", "class"}, \
        "severity bands where the values vary (no rain here: rain_coverage is 0 everywhere)"
    scored = [result for result in results if result.gt]
    assert {result.label for result in scored} >= {"all", "condition=fog", "condition=clear",
                                                   *(f"visibility={band}" for band in
                                                     ("[0,0.25)", "[0.25,0.5)", "[0.5,0.75)", "[0.75,1]"))}
    for result in scored:
        assert (result.ap, result.ap50, result.ar100) == pytest.approx((1.0, 1.0, 1.0)), result
    for result in results:
        if not result.gt:
            assert (result.ap, result.ap50, result.ar100) == (None, None, None), result
    assert by_label(results)["all"].gt == sum(r.gt for r in results if r.kind == "visibility")
    assert by_label(results)["all"].gt == sum(r.gt for r in results if r.kind == "class")
    for kind in ("fog_transmittance", "illuminance_lux"):
        assert by_label(results)["all"].gt == sum(r.gt for r in results if r.kind == kind), kind
    assert {r.label for r in results if r.kind == "fog_transmittance" and r.gt} == {
        "fog_transmittance=[0,0.1)", "fog_transmittance=[0.1,0.3)", "fog_transmittance=[0.3,0.7)",
        "fog_transmittance=[0.7,1]"}


def test_missing_an_image_lowers_only_its_condition(tagged: Path) -> None:
    coco = json.loads((tagged / "annotations.json").read_text())
    fog_image = next(image["id"] for image in coco["images"] if image["conditions"] == ["fog"])
    predictions = [p for p in ground_truth_predictions(tagged) if p["image_id"] != fog_image]
    results = by_label(evaluate(tagged, predictions))
    assert results["condition=fog"].ap < 0.99 and results["condition=fog"].ar100 < 0.99
    assert results["condition=fog"].images == 1
    assert (results["condition=clear"].ap, results["condition=clear"].ar100) == pytest.approx((1.0, 1.0))
    assert results["condition=clear"].images == len(coco["images"]) - 1
    assert results["all"].ap < 0.99


def test_ignored_ground_truth_absorbs_one_prediction_not_all(tagged: Path) -> None:
    """Outside its band a GT is ignored like COCO's out-of-range sizes, not made a crowd region: a second
    prediction on it is a false positive."""
    predictions = ground_truth_predictions(tagged, score=0.5)
    hidden = next(p for p, a in zip(predictions, json.loads((tagged / "annotations.json").read_text())["annotations"])
                  if a["visibility"] < 0.75)
    predictions += [dict(hidden, score=1.0), dict(hidden, score=1.0)]
    band = by_label(evaluate(tagged, predictions))["visibility=[0.75,1]"]
    assert band.ap < 0.99 and band.ar100 == pytest.approx(1.0)


def test_no_predictions_score_zero(tagged: Path) -> None:
    results = evaluate(tagged, [])
    assert all(result.ap == 0.0 for result in results if result.gt)


@pytest.mark.parametrize("content, message", [
    (None, "no such predictions file"),
    ("{not json", "not valid JSON"),
    ('{"annotations": []}', "expected a COCO results list"),
    ('[{"image_id": 1, "category_id": 1, "score": 1.0}]', "prediction 0: missing 'bbox'"),
    ('[{"image_id": 999, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1.0}]', "image_id 999 is not an image"),
    ('[{"image_id": 1, "category_id": 0, "bbox": [0, 0, 1, 1], "score": 1.0}]', "category_id 0 is not a category"),
    ('[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1], "score": 1.0}]', "is not \\[x, y, width, height\\]"),
])
def test_malformed_predictions_are_one_clear_error(quickstart: Path, tmp_path: Path, content: str | None,
                                                    message: str) -> None:
    path = tmp_path / "predictions.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(OutputError, match=message):
        evaluate(quickstart, path)


def run_command(*argv: str) -> int:
    """Through argparse exactly as the simgen CLI wires it: register() on a subparsers object."""
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    for tool in (report_tool, evaluate_tool, diff_tool):
        tool.register(commands)
    args = parser.parse_args(list(argv))
    return args.handler(args)


def test_eval_command_table_and_json(tagged: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(ground_truth_predictions(tagged)))
    assert run_command("eval", str(tagged), str(path)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["SLICE", "#IMAGES", "#GT", "AP", "AP50", "AR100"]
    assert lines[1].split()[0] == "all" and lines[1].split()[3:] == ["1.000", "1.000", "1.000"]
    assert run_command("eval", str(tagged), str(path), "--iou-type", "segm", "--json") == 0
    rows = json.loads(capsys.readouterr().out)  # nothing but JSON: pycocotools' prints are muted
    assert rows[0]["slice"] == "all" and rows[0]["ap"] == pytest.approx(1.0)


# --- diff -----------------------------------------------------------------------------------------


def test_compare_matches_named_entries_and_keeps_changed_distributions_whole() -> None:
    a = {"classes": [{"name": "mug", "count": 1}, {"name": "box", "count": 2}], "focal": {"uniform": [24, 50]}}
    assert compare(a, {"classes": a["classes"][::-1], "focal": a["focal"]}) == []
    b = {"classes": [{"name": "mug", "count": 3}], "focal": {"choice": [24, 50]}}
    assert compare(a, b) == [Difference("classes[box]", {"name": "box", "count": 2}, MISSING),
                             Difference("classes[mug].count", 1, 3),
                             Difference("focal", {"uniform": [24, 50]}, {"choice": [24, 50]})]


def test_diff_names_the_changed_setting_and_its_effect(quickstart: Path, tagged: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    config, stats = diff_datasets(quickstart, tagged)
    assert [(d.key, d.b) for d in config] == [("scenario.conditions", {"fog": 0.25, "night": 0.1})]
    assert Difference("frames with fog", MISSING, 0.25) in stats
    assert Difference("images", 4, 4) in stats
    assert run_command("diff", str(quickstart), str(quickstart)) == 0
    assert "Same configuration" in capsys.readouterr().out


def test_condition_targets_prefer_the_run_s_resolved_targets() -> None:
    from simgen.tools.report import condition_targets

    scenario = {"frames": 20, "conditions": {"fog": {"count": 5}, "night": 0.3, "rain": {"fraction": 0.1}}}
    running = {"scenario": scenario}
    assert condition_targets(running) == {"night": 0.3, "rain": 0.1}, "a count needs the run's frame count"
    finished = {"scenario": scenario, "coverage": {"fog": {"target": 0.25, "frames": 5, "achieved": 0.25},
                                                   "night": {"target": 0.3, "frames": 6, "achieved": 0.3},
                                                   "rain": {"target": 0.1, "frames": 2, "achieved": 0.1}}}
    assert condition_targets(finished) == {"fog": 0.25, "night": 0.3, "rain": 0.1}
    assert condition_targets(None) == {}
