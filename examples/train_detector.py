"""Train a torchvision detector on a simgen dataset and write COCO predictions for another.

Needs the optional extra: ``pip install -e '.[train]'`` (torch and torchvision). The detector is
torchvision's FCOS on a small convolutional backbone with a feature pyramid, sized for images of
about 100-300 px and trained from scratch: no weights are downloaded, ever.

    python examples/train_detector.py --train out/train --test out/test --iterations 2000 -o preds.json
    simgen eval out/test preds.json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision.models.detection import FCOS
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool


class SimgenDetection(torch.utils.data.Dataset):
    """A simgen dataset as (image tensor, target dict) pairs, in the form torchvision detectors take.

    Reads ``annotations.json`` directly; crowd/ignore regions are left out of the targets.
    ``flip=True`` mirrors images (and boxes) at random, the one augmentation that is free and safe.
    """

    def __init__(self, root: Path, flip: bool = False, seed: int = 0):
        self.root = Path(root)
        coco = json.loads((self.root / "annotations.json").read_text())
        self.categories = [c["id"] for c in coco["categories"]]
        self.images = coco["images"]
        self.targets: dict[int, list[dict]] = {image["id"]: [] for image in self.images}
        for annotation in coco["annotations"]:
            if not annotation.get("iscrowd", 0):
                self.targets[annotation["image_id"]].append(annotation)
        self.flip = flip
        self.random = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        image = self.images[index]
        rgb = np.asarray(Image.open(self.root / image["file_name"]).convert("RGB"), dtype=np.float32) / 255.0
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in self.targets[image["id"]])],
                         dtype=np.float32).reshape(-1, 4)
        if self.flip and self.random.random() < 0.5:
            rgb = rgb[:, ::-1]
            boxes[:, [0, 2]] = image["width"] - boxes[:, [2, 0]]
        target = {
            "boxes": torch.from_numpy(boxes),
            "labels": torch.tensor([a["category_id"] for a in self.targets[image["id"]]], dtype=torch.int64),
            "image_id": image["id"],
        }
        return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1), target


def _stage(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 convolutions, the first halving the resolution; BatchNorm makes training from scratch stable."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True))


WIDTHS = (32, 48, 96, 160)  # channels of the stem and the three stages (strides 2, 4, 8, 16)


def small_backbone(widths: tuple[int, ...] = WIDTHS) -> nn.Sequential:
    """A plain convolutional backbone with outputs at strides 4, 8 and 16.

    ImageNet backbones (ResNet, MobileNet) are built for 224+ px inputs and need pretrained weights
    to be worth their cost; objects of 10-50 px in 128 px images want fine strides and few
    parameters, which this gives at a fraction of the compute.
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict(stem=_stage(3, widths[0]))
    for index, (cin, cout) in enumerate(zip(widths, widths[1:])):
        layers[f"stage{index + 1}"] = _stage(cin, cout)
    return nn.Sequential(layers)


def build_model(num_classes: int, width: int, height: int, channels: int = 64) -> FCOS:
    """FCOS on the small backbone with a feature pyramid at strides 4, 8, 16 and 32.

    ``num_classes`` counts category ids (torchvision's FCOS indexes its logits by category id, so it
    must exceed the largest id). Anchor sizes tell FCOS which pyramid level takes which object
    size: level k takes objects whose largest centre-to-edge distance is in [4s, 8s) for size s.
    Images are fed at their own size (no resizing).
    """
    backbone = BackboneWithFPN(
        small_backbone(WIDTHS), return_layers={"stage1": "0", "stage2": "1", "stage3": "2"},
        in_channels_list=list(WIDTHS[1:]), out_channels=channels, extra_blocks=LastLevelMaxPool())
    anchors = AnchorGenerator(((4,), (8,), (16,), (32,)), ((1.0,),) * 4)
    return FCOS(backbone, num_classes, min_size=min(width, height), max_size=max(width, height),
                anchor_generator=anchors, score_thresh=0.05, detections_per_img=50)


def _batches(dataset: SimgenDetection, batch_size: int, generator: torch.Generator):
    """Endless shuffled batches: training is counted in iterations, whatever the dataset size."""
    while True:
        order = torch.randperm(len(dataset), generator=generator).tolist()
        for start in range(0, len(order) - batch_size + 1, batch_size):
            items = [dataset[i] for i in order[start:start + batch_size]]
            yield [image for image, _ in items], [target for _, target in items]


def train(model: nn.Module, dataset: SimgenDetection, iterations: int, batch_size: int = 16, lr: float = 2e-3,
          seed: int = 0, log=print, log_every: int = 100) -> list[float]:
    """AdamW with a linear warm-up and cosine decay; returns the total loss of every iteration."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=1e-4)
    warmup = min(200, max(1, iterations // 10))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda i: min(1.0, (i + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(i / iterations, 1.0))))
    losses: list[float] = []
    start = time.perf_counter()
    for images, targets in _batches(dataset, min(batch_size, len(dataset)), generator):
        loss = sum(model(images, targets).values())
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 10.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if len(losses) % log_every == 0 or len(losses) == iterations:
            elapsed = time.perf_counter() - start
            log(f"iteration {len(losses)}/{iterations}: loss {np.mean(losses[-log_every:]):.3f} "
                f"({elapsed:.0f} s, ETA {elapsed / len(losses) * (iterations - len(losses)):.0f} s)")
        if len(losses) >= iterations:
            return losses
    return losses


@torch.no_grad()
def predict(model: nn.Module, dataset: SimgenDetection, batch_size: int = 16) -> list[dict]:
    """COCO results: one entry per detection, boxes as [x, y, w, h]."""
    model.eval()
    results = []
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        outputs = model([image for image, _ in items])
        for (_, target), output in zip(items, outputs):
            for box, label, score in zip(output["boxes"].tolist(), output["labels"].tolist(),
                                         output["scores"].tolist()):
                x0, y0, x1, y1 = box
                results.append({"image_id": target["image_id"], "category_id": int(label),
                                "bbox": [x0, y0, x1 - x0, y1 - y0], "score": float(score)})
    return results


def model_for(dataset: SimgenDetection) -> FCOS:
    """The detector sized for a dataset's categories and image size."""
    first = dataset.images[0]
    return build_model(max(dataset.categories) + 1, first["width"], first["height"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", required=True, type=Path, help="simgen dataset to train on")
    parser.add_argument("--test", required=True, type=Path, help="simgen dataset to predict on")
    parser.add_argument("-o", "--predictions", required=True, type=Path)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    train_set, test_set = SimgenDetection(args.train, flip=True, seed=args.seed), SimgenDetection(args.test)
    model = model_for(train_set)
    losses = train(model, train_set, args.iterations, args.batch_size, args.lr, args.seed)
    args.predictions.write_text(json.dumps(predict(model, test_set)))
    print(f"trained {len(losses)} iterations (loss {np.mean(losses[:10]):.3f} -> {np.mean(losses[-10:]):.3f}); "
          f"predictions for {len(test_set)} images in {args.predictions}")


if __name__ == "__main__":
    main()
