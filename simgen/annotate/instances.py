"""Per-instance labels from the rendered object-index pass (pure numpy + pycocotools).

Everything here works on plain arrays, so it is tested without Blender.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
from pycocotools import mask as mask_utils

from simgen.errors import DatasetError

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
    """The boolean mask of a compressed RLE; a malformed one raises DatasetError instead of crashing pycocotools."""
    problem = rle_problem(rle)
    if problem is not None:
        raise DatasetError(problem)
    return mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")}).astype(bool)


def rle_problem(rle: object, shape: tuple[int, int] | None = None) -> str | None:
    """Why ``rle`` is not a compressed COCO RLE (of ``shape``), or None.

    pycocotools decodes without bounds checks, so run lengths that do not add up to h*w write past
    its buffer; the runs are summed here first, in the same variable-length code pycocotools writes.
    """
    if not isinstance(rle, dict) or not isinstance(rle.get("counts"), str):
        return "segmentation is not a compressed RLE {size: [h, w], counts: str}"
    size = rle.get("size")
    if not (isinstance(size, list) and len(size) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 1 << 20 for v in size)):
        return f"RLE size {size!r} is not [height, width] of non-negative whole numbers"
    if shape is not None and tuple(size) != tuple(shape):
        return f"RLE size {size} does not match the image's [height, width] {list(shape)}"
    runs, total, value, shift, more, index = [], 0, 0, 0, False, 0
    for char in rle["counts"]:
        code = ord(char) - 48
        if not 0 <= code < 64:
            return f"RLE counts hold a character outside the COCO code ({char!r})"
        value |= (code & 0x1F) << shift
        more, shift = bool(code & 0x20), shift + 5
        if not more:
            if code & 0x10:
                value |= -1 << shift
            if index > 2:
                value += runs[index - 2]
            if value < 0:
                return "RLE counts decode to a negative run length"
            runs.append(value)
            total += value
            index, value, shift = index + 1, 0, 0
    if more:
        return "RLE counts end in the middle of a number"
    if total != size[0] * size[1]:
        return f"RLE runs cover {total} pixels, not the {size[0]}x{size[1]} = {size[0] * size[1]} of its size"
    return None


def _runs(column_major: np.ndarray, breaks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, values) of the constant runs of a 1-D array, also cut at ``breaks``."""
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [column_major.size]])
    return starts, ends, column_major[starts]


def _grouped(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(values, kind="stable")  # runs of one id stay in image order
    return order, values[order]


def _of(instance_id: int, order: np.ndarray, sorted_values: np.ndarray) -> np.ndarray:
    lo, hi = np.searchsorted(sorted_values, [instance_id, instance_id + 1])
    return order[lo:hi]


def label_instances(instance_map: np.ndarray, instance_ids: Iterable[int]) -> list[InstanceLabel]:
    """Labels for each listed id that has at least one visible pixel, in the given order.

    One pass over the map finds the runs of equal ids in column-major order, which is exactly
    COCO's RLE order: each instance's RLE, area and box then come from its own runs, never from a
    full-image mask per instance (100 instances at 1920x1080 in tens of milliseconds).
    """
    ids = list(instance_ids)
    if not ids:
        return []
    height, width = instance_map.shape
    column_major = np.ascontiguousarray(instance_map.T).ravel()
    size = column_major.size
    change = np.flatnonzero(column_major[1:] != column_major[:-1]) + 1
    starts, ends, values = _runs(column_major, change)
    order, sorted_values = _grouped(values)
    # for boxes, runs are also cut where a column ends, so each lies in one column
    c_starts, c_ends, c_values = _runs(column_major, np.union1d(change, np.arange(height, size, height)))
    c_order, c_sorted = _grouped(c_values)
    labels = []
    for instance_id in ids:
        mine = _of(instance_id, order, sorted_values)
        if mine.size == 0:
            continue
        first, last = starts[mine], ends[mine]
        counts = np.empty(2 * mine.size + 1, dtype=np.int64)
        counts[0], counts[-1] = first[0], size - last[-1]
        counts[1::2] = last - first
        counts[2:-1:2] = first[1:] - last[:-1]
        if counts[-1] == 0:  # no background after the last run: pycocotools writes no empty tail either
            counts = counts[:-1]
        compressed = mask_utils.frPyObjects({"size": [height, width], "counts": counts.tolist()}, height, width)
        columns = _of(instance_id, c_order, c_sorted)
        cols = c_starts[columns] // height
        top, bottom = c_starts[columns] % height, (c_ends[columns] - 1) % height
        x0, y0 = int(cols.min()), int(top.min())
        bbox = [x0, y0, int(cols.max()) - x0 + 1, int(bottom.max()) - y0 + 1]
        rle = {"size": [height, width], "counts": compressed["counts"].decode("ascii")}
        labels.append(InstanceLabel(instance_id, bbox, int((last - first).sum()), rle))
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
