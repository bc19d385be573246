"""Closing the loop: compare a dataset with real data, and focus the next scenario on a detector's failures."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import FIXTURES, render
from simgen.cli import main
from simgen.sampling.frame_spec import CONTRAST_LN
from simgen.tools.compare import compare_datasets
from simgen.tools.fidelity import ks_distance, tv_distance
from simgen.tools.focus import analyse, found_objects, patch


def test_the_distances_are_zero_for_the_same_and_one_for_disjoint() -> None:
    from collections import Counter

    assert ks_distance([1, 2, 3], [3, 2, 1]) == 0.0 and ks_distance([1, 2], [5, 6]) == 1.0
    assert ks_distance(range(100), range(50, 150)) == pytest.approx(0.5)
    assert tv_distance(Counter(a=2, b=2), Counter(a=1, b=1)) == 0.0
    assert tv_distance(Counter(a=3, b=1), Counter(a=1, b=3)) == pytest.approx(0.5)


def test_a_dataset_compared_with_itself_is_zero_everywhere(quickstart: Path) -> None:
    rows, _, _ = compare_datasets(quickstart, quickstart / "annotations.json")
    assert rows and all(row.distance == 0.0 for row in rows if row.distance is not None)


def orbit_dataset(root: Path, name: str, distance: list[float]) -> Path:
    spec = yaml.safe_load((FIXTURES / "cube.yaml").read_text())
    spec["render"] = str(FIXTURES / "tiny.yaml")
    spec["frames"] = 8
    spec["classes"][0].pop("position")
    spec["camera"] = {"focal_length_mm": 35, "orbit": {"distance": distance, "elevation_deg": [20, 40]}}
    scene = root / f"{name}.yaml"
    scene.write_text(yaml.safe_dump(spec))
    assert render(scene, root / name) == 0
    return root / name


def test_a_camera_farther_away_ranks_box_size_first(tmp_path: Path, capsys) -> None:
    near, far = orbit_dataset(tmp_path, "near", [3, 4]), orbit_dataset(tmp_path, "far", [7, 9])
    rows, _, _ = compare_datasets(near, far)
    assert rows[0].name == "box_size" and rows[0].distance == 1.0
    assert main(["compare", str(near), str(far), "-o", str(tmp_path / "cmp.html")]) == 0
    summary = json.loads((tmp_path / "cmp.json").read_text())
    assert summary["attributes"][0]["name"] == "box_size"
    assert "<img" in (tmp_path / "cmp.html").read_text()


def fog_dataset(rng: np.random.Generator) -> dict:
    """400 frames, half of them foggy with visibility 10-100 m, one object each."""
    images, annotations = [], []
    for i in range(400):
        image = {"id": i + 1, "file_name": f"images/{i:06d}.png", "width": 640, "height": 480, "conditions": [],
                 "params": {"sun": {"elevation_deg": float(rng.uniform(10, 70))}}}
        if i % 2:
            image["conditions"] = ["fog"]
            image["params"]["fog"] = {"density": CONTRAST_LN / float(rng.uniform(10, 100))}
        images.append(image)
        x, y = rng.uniform(0, 500, 2)
        annotations.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [float(x), float(y), 60, 40],
                            "area": 2400, "iscrowd": 0, "visibility": 1.0})
    return {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "car"}]}


def test_focus_raises_fog_and_narrows_it_to_where_objects_are_missed() -> None:
    """Predictions that find every object except those in fog under 30 m: the patch raises the fog share and
    asks for visibility below 30 m; nothing else changes."""
    coco = fog_dataset(np.random.default_rng(0))
    images = {im["id"]: im for im in coco["images"]}

    def missed(annotation: dict) -> bool:
        density = images[annotation["image_id"]]["params"].get("fog", {}).get("density")
        return density is not None and CONTRAST_LN / density < 30

    predictions = [{"image_id": a["image_id"], "category_id": 1, "bbox": a["bbox"], "score": 0.9}
                   for a in coco["annotations"] if not missed(a)]
    found = found_objects(coco, predictions)
    assert sum(not hit for hit in found.values()) == sum(missed(a) for a in coco["annotations"])
    focus = analyse(coco, found)
    scenario = {"name": "street", "classes": [{"name": "car", "asset": "primitive:cube"}], "conditions": {"fog": 0.2}}
    patched, reasons = patch(scenario, focus)
    fog = patched["conditions"]["fog"]
    assert fog["fraction"] >= 0.4
    low, high = fog["override"]["weather"]["fog"]["visibility_m"]
    assert 10 <= low < high <= 30.0 + 1e-9
    assert {r.split(":")[0] for r in reasons} == {"conditions.fog"}
    assert patched["classes"] == scenario["classes"]


def test_focus_writes_a_scenario_that_renders_and_records_its_lineage(quickstart: Path, tmp_path: Path) -> None:
    coco = json.loads((quickstart / "annotations.json").read_text())
    predictions = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.9}
                   for a in coco["annotations"] if a["image_id"] % 2]  # every other image's objects are missed
    (tmp_path / "predictions.json").write_text(json.dumps(predictions))
    nxt = tmp_path / "next.yaml"
    assert main(["focus", str(quickstart), str(tmp_path / "predictions.json"), "-o", str(nxt)]) == 0
    scenario = yaml.safe_load(nxt.read_text())
    step, = scenario["lineage"]
    manifest = json.loads((quickstart / "manifest.json").read_text())
    assert step["step"] == "focus" and step["dataset"] == manifest["identity"]
    assert main(["check", str(nxt)]) == 0
    assert (tmp_path / "next.html").is_file()
    other = tmp_path / "train.yaml"  # the scenario to patch may be another one: the training set's
    other.write_text(yaml.safe_dump({**yaml.safe_load((FIXTURES / "cube.yaml").read_text()), "name": "train"}))
    assert main(["focus", str(quickstart), str(tmp_path / "predictions.json"), "--scenario", str(other),
                 "-o", str(nxt)]) == 0
    assert yaml.safe_load(nxt.read_text())["name"] == "train"


def test_a_real_dataset_without_parameters_is_sliced_by_what_it_has() -> None:
    coco = fog_dataset(np.random.default_rng(1))
    for image in coco["images"]:
        del image["params"], image["conditions"]
    focus = analyse(coco, {a["id"]: bool(a["bbox"][1] > 250) for a in coco["annotations"]})
    assert focus.unknown and not any(s.feature == "condition" for s in focus.slices)
    assert any(s.feature == "box_y" for s in focus.failing)  # the top of the image is where it fails
    assert math.isclose(focus.overall.recall, np.mean([a["bbox"][1] > 250 for a in coco["annotations"]]))


def test_misses_spread_evenly_change_nothing() -> None:
    coco = fog_dataset(np.random.default_rng(2))
    rng = np.random.default_rng(3)
    focus = analyse(coco, {a["id"]: bool(rng.random() > 0.2) for a in coco["annotations"]})
    patched, reasons = patch({"name": "x", "conditions": {"fog": 0.2}}, focus)
    assert not focus.failing and not reasons and patched["conditions"] == {"fog": 0.2}


def test_integer_ranges_keep_mean_and_spread() -> None:
    from simgen.tools.fit import integer_range

    assert integer_range([2, 3, 4, 2, 3, 4]) == [2, 4]
    assert integer_range([1, 1, 1]) == [1, 1]


def test_fit_recovers_the_camera_distance_of_a_target_dataset(tmp_path: Path) -> None:
    """A target rendered with the camera 6-9 m from a ball, a scenario that says 2-3 m: the fitted
    distance range has the target's median and width within 10 %, found without rendering."""
    (tmp_path / "preset.yaml").write_text(yaml.safe_dump({
        "name": "fit", "resolution": [320, 240], "samples": 1, "adaptive_threshold": 0, "max_bounces": 0,
        "view_transform": "Standard", "world_map_resolution": 64}))

    def scenario(name: str, distance: list[float], seed: int) -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({
            "name": name, "seed": seed, "frames": 60, "render": str(tmp_path / "preset.yaml"),
            "classes": [{"name": "ball", "asset": "primitive:sphere", "count": 1, "size_m": 1.0}],
            "placement": {"area": [0.6, 0.6], "on_failure": "drop"},
            "camera": {"focal_length_mm": 50, "orbit": {"distance": distance, "elevation_deg": [15, 40]}},
            "sun": {"elevation_deg": 45, "strength": 3}, "world": {"type": "color", "color": [0.3, 0.3, 0.3]}}))
        return path

    target = scenario("target", [6, 9], 4)
    assert main(["render", str(target), "-o", str(tmp_path / "target"), "--no-progress"]) == 0  # at 320x240
    fitted = tmp_path / "fitted.yaml"
    assert main(["fit", str(tmp_path / "target"), str(scenario("start", [2, 3], 9)), "-o", str(fitted),
                 "--renders", "0"]) == 0
    data = yaml.safe_load(fitted.read_text())
    low, high = data["camera"]["orbit"]["distance"]
    assert (low + high) / 2 == pytest.approx(7.5, rel=0.1) and high - low == pytest.approx(3.0, rel=0.1)
    step, = data["lineage"]
    assert step["step"] == "fit" and "box size KS 1.000" in step["changes"][0]
    assert len(step["dataset_digest"]) == 16  # the real data it was fitted to, by content
    assert main(["check", str(fitted)]) == 0


def test_compare_never_replaces_a_file_it_did_not_write(quickstart: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "cmp.json").write_text('{"mine": 1}')
    assert main(["compare", str(quickstart), str(quickstart), "-o", str(tmp_path / "cmp.html")]) == 2
    assert "was not written by simgen" in capsys.readouterr().err
    assert (tmp_path / "cmp.json").read_text() == '{"mine": 1}' and not (tmp_path / "cmp.html").exists()
    assert main(["compare", str(quickstart), str(quickstart), "-o", str(tmp_path / "other.html")]) == 0
    assert main(["compare", str(quickstart), str(quickstart), "-o", str(tmp_path / "other.html")]) == 0  # its own
