"""Train a torchvision detector on a simgen dataset and write COCO predictions for another.

Needs the optional extra: ``pip install -e '.[train]'`` (torch and torchvision). The detector is
Faster R-CNN with a MobileNetV3 backbone at 320 px, trained from scratch: no weights are
downloaded, ever.

    python examples/train_detector.py --train out/train --test out/test --epochs 10 -o preds.json
    simgen eval out/test preds.json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image


class SimgenDetection(torch.utils.data.Dataset):
    """A simgen dataset as (image tensor, target dict) pairs, in the form torchvision detectors take."""

    def __init__(self, root: Path):
        self.root = Path(root)
        coco = json.loads((self.root / "annotations.json").read_text())
        self.categories = [c["id"] for c in coco["categories"]]
        self.images = coco["images"]
        self.targets: dict[int, list[dict]] = {image["id"]: [] for image in self.images}
        for annotation in coco["annotations"]:
            if not annotation.get("iscrowd", 0):
                self.targets[annotation["image_id"]].append(annotation)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        image = self.images[index]
        rgb = np.asarray(Image.open(self.root / image["file_name"]).convert("RGB"), dtype=np.float32) / 255.0
        boxes = [[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in self.targets[image["id"]])]
        target = {
            "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor([a["category_id"] for a in self.targets[image["id"]]], dtype=torch.int64),
            "image_id": image["id"],
        }
        return torch.from_numpy(rgb).permute(2, 0, 1), target


def build_model(num_classes: int, image_size: int) -> torch.nn.Module:
    """Faster R-CNN, MobileNetV3 FPN backbone, random initialisation (num_classes excludes background).

    The model's anchors (32-512 px) are made for 320 px inputs; they are scaled to the image size so
    that objects a few pixels across still overlap some anchor.
    """
    from torchvision.models.detection.anchor_utils import AnchorGenerator

    scale = image_size / 320.0
    sizes = tuple(max(4, int(round(s * scale))) for s in (32, 64, 128, 256, 512))
    anchors = AnchorGenerator((sizes,) * 3, ((0.5, 1.0, 2.0),) * 3)
    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None, num_classes=num_classes + 1, min_size=image_size, max_size=image_size * 2)
    model.rpn.anchor_generator = anchors  # same 15 anchors per location, so the RPN head still fits
    return model


def _batches(dataset: SimgenDetection, batch_size: int, generator: torch.Generator):
    order = torch.randperm(len(dataset), generator=generator).tolist()
    for start in range(0, len(order), batch_size):
        items = [dataset[i] for i in order[start:start + batch_size]]
        yield [image for image, _ in items], [target for _, target in items]


def train(model: torch.nn.Module, dataset: SimgenDetection, epochs: int, batch_size: int = 4, lr: float = 0.02,
          seed: int = 0, max_iterations: int | None = None, log=print) -> list[float]:
    """SGD with warm-up and cosine decay; returns the total loss of every iteration."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(parameters, lr=lr, momentum=0.9, weight_decay=1e-4)
    total = max_iterations or epochs * math.ceil(len(dataset) / batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda i: min(1.0, (i + 1) / 50) * 0.5 * (1 + math.cos(math.pi * min(i / total, 1.0))))
    losses: list[float] = []
    start = time.perf_counter()
    for epoch in range(epochs):
        for images, targets in _batches(dataset, batch_size, generator):
            loss = sum(model(images, targets).values())
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 10.0)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            if len(losses) >= total:
                return losses
        log(f"epoch {epoch + 1}/{epochs}: mean loss {np.mean(losses[-len(dataset) // batch_size:]):.3f} "
            f"({time.perf_counter() - start:.0f} s)")
    return losses


@torch.no_grad()
def predict(model: torch.nn.Module, dataset: SimgenDetection, min_score: float = 0.01) -> list[dict]:
    """COCO results: one entry per detection, boxes as [x, y, w, h]."""
    model.eval()
    results = []
    for index in range(len(dataset)):
        image, target = dataset[index]
        output = model([image])[0]
        for box, label, score in zip(output["boxes"].tolist(), output["labels"].tolist(), output["scores"].tolist()):
            if score >= min_score:
                x0, y0, x1, y1 = box
                results.append({"image_id": target["image_id"], "category_id": int(label),
                                "bbox": [x0, y0, x1 - x0, y1 - y0], "score": float(score)})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", required=True, type=Path, help="simgen dataset to train on")
    parser.add_argument("--test", required=True, type=Path, help="simgen dataset to predict on")
    parser.add_argument("-o", "--predictions", required=True, type=Path)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    train_set, test_set = SimgenDetection(args.train), SimgenDetection(args.test)
    size = max(train_set.images[0]["width"], train_set.images[0]["height"])
    model = build_model(len(train_set.categories), size)
    losses = train(model, train_set, args.epochs, args.batch_size, args.lr, args.seed)
    args.predictions.write_text(json.dumps(predict(model, test_set)))
    print(f"trained {len(losses)} iterations (loss {np.mean(losses[:10]):.3f} -> {np.mean(losses[-10:]):.3f}); "
          f"predictions for {len(test_set)} images in {args.predictions}")


if __name__ == "__main__":
    main()
