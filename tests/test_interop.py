"""The dataset and its exports load in the tools users have, by the README's own snippets (run here
where the tool is installed: ``pip install -e '.[interop]'``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import ROOT, TINY, render
from simgen.cli import main

SCENE = f"""
name: interop
seed: 2
render: {TINY}
classes:
  - {{name: cube, asset: 'primitive:cube', count: [2, 3], scale: 0.1}}
  - {{name: ball, asset: 'primitive:sphere', count: [1, 2], scale: 0.1}}
distractors: {{count: 3, near_camera: 1.0, scale: [0.05, 0.1]}}
labels: {{min_visibility: 0.9, filtered: ignore}}
"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("interop")
    (root / "scene.yaml").write_text(SCENE)
    assert render(root / "scene.yaml", root / "out", "-n", "6") == 0
    coco = json.loads((root / "out" / "annotations.json").read_text())
    assert any(a["iscrowd"] for a in coco["annotations"]) and not all(a["iscrowd"] for a in coco["annotations"])
    return root / "out", coco


def readme_snippet(marker: str, out: Path, dest: Path | None = None) -> str:
    """The README's python block that contains ``marker``, pointed at the test's folders."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    (code,) = [block for block in blocks if marker in block]
    if dest is not None:
        code = code.replace('"out/ycb-coco"', repr(str(dest)))
    return code.replace('"out/ycb/annotations.json"', repr(str(out / "annotations.json"))).replace(
        '"out/ycb"', repr(str(out)))


def test_the_coco_layout_export(dataset, tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    out, coco = dataset
    dest = tmp_path / "coco"
    assert main(["export", str(out), "--format", "coco", "-o", str(dest), "--split", "0.5,0.25,0.25"]) == 0
    total = 0
    for split in ("train", "val", "test"):
        api = COCO(str(dest / "annotations" / f"instances_{split}.json"))
        for image in api.dataset["images"]:
            assert "/" not in image["file_name"] and (dest / "images" / split / image["file_name"]).is_file()
            assert not any(key.endswith("_file") for key in image), "the depth and mask files stay in OUT"
        total += len(api.dataset["annotations"])
    assert total == len(coco["annotations"])


def test_supervision_loads_the_dataset_as_it_is(dataset) -> None:
    pytest.importorskip("supervision")
    out, coco = dataset
    scope: dict = {}
    exec(readme_snippet("import supervision", out), scope)
    first = min(coco["images"], key=lambda i: i["file_name"])
    wanted = [a for a in coco["annotations"] if a["image_id"] == first["id"] and not a["iscrowd"]]
    assert Path(scope["path"]).name == Path(first["file_name"]).name
    assert len(scope["detections"]) == len(wanted)
    boxes = sorted(tuple(round(v) for v in (x, y, x + w, y + h)) for x, y, w, h in (a["bbox"] for a in wanted))
    assert sorted(tuple(round(v) for v in box) for box in scope["detections"].xyxy) == boxes
    assert scope["ds"].classes == [c["name"] for c in coco["categories"]]


def test_datumaro_reads_the_coco_export(dataset, tmp_path: Path) -> None:
    pytest.importorskip("datumaro")
    out, coco = dataset
    dest = tmp_path / "coco"
    assert main(["export", str(out), "--format", "coco", "-o", str(dest)]) == 0
    scope: dict = {}
    exec(readme_snippet("import datumaro", out, dest), scope)
    imported = scope["dataset"]
    assert len(imported) == len(coco["images"])
    boxes = [a for item in imported for a in item.annotations if a.type.name == "bbox"]
    assert len(boxes) == len(coco["annotations"])
    assert all(Path(item.media.path).is_file() for item in imported)


def test_datumaro_reads_the_panoptic_export(tmp_path: Path) -> None:
    """An environment dataset's panoptic output, in COCO's layout, is what Datumaro's coco_panoptic
    importer reads: one mask per segment, thing and stuff categories in simgen's order."""
    dm = pytest.importorskip("datumaro")
    scene = tmp_path / "room.yaml"
    scene.write_text(f"name: room\nseed: 4\nrender: {TINY}\nenvironment: {{type: tabletop}}\n"
                     "classes: [{name: cube, asset: 'primitive:cube', count: [1, 3], size_m: 0.1}]\n")
    out, dest = tmp_path / "out", tmp_path / "coco"
    assert render(scene, out, "-n", "3") == 0
    assert main(["export", str(out), "--format", "coco", "-o", str(dest), "--split", "1,0,0"]) == 0
    panoptic = json.loads((out / "panoptic.json").read_text())
    imported = dm.Dataset.import_from(str(dest), "coco_panoptic")
    names = [c.name for c in imported.categories()[dm.AnnotationType.label]]
    assert names == [c["name"] for c in panoptic["categories"]]
    by_id = {item.id: item for item in imported}
    for entry in panoptic["annotations"]:
        masks = [a for a in by_id[Path(entry["file_name"]).stem].annotations if a.type.name == "mask"]
        assert sorted(int(m.image.sum()) for m in masks) == sorted(s["area"] for s in entry["segments_info"])
