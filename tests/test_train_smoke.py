"""The COCO output feeds a real torchvision detector: a few training steps run and the loss falls."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from train_detector import SimgenDetection, model_for, predict, train  # noqa: E402


def test_detector_trains_on_a_simgen_dataset(quickstart: Path) -> None:
    torch.set_num_threads(2)
    dataset = SimgenDetection(quickstart, flip=True)
    image, target = dataset[0]
    assert image.shape[0] == 3 and target["boxes"].shape[1] == 4 and len(target["labels"]) == len(target["boxes"])
    model = model_for(dataset)
    losses = train(model, dataset, iterations=12, batch_size=4, log=lambda *_: None)
    assert len(losses) == 12 and all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < np.mean(losses[:3]), losses
    results = predict(model, dataset)
    assert all({"image_id", "category_id", "bbox", "score"} <= r.keys() for r in results)


def test_flip_augmentation_mirrors_boxes_with_the_image(quickstart: Path) -> None:
    plain, flipping = SimgenDetection(quickstart), SimgenDetection(quickstart, flip=True, seed=3)
    width = plain.images[0]["width"]
    image, target = plain[0]
    seen = set()
    for _ in range(20):  # each draw flips with probability 1/2: both outcomes show up
        flipped, flipped_target = flipping[0]
        mirrored = torch.equal(flipped, image.flip(-1))
        seen.add(mirrored)
        expected = target["boxes"].clone()
        if mirrored:
            expected[:, [0, 2]] = width - target["boxes"][:, [2, 0]]
        else:
            assert torch.equal(flipped, image)
        assert torch.equal(flipped_target["boxes"], expected)
    assert seen == {True, False}


def test_the_readme_torchvision_snippet_keeps_ignore_regions_out(tmp_path: Path) -> None:
    """README's v2-wrapper snippet, run as written on a dataset that has ignore regions."""
    import re

    from conftest import ROOT, render

    scenario = tmp_path / "ignore.yaml"
    scenario.write_text((ROOT / "scenes" / "quickstart.yaml").read_text()
                        + "\nlabels: {min_area_px: 120, filtered: ignore}\n")
    out = tmp_path / "out" / "ycb"
    assert render(scenario, out, "-n", "3") == 0
    import json
    coco = json.loads((out / "annotations.json").read_text())
    first = [a for a in coco["annotations"] if a["image_id"] == coco["images"][0]["id"]]
    assert any(a["iscrowd"] for a in first) and any(not a["iscrowd"] for a in first), "frame 0 has both kinds"
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"Loading in PyTorch.*?```python\n(.*?)```", readme, re.S).group(1)
    namespace: dict = {}
    import os
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code, "README", "exec"), namespace)
    finally:
        os.chdir(cwd)
    assert len(namespace["boxes"]) == sum(not a["iscrowd"] for a in first) == len(namespace["masks"])
