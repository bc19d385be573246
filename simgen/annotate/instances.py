"""Per-instance labels from the rendered object-index pass (pure numpy + pycocotools).

Everything here works on plain arrays, so it is tested without Blender.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
from pycocotools import mask as mask_utils

DEPTH_PNG_MAX_MM = 65535


@dataclass
class InstanceLabel:
    """Visible-pixel label of one instance. bbox is COCO [x, y, w, h] over whole pixels."""

    instance_id: int
    bbox: list[int]
    area: int
    segmentation: dict  # compressed RLE: {"size": [h, w], "counts": str}


def encode_rle(mask: np.ndarray) -> dict:
    """Compressed COCO RLE of a boolean mask (pycocotools' C encoder; never a Python loop)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def decode_rle(rle: dict) -> np.ndarray:
    return mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")}).astype(bool)


def label_instances(instance_map: np.ndarray, instance_ids: Iterable[int]) -> list[InstanceLabel]:
    """Labels for each listed id that has at least one visible pixel, in the given order."""
    ids = list(instance_ids)
    if not ids:
        return []
    areas = np.bincount(instance_map.ravel().clip(0), minlength=max(ids) + 1)
    labels = []
    for instance_id in ids:
        area = int(areas[instance_id])
        if area == 0:
            continue
        mask = instance_map == instance_id
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        bbox = [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]
        labels.append(InstanceLabel(instance_id, bbox, area, encode_rle(mask)))
    return labels


def semantic_map(instance_map: np.ndarray, category_of: dict[int, int]) -> np.ndarray:
    """Category id per pixel (0 = background), via one lookup table."""
    size = max([int(instance_map.max()), *category_of.keys(), 0]) + 1
    table = np.zeros(size, dtype=np.uint16)
    for instance_id, category_id in category_of.items():
        table[instance_id] = category_id
    semantic = table[instance_map.clip(0)]
    return semantic.astype(np.uint8) if semantic.max(initial=0) < 256 else semantic


def depth_to_mm(depth: np.ndarray) -> np.ndarray:
    """uint16 millimetres along the camera axis; 0 = no surface; saturates at 65.535 m."""
    finite = np.isfinite(depth)
    millimetres = np.zeros(depth.shape, dtype=np.uint16)
    millimetres[finite] = np.clip(np.rint(depth[finite] * 1000.0), 1, DEPTH_PNG_MAX_MM).astype(np.uint16)
    return millimetres
