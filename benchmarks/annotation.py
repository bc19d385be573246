"""Annotation cost on a 1920x1080 frame with 100 instances (pure numpy/pycocotools, no Blender).

    python benchmarks/annotation.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from simgen.annotate.instances import depth_to_mm, label_instances, semantic_map


def synthetic_frame(height: int = 1080, width: int = 1920, instances: int = 100, seed: int = 0):
    """Overlapping ellipses of random size, later ones in front: a busy, occluded instance map."""
    import cv2

    rng = np.random.default_rng(seed)
    instance = np.zeros((height, width), np.int32)
    for instance_id in range(1, instances + 1):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(10, 180)), int(rng.integers(10, 180)))
        cv2.ellipse(instance, centre, axes, float(rng.uniform(0, 180)), 0, 360, instance_id, -1)
    depth = rng.uniform(0.5, 30, size=(height, width)).astype(np.float32)
    return instance, depth


def main() -> None:
    instance, depth = synthetic_frame()
    ids = list(range(1, 101))
    categories = {i: 1 + i % 5 for i in ids}
    times = []
    for _ in range(7):
        start = time.perf_counter()
        labels = label_instances(instance, ids)
        semantic_map(instance, categories)
        depth_to_mm(depth)
        times.append(time.perf_counter() - start)
    print(f"1920x1080, {len(labels)} visible instances: masks + RLE + boxes + areas + semantic + depth encoding: "
          f"median {statistics.median(times) * 1000:.1f} ms (min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f})")


if __name__ == "__main__":
    main()
