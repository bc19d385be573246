"""How far a synthetic dataset is from a real one, attribute by attribute (pure numpy and OpenCV).

Each attribute is a distribution over the dataset: of boxes (class, size, aspect, position,
visibility where both record it), of images (objects per image, brightness, contrast,
colourfulness, sharpness, noise level, hue). Continuous attributes are compared by the
Kolmogorov-Smirnov statistic (the largest gap between the two cumulative distributions) and
categorical ones by the total-variation distance (half the summed gap between frequencies). Both lie
in 0..1, are 0 exactly for identical distributions and do not depend on the attribute's units,
so the attributes can be ranked by how far apart they are.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

IMAGE_SIDE = 256  # images are measured at this width: the statistics are about the scene, not the pixels
HUE_BINS = 12


@dataclass
class Attribute:
    name: str
    kind: str  # continuous | categorical
    description: str
    values: list[float] = field(default_factory=list)  # continuous
    counts: Counter = field(default_factory=Counter)  # categorical

    def summary(self) -> str:
        if self.kind == "categorical":
            total = sum(self.counts.values()) or 1
            top = self.counts.most_common(3)
            return ", ".join(f"{key} {count / total:.0%}" for key, count in top) or "none"
        if not self.values:
            return "none"
        q = np.percentile(self.values, [10, 50, 90])
        return f"median {_number(q[1])} (10-90 %: {_number(q[0])} - {_number(q[2])})"


@dataclass
class Difference:
    name: str
    kind: str
    description: str
    distance: float | None  # None: one side does not record it
    real: str
    synthetic: str
    separation: float = 0.0  # how far apart the medians are in pooled spreads: ranks distributions that are
    # both fully apart (distance 1) by how far


def _number(value: float) -> str:
    return f"{value:.3g}"


def ks_distance(a: Sequence[float], b: Sequence[float]) -> float:
    """The Kolmogorov-Smirnov statistic: the largest gap between the two empirical CDFs."""
    x, y = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    grid = np.concatenate([x, y])
    return float(np.max(np.abs(np.searchsorted(x, grid, "right") / len(x) - np.searchsorted(y, grid, "right") / len(y))))


def tv_distance(a: Counter, b: Counter) -> float:
    """Total variation: half the summed gap between the two frequency tables."""
    ta, tb = sum(a.values()) or 1, sum(b.values()) or 1
    return 0.5 * sum(abs(a[key] / ta - b[key] / tb) for key in set(a) | set(b))


def box_attributes(coco: dict[str, Any], names: dict[int, str]) -> dict[str, Attribute]:
    """Distributions over the boxes: class, size, aspect, position, visibility; and objects per image."""
    sizes = {image["id"]: (image["width"], image["height"]) for image in coco["images"]}
    out = {
        "class": Attribute("class", "categorical", "share of objects per category (matched by name)"),
        "objects_per_image": Attribute("objects_per_image", "continuous", "labeled objects per image"),
        "box_size": Attribute("box_size", "continuous", "sqrt(box area) / sqrt(image area)"),
        "box_aspect": Attribute("box_aspect", "continuous", "log2(width / height) of the box"),
        "box_x": Attribute("box_x", "continuous", "box centre x / image width"),
        "box_y": Attribute("box_y", "continuous", "box centre y / image height"),
        "visibility": Attribute("visibility", "continuous", "visible share of the object (where recorded)"),
    }
    per_image = Counter()
    for annotation in coco["annotations"]:
        if annotation.get("iscrowd"):
            continue
        width, height = sizes.get(annotation["image_id"], (1, 1))
        x, y, w, h = annotation["bbox"]
        per_image[annotation["image_id"]] += 1
        out["class"].counts[names.get(annotation["category_id"], str(annotation["category_id"]))] += 1
        out["box_size"].values.append(math.sqrt(max(w * h, 0.0) / (width * height)))
        if w > 0 and h > 0:
            out["box_aspect"].values.append(math.log2(w / h))
        out["box_x"].values.append((x + w / 2) / width)
        out["box_y"].values.append((y + h / 2) / height)
        if isinstance(annotation.get("visibility"), (int, float)):
            out["visibility"].values.append(float(annotation["visibility"]))
    out["objects_per_image"].values = [float(per_image[image["id"]]) for image in coco["images"]]
    return out


def image_statistics(bgr: np.ndarray) -> dict[str, float]:
    """Brightness, contrast, colourfulness, sharpness and noise of one image, at IMAGE_SIDE wide."""
    import cv2

    scale = IMAGE_SIDE / bgr.shape[1]
    small = cv2.resize(bgr, (IMAGE_SIDE, max(1, round(bgr.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float64)
    b, g, r = (small[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    colourful = math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean())  # Hasler-Suesstrunk
    laplacian = cv2.Laplacian(grey, cv2.CV_64F)
    high = grey - cv2.GaussianBlur(grey, (3, 3), 0)  # what a slight blur removes: noise and fine edges
    return {"brightness": float(grey.mean()), "contrast": float(grey.std()), "colourfulness": colourful,
            "sharpness": math.log10(float(laplacian.var()) + 1.0),
            "noise": float(np.median(np.abs(high - np.median(high))) / 0.6745)}  # robust sigma (MAD)


def image_attributes(coco: dict[str, Any], root: Path, max_images: int, seed: int = 0) -> dict[str, Attribute]:
    """Distributions over (up to ``max_images``, drawn with ``seed``) images: their look."""
    import cv2

    descriptions = {"brightness": "mean luminance (0-255)", "contrast": "std of luminance",
                    "colourfulness": "Hasler-Suesstrunk colourfulness", "sharpness": "log10 variance of the Laplacian",
                    "noise": "robust std of the finest detail (noise level)"}
    out = {name: Attribute(name, "continuous", text) for name, text in descriptions.items()}
    out["hue"] = Attribute("hue", "categorical", f"hue of the saturated pixels, in {HUE_BINS} bins")
    images = list(coco["images"])
    if len(images) > max_images:
        chosen = np.random.default_rng(seed).choice(len(images), max_images, replace=False)
        images = [images[i] for i in sorted(chosen)]
    for image in images:
        bgr = cv2.imread(str(root / image["file_name"]), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        for name, value in image_statistics(bgr).items():
            out[name].values.append(value)
        hsv = cv2.cvtColor(cv2.resize(bgr, (64, 48), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2HSV)
        saturated = hsv[..., 1] > 60
        out["hue"].counts.update((hsv[..., 0][saturated].astype(int) * HUE_BINS // 180).tolist())
    return out


def compare(real: dict[str, Attribute], synthetic: dict[str, Attribute]) -> list[Difference]:
    """Every attribute both sides have, farthest apart first; attributes only one side records last."""
    rows = []
    for name, a in real.items():
        b = synthetic.get(name)
        if b is None:
            continue
        separation = 0.0
        if a.kind == "categorical":
            distance = tv_distance(a.counts, b.counts) if a.counts and b.counts else None
            separation = distance or 0.0
        else:
            distance = ks_distance(a.values, b.values) if a.values and b.values else None
            if distance:
                spread = math.sqrt((np.var(a.values) + np.var(b.values)) / 2) or 1e-12
                separation = abs(float(np.median(a.values) - np.median(b.values))) / spread
        rows.append(Difference(name, a.kind, a.description, None if distance is None else round(distance, 4),
                               a.summary(), b.summary(), round(min(separation, 1e6), 3)))
    return sorted(rows, key=lambda row: (row.distance is None, -(row.distance or 0.0), -row.separation))
