"""Scatter objects on the ground so that no two interpenetrate.

Each object's footprint is the smallest circle around its *rotated, scaled mesh bounds* (not
its origin), so thin or off-centre meshes are placed correctly. Circles are conservative:
objects never touch, at the cost of slightly looser packing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simgen.sampling.frame_spec import AssetBounds
from simgen.sampling.geometry import box_corners, euler_xyz_matrix


@dataclass
class Footprint:
    """Where an object sits relative to its origin once rotated and scaled."""

    radius: float  # of the circle that holds its xy extent
    centre_offset: np.ndarray  # xy of that circle's centre relative to the object origin
    lift: float  # z to add to the origin so the lowest point touches z = 0


def footprint(bounds: AssetBounds, rotation_euler: tuple[float, float, float], scale: float) -> Footprint:
    corners = box_corners(np.array(bounds.minimum) * scale, np.array(bounds.maximum) * scale)
    rotated = corners @ euler_xyz_matrix(*rotation_euler).T
    lo, hi = rotated.min(axis=0), rotated.max(axis=0)
    centre = (lo[:2] + hi[:2]) / 2
    radius = float(np.max(np.linalg.norm(rotated[:, :2] - centre, axis=1)))
    return Footprint(radius=radius, centre_offset=centre, lift=float(-lo[2]))


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
) -> list[np.ndarray | None]:
    """Object origins (x, y, z) for each footprint, or None where it did not fit.

    Largest objects go first: they are the hardest to fit once the floor fills up.
    """
    placed = list(occupied or [])
    result: list[np.ndarray | None] = [None] * len(footprints)
    half_w, half_d = area[0] / 2, area[1] / 2
    for index in sorted(range(len(footprints)), key=lambda i: -footprints[i].radius):
        fp = footprints[index]
        for _ in range(max_tries):
            centre = np.array([rng.uniform(-half_w, half_w), rng.uniform(-half_d, half_d)])
            if all(np.linalg.norm(centre - p.centre) >= fp.radius + p.radius + min_gap for p in placed):
                placed.append(Placed(centre, fp.radius))
                origin_xy = centre - fp.centre_offset
                result[index] = np.array([origin_xy[0], origin_xy[1], fp.lift])
                break
    return result


def upright_yaw(rng: np.random.Generator) -> tuple[float, float, float]:
    return (0.0, 0.0, float(rng.uniform(0.0, 2 * math.pi)))
