"""Annotation on synthetic arrays: exact masks, boxes, areas, semantic maps and depth encoding."""

from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils

import pytest

from simgen.annotate.instances import decode_rle, depth_to_mm, encode_rle, label_instances, semantic_map


def synthetic() -> np.ndarray:
    instance = np.zeros((40, 60), np.int32)
    instance[5:15, 10:30] = 1
    instance[20:38, 40:45] = 2
    instance[12:25, 25:35] = 3  # overlaps (occludes) part of 1
    return instance


def test_boxes_areas_and_masks_are_exact():
    instance = synthetic()
    labels = {l.instance_id: l for l in label_instances(instance, [1, 2, 3, 4])}
    assert set(labels) == {1, 2, 3}, "an instance with no visible pixel gets no label"
    assert labels[2].bbox == [40, 20, 5, 18] and labels[2].area == 90
    assert labels[3].bbox == [25, 12, 10, 13]
    for instance_id, label in labels.items():
        mask = decode_rle(label.segmentation)
        assert np.array_equal(mask, instance == instance_id)
        rle = {"size": label.segmentation["size"], "counts": label.segmentation["counts"].encode()}
        assert mask_utils.area(rle) == label.area
        assert mask_utils.toBbox(rle).tolist() == label.bbox


def test_semantic_map_uses_categories():
    semantic = semantic_map(synthetic(), {1: 2, 2: 2, 3: 1})
    assert semantic.dtype == np.uint8
    assert semantic[6, 11] == 2 and semantic[13, 30] == 1 and semantic[0, 0] == 0


def test_depth_is_millimetres_with_zero_for_no_surface():
    depth = np.array([[1.2345, np.inf], [70.0, 0.0004]], np.float32)
    assert depth_to_mm(depth).tolist() == [[1234, 0], [65535, 1]]


@pytest.mark.parametrize("seed", range(5))
def test_run_based_labels_equal_per_mask_labels_on_random_maps(seed: int) -> None:
    rng = np.random.default_rng(seed)
    instance = rng.integers(0, 12, size=(37, 53)).astype(np.int32)
    instance[rng.random(instance.shape) < 0.5] = 0
    instance[:, -1] = 7  # runs that wrap from one column's bottom into the next column's top
    instance[-3:, :] = 7
    for label in label_instances(instance, range(1, 14)):
        mask = instance == label.instance_id
        assert np.array_equal(decode_rle(label.segmentation), mask)
        assert label.area == int(mask.sum())
        rows, cols = np.nonzero(mask)
        assert label.bbox == [cols.min(), rows.min(), cols.max() - cols.min() + 1, rows.max() - rows.min() + 1]
        assert label.segmentation == encode_rle(mask), "the same compressed RLE pycocotools makes from the mask"
