"""Scatter objects on the ground so that no two interpenetrate.

Each object's footprint is the smallest circle around its *rotated, scaled mesh bounds* (not
its origin), so thin or off-centre meshes are placed correctly. Circles are conservative:
objects never touch, at the cost of slightly looser packing. The modes a scenario names
(``placement.mode``) are registered in ``simgen.plugins.PLACEMENTS``; plug-ins add their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simgen.plugins import PLACEMENTS
from simgen.sampling.frame_spec import AssetBounds
from simgen.sampling.geometry import box_corners, euler_xyz_matrix


@dataclass
class Footprint:
    """Where an object sits relative to its origin once rotated and scaled."""

    radius: float  # of the circle that holds its xy extent
    centre_offset: np.ndarray  # xy of that circle's centre relative to the object origin
    lift: float  # z to add to the origin so the lowest point touches z = 0
    height: float = 0.0  # vertical extent once rotated


def shape_points(shape: AssetBounds | np.ndarray) -> np.ndarray:
    """An asset's points: its mesh vertices when known, else the corners of its bounding box."""
    return shape if isinstance(shape, np.ndarray) else box_corners(shape.minimum, shape.maximum)


def footprint(shape: AssetBounds | np.ndarray, rotation_euler: tuple[float, float, float],
              scale: float | tuple[float, float, float]) -> Footprint:
    """From the mesh's vertices when known (exact contact with the ground for any rotation), else its box."""
    points = shape_points(shape)
    rotated = (points * np.asarray(scale, float)) @ euler_xyz_matrix(*rotation_euler).T
    lo, hi = rotated.min(axis=0), rotated.max(axis=0)
    centre = (lo[:2] + hi[:2]) / 2
    radius = float(np.max(np.linalg.norm(rotated[:, :2] - centre, axis=1)))
    return Footprint(radius=radius, centre_offset=centre, lift=float(-lo[2]), height=float(hi[2] - lo[2]))


@dataclass
class Placed:
    centre: np.ndarray
    radius: float


def scatter(
    footprints: list[Footprint],
    area: tuple[float, float],
    min_gap: float,
    max_tries: int,
    rng: np.random.Generator,
    occupied: list[Placed] | None = None,
) -> tuple[list[np.ndarray | None], list[Placed]]:
    """Object origins (x, y, z) for each footprint, or None where it did not fit; and all discs now taken.

    Largest objects go first: they are the hardest to fit once the floor fills up.
    """
    placed = list(occupied or [])
    centres = np.array([p.centre for p in placed]).reshape(-1, 2)
    radii = np.array([p.radius for p in placed])
    result: list[np.ndarray | None] = [None] * len(footprints)
    half_w, half_d = area[0] / 2, area[1] / 2
    for index in sorted(range(len(footprints)), key=lambda i: -footprints[i].radius):
        fp = footprints[index]
        for _ in range(max_tries):
            centre = np.array([rng.uniform(-half_w, half_w), rng.uniform(-half_d, half_d)])
            if np.all(np.hypot(*(centres - centre).T) >= radii + fp.radius + min_gap):
                placed.append(Placed(centre, fp.radius))
                centres, radii = np.vstack([centres, centre]), np.append(radii, fp.radius)
                origin_xy = centre - fp.centre_offset
                result[index] = np.array([origin_xy[0], origin_xy[1], fp.lift])
                break
    return result, placed


def grid(footprints: list[Footprint], area: tuple[float, float], min_gap: float, jitter: float,
         rng: np.random.Generator) -> list[np.ndarray | None]:
    """Objects on a jittered grid filling the area; an object larger than its cell does not fit."""
    count = len(footprints)
    if count == 0:
        return []
    cols = max(1, math.ceil(math.sqrt(count * area[0] / area[1])))
    rows = math.ceil(count / cols)
    cell_w, cell_d = area[0] / cols, area[1] / rows
    result: list[np.ndarray | None] = []
    for index, fp in enumerate(footprints):
        row, col = divmod(index, cols)
        slack_w, slack_d = cell_w / 2 - fp.radius - min_gap / 2, cell_d / 2 - fp.radius - min_gap / 2
        if slack_w < 0 or slack_d < 0:
            result.append(None)
            continue
        centre = np.array([-area[0] / 2 + (col + 0.5) * cell_w + rng.uniform(-1, 1) * min(jitter * cell_w, slack_w),
                           -area[1] / 2 + (row + 0.5) * cell_d + rng.uniform(-1, 1) * min(jitter * cell_d, slack_d)])
        origin_xy = centre - fp.centre_offset
        result.append(np.array([origin_xy[0], origin_xy[1], fp.lift]))
    return result


def pile(footprints: list[Footprint], area: tuple[float, float], min_gap: float,
         rng: np.random.Generator) -> list[np.ndarray]:
    """Objects stacked in the air over random spots, each above the last: physics drops them into a pile."""
    result, base = [], 0.0
    for fp in footprints:
        centre = np.array([rng.uniform(-area[0] / 2, area[0] / 2), rng.uniform(-area[1] / 2, area[1] / 2)])
        origin_xy = centre - fp.centre_offset
        result.append(np.array([origin_xy[0], origin_xy[1], base + fp.lift]))
        base += fp.height + max(min_gap, 0.005)
    return result


def upright_yaw(rng: np.random.Generator) -> tuple[float, float, float]:
    return (0.0, 0.0, float(rng.uniform(0.0, 2 * math.pi)))


@dataclass
class PlacementRequest:
    """What a placement mode is asked: put these footprints in this area (centred on the origin),
    around the discs already taken (objects with pinned positions)."""

    footprints: list[Footprint]
    area: tuple[float, float]
    spec: Any  # the scenario's PlacementSpec: min_gap, max_tries, grid_jitter, ...
    rng: np.random.Generator
    occupied: list[Placed]


@dataclass
class PlacementResult:
    spots: list[np.ndarray | None]  # each footprint's object origin (x, y, z), or None where it did not fit
    taken: list[Placed]  # every disc now occupied, for the clutter placed after the labeled objects


@PLACEMENTS.register("scatter")
def _scatter(request: PlacementRequest) -> PlacementResult:
    """Random spots, no two footprints closer than min_gap, largest objects first."""
    return PlacementResult(*scatter(request.footprints, request.area, request.spec.min_gap, request.spec.max_tries,
                                    request.rng, request.occupied))


@PLACEMENTS.register("grid")
def _grid(request: PlacementRequest) -> PlacementResult:
    spots = grid(request.footprints, request.area, request.spec.min_gap, request.spec.grid_jitter, request.rng)
    taken = request.occupied + [Placed(s[:2] + fp.centre_offset, fp.radius)
                                for fp, s in zip(request.footprints, spots) if s is not None]
    return PlacementResult(spots, taken)


@PLACEMENTS.register("pile")
def _pile(request: PlacementRequest) -> PlacementResult:
    return PlacementResult(pile(request.footprints, request.area, request.spec.min_gap, request.rng),
                           list(request.occupied))
