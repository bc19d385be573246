"""Placement that knows the environment: each object on its support (a floor, a table top, a lane,
a sidewalk, the top of another object), against a wall, turned to face something (pure).

Objects keep clear of each other (footprint circles, as in ``simgen.sampling.placement``), of the
environment's obstacles (table legs, door swings, posts: boxes) and of the walls: every hull point
of an object must lie on its support's rectangle, so nothing pokes through a wall or over a kerb.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simgen.config.scenario import ClassSpec
from simgen.sampling.environment import BASEBOARD
from simgen.sampling.frame_spec import Support, Vec3, Wall
from simgen.sampling.geometry import euler_xyz_matrix

FRONT_ANGLE = {"+x": 0.0, "+y": 90.0, "-x": 180.0, "-y": -90.0}
WALL_GAP_M = 0.02  # between an object's back and the baseboard
LANE_YAW_JITTER_DEG = 2.0


@dataclass
class Rules:
    """What a placement asks (a class's stands_on, against, facing, front; distractors use the defaults)."""

    name: str
    stands_on: str | list[str] | None = None
    against: str | None = None
    facing: str | None = None
    around: str | None = None
    front: str = "-y"


@dataclass
class Item:
    """One object to place: its class rules, hull points in its own frame (scaled), and its drawn rotation."""

    cls: ClassSpec | Rules
    points: np.ndarray  # (N, 3), already scaled
    rotation: tuple[float, float, float]


@dataclass
class Spot:
    location: np.ndarray  # the object's origin
    rotation: tuple[float, float, float]
    centre: np.ndarray  # xy of its footprint circle
    radius: float
    z_range: tuple[float, float]
    top: tuple[float, float, float, float, float]  # x0, y0, x1, y1, z of its top, for objects standing on it
    support: str


def _local(support: Support, xy: np.ndarray) -> np.ndarray:
    """Points in the support's own frame (its centre at 0, its x along yaw)."""
    c, s = math.cos(math.radians(support.yaw_deg)), math.sin(math.radians(support.yaw_deg))
    d = np.atleast_2d(xy) - np.asarray(support.centre)
    return np.stack([d[:, 0] * c + d[:, 1] * s, -d[:, 0] * s + d[:, 1] * c], axis=1)


def _inside(support: Support, xy: np.ndarray, margin: float = 0.0) -> bool:
    local = _local(support, xy)
    return bool(np.all(np.abs(local[:, 0]) <= support.size[0] / 2 - margin)
                and np.all(np.abs(local[:, 1]) <= support.size[1] / 2 - margin))


def _circle_box_clear(centre: np.ndarray, radius: float, box: tuple[Vec3, Vec3], gap: float) -> bool:
    lo, hi = np.asarray(box[0][:2]), np.asarray(box[1][:2])
    nearest = np.clip(centre, lo, hi)
    return float(np.linalg.norm(centre - nearest)) >= radius + gap


def _with_yaw(rotation: tuple[float, float, float], yaw_deg: float) -> tuple[float, float, float]:
    return (rotation[0], rotation[1], math.radians(yaw_deg))


class EnvironmentPlacer:
    """Places a frame's objects one by one in the layout; ``window`` limits how far along a street they go."""

    def __init__(self, supports: list[Support], walls: list[Wall], obstacles: list[tuple[Vec3, Vec3]],
                 default_support: str, centre: tuple[float, float], min_gap: float, max_tries: int,
                 rng: np.random.Generator):
        self.supports, self.walls, self.obstacles = supports, walls, obstacles
        self.default, self.centre = default_support, np.asarray(centre, float)
        self.min_gap, self.max_tries, self.rng = min_gap, max_tries, rng
        self.placed: list[tuple[str, Spot]] = []  # (class name, spot)

    # ------------------------------------------------------------------ helpers
    def _supports_for(self, cls: ClassSpec | Rules) -> list[Support]:
        names = [cls.stands_on] if isinstance(cls.stands_on, str) else list(cls.stands_on or [self.default])
        found = [s for s in self.supports if s.name in names]
        for name, spot in self.placed:  # the tops of objects of the classes named
            if name in names:
                x0, y0, x1, y1, z = spot.top
                found.append(Support(name, ((x0 + x1) / 2, (y0 + y1) / 2), (x1 - x0, y1 - y0), z))
        return found

    def _pick(self, supports: list[Support]) -> Support:
        areas = np.array([s.size[0] * s.size[1] for s in supports])
        return supports[int(np.searchsorted(np.cumsum(areas) / areas.sum(), self.rng.random(), side="right")
                            .clip(0, len(supports) - 1))]

    def _extent(self, item: Item, rotation: tuple[float, float, float]) -> np.ndarray:
        return item.points @ euler_xyz_matrix(*rotation).T

    def _facing_yaw(self, cls: ClassSpec | Rules, at: np.ndarray) -> float | None:
        """The yaw that turns the object's front from ``at`` towards what ``facing`` names."""
        if cls.facing is None:
            return None
        if cls.facing == "centre":
            goal = self.centre
        else:
            others = [s.centre for name, s in self.placed if name == cls.facing]
            if not others:
                return None
            goal = min(others, key=lambda c: float(np.linalg.norm(c - at)))
        d = goal - at
        return math.degrees(math.atan2(d[1], d[0])) - FRONT_ANGLE[cls.front]

    # ------------------------------------------------------------------ placing
    def place(self, item: Item) -> Spot | None:
        supports = self._supports_for(item.cls)
        if not supports and item.cls.against != "wall":
            return None
        hosts = [s for name, s in self.placed if name == item.cls.around] if item.cls.around else []
        for _ in range(self.max_tries):
            if hosts:
                spot = self._try_around(item, hosts[int(self.rng.integers(len(hosts)))], supports)
            elif item.cls.against == "wall":
                spot = self._try_wall(item)
            else:
                spot = self._try_support(item, self._pick(supports))
            if spot is not None and self._clear(spot):
                self.placed.append((item.cls.name, spot))
                return spot
        return None

    def _finish(self, item: Item, origin_xy: np.ndarray, rotation: tuple[float, float, float], z: float,
                support: str) -> Spot:
        rotated = self._extent(item, rotation)
        lo, hi = rotated.min(axis=0), rotated.max(axis=0)
        centre_offset = (lo[:2] + hi[:2]) / 2
        radius = float(np.max(np.linalg.norm(rotated[:, :2] - centre_offset, axis=1)))
        location = np.array([origin_xy[0], origin_xy[1], z - lo[2]])
        top = (float(origin_xy[0] + lo[0]), float(origin_xy[1] + lo[1]), float(origin_xy[0] + hi[0]),
               float(origin_xy[1] + hi[1]), float(location[2] + hi[2]))
        return Spot(location, rotation, origin_xy + centre_offset, radius, (z, z + float(hi[2] - lo[2])), top, support)

    def _try_support(self, item: Item, support: Support) -> Spot | None:
        rotation = item.rotation
        if support.heading_deg is not None:  # a lane: along it, heading its way
            yaw = support.heading_deg - FRONT_ANGLE[item.cls.front] + float(self.rng.normal(0, LANE_YAW_JITTER_DEG))
            rotation = _with_yaw(rotation, yaw)
        rotated = self._extent(item, rotation)
        lo, hi = rotated.min(axis=0), rotated.max(axis=0)
        centre_offset = (lo[:2] + hi[:2]) / 2
        radius = float(np.max(np.linalg.norm(rotated[:, :2] - centre_offset, axis=1)))
        half = np.array(support.size) / 2 - radius
        if np.any(half < 0):
            # too big for a circle: place its box instead (a car in a lane is longer than the lane is wide)
            half = np.array(support.size) / 2 - np.abs(hi[:2] - lo[:2]) / 2
            if np.any(half < 0):
                return None
        local = self.rng.uniform(-half, half)
        if support.heading_deg is not None:
            local[1] *= 0.5  # keep to the lane's middle
        c, s = math.cos(math.radians(support.yaw_deg)), math.sin(math.radians(support.yaw_deg))
        centre = np.asarray(support.centre) + np.array([local[0] * c - local[1] * s, local[0] * s + local[1] * c])
        facing = self._facing_yaw(item.cls, centre)
        if facing is not None and support.heading_deg is None:
            rotation = _with_yaw(rotation, facing)
            rotated = self._extent(item, rotation)
            lo, hi = rotated.min(axis=0), rotated.max(axis=0)
            centre_offset = (lo[:2] + hi[:2]) / 2
        spot = self._finish(item, centre - centre_offset, rotation, support.z, support.name)
        if not _inside(support, rotated[:, :2] + spot.location[:2]):
            return None
        return spot

    def _try_around(self, item: Item, host: Spot, supports: list[Support]) -> Spot | None:
        """Close beside ``host`` (its footprint circle plus 5-40 cm), facing it, on a support that holds it."""
        rotated = self._extent(item, item.rotation)
        own = float(np.max(np.linalg.norm(rotated[:, :2] - (rotated[:, :2].min(0) + rotated[:, :2].max(0)) / 2, axis=1)))
        angle = float(self.rng.uniform(0, 2 * math.pi))
        distance = host.radius + own + float(self.rng.uniform(0.05, 0.4))
        centre = host.centre + distance * np.array([math.cos(angle), math.sin(angle)])
        toward = host.centre - centre
        yaw = self._facing_yaw(item.cls, centre)
        if yaw is None:
            yaw = math.degrees(math.atan2(toward[1], toward[0])) - FRONT_ANGLE[item.cls.front]
        rotation = _with_yaw(item.rotation, yaw)
        rotated = self._extent(item, rotation)
        offset = (rotated[:, :2].min(0) + rotated[:, :2].max(0)) / 2
        for support in supports:
            origin = centre - offset
            if _inside(support, rotated[:, :2] + origin):
                return self._finish(item, origin, rotation, support.z, support.name)
        return None

    def _try_wall(self, item: Item) -> Spot | None:
        """Back to a random wall (longer walls likelier), front facing into the room, clear of doors."""
        if not self.walls:
            return None
        lengths = np.array([math.dist(w.start, w.end) for w in self.walls])
        wall = self.walls[int(np.searchsorted(np.cumsum(lengths) / lengths.sum(), self.rng.random(), side="right")
                              .clip(0, len(self.walls) - 1))]
        normal = np.asarray(wall.normal, float)
        yaw = math.degrees(math.atan2(normal[1], normal[0])) - FRONT_ANGLE[item.cls.front]
        rotation = _with_yaw(item.rotation, yaw)
        rotated = self._extent(item, rotation)
        start, end = np.asarray(wall.start, float), np.asarray(wall.end, float)
        length = float(np.linalg.norm(end - start))
        along = (end - start) / length
        a = rotated[:, :2] @ along  # the object's extent along the wall and into the room
        n = rotated[:, :2] @ normal
        width = float(a.max() - a.min())
        if width > length - 0.05:
            return None
        u = float(self.rng.uniform(-a.min() + 0.02, length - a.max() - 0.02))
        if any(u + a.max() > d0 - 0.05 and u + a.min() < d1 + 0.05 for d0, d1 in wall.openings):
            return None  # in front of a door
        origin = start + along * u + normal * (BASEBOARD[1] + WALL_GAP_M - n.min())
        floors = [s for s in self.supports if s.name == "floor"]
        points = rotated[:, :2] + origin
        if not any(_inside(f, points) for f in floors):
            return None
        return self._finish(item, origin, rotation, 0.0, "floor")

    def _clear(self, spot: Spot) -> bool:
        z0, z1 = spot.z_range
        for _, other in self.placed:
            o0, o1 = other.z_range
            if z0 < o1 - 1e-6 and o0 < z1 - 1e-6:  # overlapping heights: the circles must not meet
                if float(np.linalg.norm(spot.centre - other.centre)) < spot.radius + other.radius + self.min_gap:
                    return False
        for box in self.obstacles:
            if z0 < box[1][2] and box[0][2] < z1 - 1e-6 and not _circle_box_clear(spot.centre, spot.radius, box,
                                                                                   self.min_gap):
                return False
        return True


def placement_order(classes: list[ClassSpec]) -> dict[str, int]:
    """Classes that stand on or face another class go after it (supports before what they carry)."""
    names = {c.name for c in classes}
    depth: dict[str, int] = {}

    def level(cls: ClassSpec, seen: frozenset[str] = frozenset()) -> int:
        if cls.name in depth:
            return depth[cls.name]
        refs = [cls.stands_on] if isinstance(cls.stands_on, str) else list(cls.stands_on or [])
        refs += [name for name in (cls.facing, getattr(cls, "around", None)) if name]
        parents = [c for c in classes if c.name in refs and c.name in names and c.name not in seen]
        depth[cls.name] = 1 + max((level(p, seen | {cls.name}) for p in parents), default=-1)
        return depth[cls.name]

    for cls in classes:
        level(cls)
    return depth
