"""COCO keypoints: project an asset's named 3D points and decide, from the render, which are visible."""

from __future__ import annotations

import numpy as np

from simgen.annotate.amodal import NEAR_PLANE_M, pixel_coordinates


def keypoint_triplets(points_camera: np.ndarray, K: np.ndarray, depth: np.ndarray,
                      tolerance_m: float) -> tuple[list[float], int]:
    """COCO ``[x1, y1, v1, ...]`` and ``num_keypoints``.

    v = 2 where the depth pass at the keypoint's pixel is the keypoint's own depth (so nothing, not even
    the object itself, is in front of it), v = 1 where it is in the image but hidden, v = 0 (and
    x = y = 0) outside the image.
    """
    height, width = depth.shape
    in_front = points_camera[:, 2] > NEAR_PLANE_M
    uv = np.zeros((len(points_camera), 2))
    uv[in_front] = pixel_coordinates(points_camera[in_front], K)
    triplets: list[float] = []
    labeled = 0
    for (u, v), z, front in zip(uv, points_camera[:, 2], in_front):
        col, row = int(np.floor(u)), int(np.floor(v))
        if not front or not (0 <= col < width and 0 <= row < height):
            triplets += [0.0, 0.0, 0]
            continue
        seen = abs(float(depth[row, col]) - float(z)) <= tolerance_m
        triplets += [round(float(u), 3), round(float(v), 3), 2 if seen else 1]
        labeled += 1
    return triplets, labeled
