"""Mask outlines along pixel edges, for polygon label formats (YOLO-seg): pure numpy, no OpenCV needed.

A polygon through pixel centres (what contour finders return) is a pixel smaller than the mask on
every side, so the box a trainer derives from it is smaller than the COCO box, and masks of one or
two pixels have no polygon at all. Tracing the edges between the mask and the outside instead gives
a polygon whose extent is the COCO box (to within EDGE_EPS); corners are pulled EDGE_EPS into their
pixels, so that a loader that truncates to whole pixels and fills with cv2.fillPoly (as Ultralytics
does) gets each part of the mask back. Parts are joined into one polygon by zero-width bridges.
"""

from __future__ import annotations

import numpy as np

EDGE_EPS = 1e-3  # pixels: how far corners are pulled into the mask (see _corners)


Step = tuple[tuple[int, int], tuple[int, int]]  # (vertex, outgoing direction), on the pixel-corner grid


def _right(d: tuple[int, int]) -> tuple[int, int]:
    """A right turn on screen, where y points down."""
    return (-d[1], d[0])


def _loops(mask: np.ndarray) -> list[list[Step]]:
    """Closed paths along the pixel edges between the mask and its outside: (vertex, outgoing direction)
    per step. Outer boundaries run clockwise on screen, holes the other way; a right-turn rule at
    corners where two parts touch diagonally keeps the parts apart."""
    padded = np.pad(mask.astype(bool), 1)
    inside = padded[1:-1, 1:-1]
    edges: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for outside, offset, direction in ((~padded[:-2, 1:-1], (0, 0), (1, 0)), (~padded[1:-1, 2:], (1, 0), (0, 1)),
                                       (~padded[2:, 1:-1], (1, 1), (-1, 0)), (~padded[1:-1, :-2], (0, 1), (0, -1))):
        rows, cols = np.nonzero(inside & outside)
        for r, c in zip(rows.tolist(), cols.tolist()):
            edges.setdefault((c + offset[0], r + offset[1]), []).append(direction)
    loops = []
    while edges:
        # The top-left-most vertex left has exactly one outgoing edge (nothing lies above it), so coming
        # back to it closes the loop.
        start = min(edges, key=lambda v: (v[1], v[0]))
        vertex, incoming, loop = start, (0, -1), []
        while True:
            outs = edges[vertex]
            direction = next((d for d in (_right(incoming), incoming, _right(_right(_right(incoming))))
                              if d in outs), outs[0])
            outs.remove(direction)
            if not outs:
                del edges[vertex]
            loop.append((vertex, direction))
            vertex, incoming = (vertex[0] + direction[0], vertex[1] + direction[1]), direction
            if vertex == start:
                break
        loops.append(loop)
    return loops


def _corners(loop: list[Step]) -> tuple[np.ndarray, float]:
    """The loop's corners (where it turns), each pulled EDGE_EPS into its pixel, and the loop's signed
    area (positive for outer boundaries). Pulled in, a corner survives the float round trip of
    normalized coordinates and truncation to the pixel it belongs to."""
    points = []
    for i, (vertex, out) in enumerate(loop):
        came = loop[i - 1][1]
        if came == out:
            continue
        x, y = float(vertex[0]), float(vertex[1])
        x += EDGE_EPS if (0, -1) in (came, out) else -EDGE_EPS  # on a left edge, else on a right one
        y += EDGE_EPS if (1, 0) in (came, out) else -EDGE_EPS  # on a top edge, else on a bottom one
        points.append((x, y))
    p = np.array(points)
    area = 0.5 * float(np.sum(p[:, 0] * np.roll(p[:, 1], -1) - np.roll(p[:, 0], -1) * p[:, 1]))
    return p, area


def pixel_outline(mask: np.ndarray) -> np.ndarray | None:
    """One polygon (N x 2, x/y) around every part of the mask, along pixel edges, parts joined by
    zero-width bridges; None for an empty mask. Its extent is the mask's box to within EDGE_EPS, and
    filled after truncating to whole pixels (as cv2.fillPoly-based loaders do) it gives back each part."""
    parts = sorted((p for p, area in map(_corners, _loops(mask)) if area > 0), key=len, reverse=True)
    if not parts:
        return None
    polygon = parts[0]
    for part in parts[1:]:
        d = np.linalg.norm(polygon[:, None, :] - part[None, :, :], axis=2)
        i, j = np.unravel_index(np.argmin(d), d.shape)
        ring = np.concatenate([part[j:], part[:j + 1]])
        polygon = np.concatenate([polygon[:i + 1], ring, polygon[i:]])
    return polygon
