"""Stuff classes, semantic maps with stuff and sky, and COCO panoptic segments (pure).

In a frame with an environment every unlabeled surface carries a stuff class: the backend
writes ``STUFF_BASE + index`` into its object index, so one render gives things and stuff
together. Stuff category ids follow the things' (the scenario's classes, 1..N): stuff class
``i`` of ``STUFF`` is category ``N + 1 + i``, the same in every frame and shard.
"""

from __future__ import annotations

from typing import Any

import numpy as np

STUFF = ("sky", "floor", "wall", "ceiling", "window", "door", "light", "table", "road", "sidewalk", "lane_marking",
         "building", "pole", "traffic_sign", "traffic_light", "vegetation", "ground", "clutter", "precipitation")
STUFF_BASE = 32000  # object pass indices from here on are stuff (Blender's pass_index tops out at 32767)
STUFF_SEGMENT_BASE = 1 << 16  # panoptic ids of stuff segments: above every instance id (16-bit)
SUPERCATEGORY = {"sky": "sky", "floor": "floor", "wall": "wall", "ceiling": "ceiling", "window": "building",
                 "door": "building", "light": "furniture", "table": "furniture", "road": "ground",
                 "sidewalk": "ground", "lane_marking": "ground", "building": "building", "pole": "structural",
                 "traffic_sign": "structural", "traffic_light": "structural", "vegetation": "plant",
                 "ground": "ground", "clutter": "other", "precipitation": "other"}


def stuff_pass_index(name: str) -> int:
    return STUFF_BASE + STUFF.index(name)


def stuff_categories(things: int) -> list[dict[str, Any]]:
    """The stuff categories after ``things`` thing categories (COCO panoptic style, isthing 0)."""
    return [{"id": things + 1 + i, "name": name, "supercategory": SUPERCATEGORY[name], "isthing": 0}
            for i, name in enumerate(STUFF)]


def panoptic_categories(categories: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**c, "isthing": 1} for c in categories] + stuff_categories(len(categories))


def stuff_semantic(object_index: np.ndarray, depth: np.ndarray, category_of: dict[int, int], things: int) -> np.ndarray:
    """Category id per pixel: things by their instance, stuff by its pass index, sky where no ray hit
    anything; 0 only where nothing applies (a labeled object's pixels whose annotation was dropped)."""
    semantic = np.zeros(object_index.shape, np.uint16)
    for instance_id, category_id in category_of.items():
        semantic[object_index == instance_id] = category_id
    stuff = object_index >= STUFF_BASE
    semantic[stuff] = things + 1 + (object_index[stuff] - STUFF_BASE)
    semantic[~np.isfinite(depth) & (object_index == 0)] = things + 1 + STUFF.index("sky")
    return semantic.astype(np.uint8) if semantic.max(initial=0) < 256 else semantic


def panoptic(semantic: np.ndarray, instance: np.ndarray, things: int, kept: dict[int, int],
             crowd: set[int]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The panoptic PNG (RGB, id = R + 256 G + 256^2 B) and its ``segments_info``: one segment per kept
    instance (id = its mask_id, ``kept`` maps it to its category) and one per stuff category present."""
    ids = np.zeros(semantic.shape, np.int64)
    segments = []
    for mask_id, category_id in sorted(kept.items()):
        ids[instance == mask_id] = mask_id
    stuff_pixels = (semantic > things) & (ids == 0)
    for category_id in np.unique(semantic[stuff_pixels]):
        ids[stuff_pixels & (semantic == category_id)] = STUFF_SEGMENT_BASE + int(category_id)
    for segment_id in np.unique(ids):
        if segment_id == 0:
            continue
        mask = ids == segment_id
        rows, cols = np.any(mask, axis=1), np.any(mask, axis=0)
        y0, y1 = np.flatnonzero(rows)[[0, -1]]
        x0, x1 = np.flatnonzero(cols)[[0, -1]]
        is_stuff = segment_id >= STUFF_SEGMENT_BASE
        segments.append({"id": int(segment_id),
                         "category_id": int(segment_id - STUFF_SEGMENT_BASE) if is_stuff else kept[int(segment_id)],
                         "area": int(mask.sum()), "bbox": [int(x0), int(y0), int(x1 - x0 + 1), int(y1 - y0 + 1)],
                         "iscrowd": int(not is_stuff and int(segment_id) in crowd)})
    rgb = np.stack([ids & 255, (ids >> 8) & 255, (ids >> 16) & 255], axis=-1).astype(np.uint8)
    return rgb, segments


def panoptic_ids(rgb: np.ndarray) -> np.ndarray:
    """Segment id per pixel of a panoptic PNG read as RGB."""
    rgb = rgb.astype(np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
