"""Unoccluded (amodal) extents, which objects may occlude each other, visibility and truncation.

The amodal *mask* of an object is what the renderer shows when the object is alone. An object can
only be hidden by something whose screen extent overlaps its own (or an environment box no plane
separates from it), so only those objects need more than their visible pixels; for every other
object the visible mask already *is* the amodal mask, exactly. The ones that may be hidden get
their label rays cast at their mesh (simgen/blender/rays.py), or, where that cannot decide, an
isolated pass, shared by objects whose extents do not overlap.
"""

from __future__ import annotations

import numpy as np

from simgen.sampling.frame_spec import ObjectSpec, PropParams
from simgen.sampling.geometry import euler_xyz_matrix

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in COCO pixel-edge coordinates
NEAR_PLANE_M = 1e-3
JITTER_MARGIN_PX = 2.0  # a pixel's label comes from one jittered sample inside the pixel filter
SURFACE_TOLERANCE_M = 1e-6  # a point this close to a face plane is on it (placements are exact to float rounding)
EYE_CLEARANCE_M = 1e-4  # the camera must be off a face plane by this much for the plane to separate


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


def box_corners_world(centre: np.ndarray, size: np.ndarray, yaw_deg: np.ndarray) -> np.ndarray:
    """The eight corners of each box turned by yaw about z: (boxes, 8, 3)."""
    yaw = np.radians(np.asarray(yaw_deg, float))
    cos, sin = np.cos(yaw), np.sin(yaw)
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float) / 2
    local = signs[None] * np.asarray(size, float)[:, None, :]  # (B, 8, 3)
    turned = np.stack([cos[:, None] * local[..., 0] - sin[:, None] * local[..., 1],
                       sin[:, None] * local[..., 0] + cos[:, None] * local[..., 1], local[..., 2]], axis=-1)
    return turned + np.asarray(centre, float)[:, None, :]


BOX_EDGES = [(a, b) for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count("1") == 1]  # corners one bit apart


def hidden_by_boxes(points_world: np.ndarray, eye: np.ndarray, corners: np.ndarray,
                    coarse: np.ndarray | None = None) -> bool:
    """Whether any box (corners as box_corners_world gives them) could stand between the eye and a convex
    body holding ``points_world``.

    A box can hide part of the body only if the body reaches into the box's shadow: the cone from the
    eye through the box. Two kinds of plane each prove it does not, exactly: one of the box's faces
    with the eye and the whole body outside it (every ray then meets the body before the box: a road
    or floor under what stands on it, a wall beside what stands against it, a table under the cups),
    or a plane through the eye and an edge of the box with the box on one side and the body on the
    other (a post off to the side of the line of sight). Points on a face itself (a tyre on the road)
    count as outside; the eye must be off it. ``coarse``, points of a body holding this one (its box),
    settles most boxes cheaply first; the rest are tried with the body's own points."""
    if len(corners) == 0:
        return False
    if coarse is not None:
        corners = corners[~_separated(coarse, eye, corners)]
        if len(corners) == 0:
            return False
    return bool((~_separated(points_world, eye, corners)).any())


