"""The COCO output feeds a real torchvision detector: a few training steps run and the loss falls."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from train_detector import SimgenDetection, build_model, predict, train  # noqa: E402


def test_detector_trains_on_a_simgen_dataset(quickstart: Path) -> None:
    torch.set_num_threads(2)
    dataset = SimgenDetection(quickstart)
    image, target = dataset[0]
    assert image.shape[0] == 3 and target["boxes"].shape[1] == 4 and len(target["labels"]) == len(target["boxes"])
    model = build_model(len(dataset.categories), 96)
    losses = train(model, dataset, epochs=20, batch_size=4, lr=0.02, max_iterations=12, log=lambda *_: None)
    assert len(losses) == 12 and all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < np.mean(losses[:3]), losses
    results = predict(model, dataset)
    assert all({"image_id", "category_id", "bbox", "score"} <= r.keys() for r in results)
