"""Unoccluded (amodal) extents, which objects may occlude each other, visibility and truncation.

The amodal *mask* of an object is what the renderer shows when the object is alone. Rendering
every object alone would cost a pass per object, but an object can only be hidden by another
whose screen extent overlaps its own. So only overlapping objects need isolated passes, and
objects whose extents do not overlap share a pass. For every other object the visible mask
already *is* the amodal mask, exactly.
"""

from __future__ import annotations

import numpy as np

from simgen.sampling.frame_spec import ObjectSpec, PropParams
from simgen.sampling.geometry import euler_xyz_matrix

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in COCO pixel-edge coordinates
NEAR_PLANE_M = 1e-3
JITTER_MARGIN_PX = 2.0  # a pixel's label comes from one jittered sample inside the pixel filter


def world_points(obj: ObjectSpec | PropParams, local_points: np.ndarray) -> np.ndarray:
    """Asset-local points placed as the object is in this frame (scale may differ per axis)."""
    rotation = euler_xyz_matrix(*obj.rotation_euler)
    return (np.asarray(local_points, float) * np.asarray(obj.scale, float)) @ rotation.T + np.asarray(obj.location)


def camera_points(points_world: np.ndarray, world_to_camera: np.ndarray) -> np.ndarray:
    return points_world @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]


def pixel_coordinates(points_camera: np.ndarray, K: np.ndarray) -> np.ndarray:
    """OpenCV projection moved to COCO's convention (pixel i spans [i, i+1))."""
    uvw = points_camera @ K.T
    return uvw[:, :2] / uvw[:, 2:3] + 0.5


def projected_extent(points_camera: np.ndarray, K: np.ndarray) -> Rect | None:
    """Screen rectangle of a mesh (its silhouette's exact extent), or None if it reaches behind the camera."""
    if np.any(points_camera[:, 2] <= NEAR_PLANE_M):
        return None
    uv = pixel_coordinates(points_camera, K)
    return (float(uv[:, 0].min()), float(uv[:, 1].min()), float(uv[:, 0].max()), float(uv[:, 1].max()))


def _clip(rect: Rect | None, width: int, height: int) -> Rect | None:
    if rect is None:
        return (0.0, 0.0, float(width), float(height))
    x0, y0 = max(rect[0] - JITTER_MARGIN_PX, 0.0), max(rect[1] - JITTER_MARGIN_PX, 0.0)
    x1, y1 = min(rect[2] + JITTER_MARGIN_PX, float(width)), min(rect[3] + JITTER_MARGIN_PX, float(height))
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


def _overlap(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def isolation_groups(extents: dict[int, Rect | None], width: int, height: int,
                     occluders: list[Rect | None] = ()) -> list[list[int]]:
    """Instances that need an isolated render, packed into passes of mutually non-overlapping extents.

    An instance whose (in-frame) extent overlaps no other instance's and no unlabeled occluder's
    needs no pass at all.
    """
    clipped = {i: _clip(r, width, height) for i, r in extents.items()}
    clipped = {i: r for i, r in clipped.items() if r is not None}
    blockers = [c for c in (_clip(r, width, height) for r in occluders) if c is not None]
    needy = sorted(i for i, r in clipped.items()
                   if any(_overlap(r, s) for j, s in clipped.items() if j != i) or any(_overlap(r, b) for b in blockers))
    groups: list[list[int]] = []
    for instance_id in needy:
        for group in groups:
            if not any(_overlap(clipped[instance_id], clipped[other]) for other in group):
                group.append(instance_id)
                break
        else:
            groups.append([instance_id])
    return groups


def truncation(extent: Rect | None, width: int, height: int) -> float:
    """Share of the amodal box that lies outside the image (1.0 when it reaches behind the camera)."""
    if extent is None:
        return 1.0
    x0, y0, x1, y1 = extent
    full = max(x1 - x0, 1e-9) * max(y1 - y0, 1e-9)
    inside = max(min(x1, width) - max(x0, 0.0), 0.0) * max(min(y1, height) - max(y0, 0.0), 0.0)
    return float(min(max(1.0 - inside / full, 0.0), 1.0))


def box_corners_2d(obj_corners_camera: np.ndarray, K: np.ndarray) -> list[list[float]] | None:
    """The 8 projected corners of the 3D box (None when part of it is behind the camera)."""
    if np.any(obj_corners_camera[:, 2] <= NEAR_PLANE_M):
        return None
    return pixel_coordinates(obj_corners_camera, K).round(3).tolist()