def _separated(points: np.ndarray, eye: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Per box: whether a face plane or an eye-edge plane proves it cannot hide the points (see hidden_by_boxes)."""
    centre = corners.mean(axis=1)  # (B, 3)
    axes = np.stack([corners[:, 4] - corners[:, 0], corners[:, 2] - corners[:, 0], corners[:, 1] - corners[:, 0]], 1)
    lengths = np.linalg.norm(axes, axis=2, keepdims=True)
    unit = axes / np.maximum(lengths, 1e-12)  # (B, 3, 3): the box's axes
    normals = np.concatenate([unit, -unit], 1)  # (B, 6, 3)
    offsets = np.einsum("bfk,bk->bf", normals, centre) + np.concatenate([lengths[..., 0], lengths[..., 0]], 1) / 2
    body = np.einsum("bfk,pk->bfp", normals, points) - offsets[..., None]
    eye_side = normals @ eye - offsets
    done = ((body.min(axis=2) >= -SURFACE_TOLERANCE_M) & (eye_side > EYE_CLEARANCE_M)).any(axis=1)
    if done.all():
        return done
    rest = np.flatnonzero(~done)
    box = corners[rest]
    a, b = box[:, [e[0] for e in BOX_EDGES]], box[:, [e[1] for e in BOX_EDGES]]  # (R, 12, 3)
    plane = np.cross(a - eye, b - eye)
    plane /= np.maximum(np.linalg.norm(plane, axis=2, keepdims=True), 1e-12)
    through_eye = np.einsum("bek,k->be", plane, eye)[..., None]
    box_side = np.einsum("bek,bck->bec", plane, box) - through_eye
    body_side = np.einsum("bek,pk->bep", plane, points) - through_eye
    apart = ((box_side.max(axis=2) <= SURFACE_TOLERANCE_M) & (body_side.min(axis=2) > SURFACE_TOLERANCE_M)) | \
            ((box_side.min(axis=2) >= -SURFACE_TOLERANCE_M) & (body_side.max(axis=2) < -SURFACE_TOLERANCE_M))
    done[rest] = apart.any(axis=1)
    return done


def isolation_groups(extents: dict[int, Rect | None], width: int, height: int,
                     occluders: list[Rect | None] = (), blocked: set[int] = frozenset(),
                     depths: dict[int, tuple[float, float]] | None = None) -> list[list[int]]:
    """Instances that need an isolated render, packed into passes of mutually non-overlapping extents.

    An instance needs no pass at all when nothing may hide it: its (in-frame) extent overlaps no
    unlabeled occluder's, it is not in ``blocked`` (instances the environment may hide), and every
    other instance whose extent overlaps it lies wholly behind it (``depths``: nearest and farthest
    camera z of each one's hull; a thing behind the plane z = z_far of another cannot hide it).
    """
    clipped = {i: _clip(r, width, height) for i, r in extents.items()}
    clipped = {i: r for i, r in clipped.items() if r is not None}
    blockers = [c for c in (_clip(r, width, height) for r in occluders) if c is not None]

    def may_hide(j: int, i: int) -> bool:
        return _overlap(clipped[i], clipped[j]) and (depths is None or i not in depths or j not in depths
                                                      or depths[j][0] < depths[i][1])

    needy = sorted(i for i, r in clipped.items()
                   if i in blocked or any(may_hide(j, i) for j in clipped if j != i)
                   or any(_overlap(r, b) for b in blockers))
    groups: list[list[int]] = []
    for instance_id in needy:
        for group in groups:
            if not any(_overlap(clipped[instance_id], clipped[other]) for other in group):
                group.append(instance_id)
                break
        else:
            groups.append([instance_id])
    return groups


def group_window(extents: dict[int, Rect | None], group: list[int], width: int,
                 height: int) -> tuple[int, int, int, int]:
    """The pixels (x0, y0, x1, y1, end-exclusive) an isolated pass of ``group`` must render: its members'
    extents with the jitter margin and one pixel more. Nothing of theirs falls outside (that is what
    lets them share a pass), so the pass renders only this window: most of its cost is per pixel."""
    rects = [_clip(extents[i], width, height) for i in group]
    rects = [r for r in rects if r is not None]
    if not rects:
        return (0, 0, width, height)
    x0, y0 = min(r[0] for r in rects), min(r[1] for r in rects)
    x1, y1 = max(r[2] for r in rects), max(r[3] for r in rects)
    return (max(int(np.floor(x0)) - 1, 0), max(int(np.floor(y0)) - 1, 0),
            min(int(np.ceil(x1)) + 1, width), min(int(np.ceil(y1)) + 1, height))


def hidden_candidates(instance: np.ndarray, points: np.ndarray, eye: np.ndarray, forward: np.ndarray,
                      instance_id: int, window: tuple[int, int, int, int], far: float) -> tuple[np.ndarray, np.ndarray]:
    """The pixels (rows, columns) where object ``instance_id`` may be hidden: in its window, showing
    something else whose first hit (``points``, world, NaN where nothing) lies nearer than the
    object's farthest point (camera z ``far``). Anywhere else the object shows if its ray meets it:
    a surface behind all of it cannot be a pixel's first hit where the object is on the ray."""
    x0, y0, x1, y1 = window
    first = points[y0:y1, x0:x1]
    z = (first - eye) @ forward
    with np.errstate(invalid="ignore"):
        rows, cols = np.nonzero((instance[y0:y1, x0:x1] != instance_id) & (z < far))
    return rows + y0, cols + x0


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
