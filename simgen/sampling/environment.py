"""Rooms, streets and tables as boxes with stuff classes, from seeded distributions (pure, no Blender).

A layout is everything about the place that stays put for ``environment.every`` frames: the
boxes (walls cut around doors and windows, kerbs, facades with window grids, lamp posts), each
box's material group and semantic class, the supports things stand on, the walls things stand
against, the free space the camera may occupy, and the lamps. Frame *i* uses layout
``i // every``, drawn from its own generator, so every frame of a layout shows the same place
whichever process renders it.

Coordinates: metres, Z up, the floor or road surface at z = 0; a room is centred on the origin,
a street runs along x.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from simgen.config.environment import EnvironmentSpec, RoomSpec, StreetSpec, TableSpec
from simgen.sampling.frame_spec import EnvMaterial, EnvPiece, LightParams, Support, Vec3, Wall
from simgen.sampling.geometry import hsv_to_linear_rgb, kelvin_to_rgb
from simgen.sampling.photometry import lamp_power

WALL_THICKNESS_M = 0.15
BASEBOARD = (0.08, 0.015)  # height, depth into the room
DOOR_HEIGHT_M = 2.05
KERB = (0.15, 0.15)  # height, width
BUILDING_DEPTH_M = 12.0
MARKING_M = (0.12, 0.002)  # width, height above the road: paint, which things stand on
CAMERA_MARGIN_M = 0.25
DEFAULT_SUPPORT = {"room": "floor", "tabletop": "table", "street": "road"}
FIXTURE_AREA_M2 = {"room": 0.45 * 0.45, "tabletop": 0.45 * 0.45, "street": 0.6 * 0.3}


@dataclass
class Layout:
    """What one layout holds before the frame decides whether its lamps are on."""

    type: str
    pieces: list[EnvPiece]
    materials: dict[str, EnvMaterial]
    supports: list[Support]
    walls: list[Wall]
    free_space: list[tuple[Vec3, Vec3]]
    obstacles: list[tuple[Vec3, Vec3]]
    lamps: list[LightParams]
    summary: dict
    daylight_factor: float = 1.0
    lit_groups: tuple[str, ...] = ()  # groups that glow when the lamps are on
    outdoors: bool = False
    key: str = field(default="")

    def finish(self) -> "Layout":
        digest = hashlib.sha1(repr([(p.group, p.centre, p.size, p.yaw_deg) for p in self.pieces]).encode())
        self.key = digest.hexdigest()[:16]
        return self


# ----------------------------------------------------------------------------- materials
def _grey(rng: np.random.Generator, low: float, high: float, tint: float = 0.03) -> Vec3:
    return hsv_to_linear_rgb(float(rng.uniform(0, 1)), float(rng.uniform(0, tint)), float(rng.uniform(low, high)))


def _near(color: Vec3, rng: np.random.Generator, spread: float = 0.12) -> Vec3:
    factor = 1.0 + float(rng.uniform(-spread, spread))
    return tuple(min(c * factor, 1.0) for c in color)  # type: ignore[return-value]


def family_material(family: str, rng: np.random.Generator) -> EnvMaterial:
    """A look that reads as what it is called: planks run in long boards with grain, tiles sit in a grid
    with grout, bricks are 215 x 65 mm in mortar, asphalt is fine dark grain. Always eight draws of
    colour and size, so switching families keeps other draws aligned."""
    u = rng.random(8)
    if family in ("planks", "laminate"):
        base = hsv_to_linear_rgb(0.06 + 0.04 * u[0], 0.35 + 0.35 * u[1], 0.25 + 0.45 * u[2])
        return EnvMaterial(family, base, _near(base, rng, 0.25), tuple(c * 0.5 for c in base),
                           brick_m=(1.2 + 0.8 * u[3], 0.12 + 0.1 * u[4]), mortar_m=0.002, offset=0.37,
                           grain=0.25, grain_scale=60.0, bands=0.35 if family == "planks" else 0.1,
                           bands_scale=8.0 + 10 * u[5], bump=0.15, roughness=0.25 + 0.35 * u[6])
    if family == "tiles":
        base = hsv_to_linear_rgb(u[0], 0.05 + 0.2 * u[1], 0.45 + 0.45 * u[2])
        side = 0.2 + 0.4 * u[3]
        return EnvMaterial(family, base, _near(base, rng, 0.05), _grey(rng, 0.3, 0.6), brick_m=(side, side),
                           mortar_m=0.004 + 0.004 * u[4], offset=0.0 if u[5] < 0.7 else 0.5, grain=0.05,
                           grain_scale=40.0, bump=0.3, roughness=0.08 + 0.25 * u[6])
    if family == "carpet":
        base = hsv_to_linear_rgb(u[0], 0.1 + 0.4 * u[1], 0.12 + 0.45 * u[2])
        return EnvMaterial(family, base, base, base, grain=0.35, grain_scale=300.0, bands=0.05 * u[3],
                           bands_scale=2.0, bump=0.4, roughness=0.95)
    if family == "concrete":
        base = _grey(rng, 0.25, 0.5)
        return EnvMaterial(family, base, _near(base, rng, 0.04), tuple(c * 0.8 for c in base),
                           brick_m=(2.0 + 2 * u[0], 1.0 + 1.5 * u[1]), mortar_m=0.005 * (u[2] > 0.5), offset=0.0,
                           grain=0.3, grain_scale=25.0 + 30 * u[3], bump=0.2, roughness=0.75 + 0.2 * u[4])
    if family == "plaster":
        base = hsv_to_linear_rgb(0.05 + 0.12 * u[0] if u[4] < 0.7 else u[0], 0.02 + 0.12 * u[1] ** 2, 0.55 + 0.35 * u[2])
        return EnvMaterial(family, base, base, base, grain=0.06, grain_scale=12.0, bump=0.08,
                           roughness=0.85 + 0.1 * u[3])
    if family == "wallpaper":
        base = hsv_to_linear_rgb(u[0], 0.05 + 0.2 * u[1] ** 2, 0.5 + 0.4 * u[2])
        return EnvMaterial(family, base, base, base, grain=0.04, grain_scale=30.0, bands=0.15 + 0.2 * u[3],
                           bands_scale=6.0 + 14 * u[4], bump=0.02, roughness=0.7)
    if family == "bricks":
        base = hsv_to_linear_rgb(0.01 + 0.05 * u[0], 0.4 + 0.35 * u[1], 0.12 + 0.3 * u[2])
        return EnvMaterial(family, base, _near(base, rng, 0.3), _grey(rng, 0.35, 0.65), brick_m=(0.225, 0.075),
                           mortar_m=0.01, offset=0.5, grain=0.2, grain_scale=80.0, bump=0.5, roughness=0.85)
    if family == "panels":
        base = _grey(rng, 0.2, 0.7, tint=0.2)
        return EnvMaterial(family, base, _near(base, rng, 0.06), tuple(c * 0.6 for c in base),
                           brick_m=(1.5 + u[0], 0.8 + 0.6 * u[1]), mortar_m=0.015, offset=0.0, grain=0.05,
                           grain_scale=20.0, bump=0.2, roughness=0.3 + 0.4 * u[2], metallic=0.3 * u[3])
    if family == "asphalt":
        base = _grey(rng, 0.035, 0.09)
        return EnvMaterial(family, base, base, base, grain=0.45, grain_scale=150.0 + 100 * u[0], bands=0.0,
                           bump=0.3, roughness=0.85 + 0.1 * u[1])
    if family == "paving":
        base = _grey(rng, 0.2, 0.45, tint=0.08)
        side = 0.3 + 0.3 * u[0]
        return EnvMaterial(family, base, _near(base, rng, 0.1), tuple(c * 0.6 for c in base), brick_m=(side, side),
                           mortar_m=0.006, offset=0.5 * (u[1] > 0.5), grain=0.25, grain_scale=60.0, bump=0.35,
                           roughness=0.8)
    if family == "paint":
        white = u[0] > 0.2
        base = (0.75, 0.75, 0.72) if white else (0.8, 0.55, 0.05)
        return EnvMaterial(family, base, base, base, grain=0.3, grain_scale=90.0, bump=0.05, roughness=0.55)
    if family == "glass":  # a window pane: most light goes straight through, a little is reflected
        return EnvMaterial(family, (0.9, 0.92, 0.95), (0.9, 0.92, 0.95), (0.0, 0.0, 0.0), roughness=0.02,
                           transparency=0.92)
    if family == "dark_glass":  # a facade's window seen from the street
        base = hsv_to_linear_rgb(0.55 + 0.1 * u[0], 0.2 * u[1], 0.02 + 0.05 * u[2])
        return EnvMaterial(family, base, base, base, roughness=0.05, metallic=0.2)
    if family == "metal":
        base = _grey(rng, 0.15, 0.45)
        return EnvMaterial(family, base, base, base, grain=0.05, grain_scale=30.0, roughness=0.35 + 0.3 * u[0],
                           metallic=0.8)
    if family == "wood":
        base = hsv_to_linear_rgb(0.07, 0.5, 0.15 + 0.3 * u[0])
        return EnvMaterial(family, base, base, base, bands=0.3, bands_scale=15.0, grain=0.1, roughness=0.5)
    if family == "stone":
        base = _grey(rng, 0.1, 0.7, tint=0.1)
        return EnvMaterial(family, base, _near(base, rng, 0.1), base, grain=0.45, grain_scale=15.0 + 20 * u[0],
                           bump=0.05, roughness=0.15 + 0.3 * u[1])
    if family == "lamp":  # a fixture's diffuser; glows when the lamps are on
        return EnvMaterial(family, (0.9, 0.9, 0.88), (0.9, 0.9, 0.88), (0.9, 0.9, 0.88), roughness=0.4)
    if family == "paint_color":  # signs: one strong colour
        hue = float(rng.choice([0.0, 0.6, 0.14, 0.33]))
        base = hsv_to_linear_rgb(hue, 0.85, 0.6 + 0.3 * u[0])
        return EnvMaterial(family, base, base, base, roughness=0.4)
    raise ValueError(f"unknown surface family '{family}'")


# ----------------------------------------------------------------------------- rooms
def _polygon(width: float, depth: float, cut: tuple[float, float] | None) -> list[tuple[float, float]]:
    """The room's inner outline, counter-clockwise; ``cut`` removes the (+x, +y) corner (an L)."""
    x, y = width / 2, depth / 2
    if cut is None:
        return [(-x, -y), (x, -y), (x, y), (-x, y)]
    cw, cd = cut
    return [(-x, -y), (x, -y), (x, y - cd), (x - cw, y - cd), (x - cw, y), (-x, y)]


def _floor_rects(width: float, depth: float, cut: tuple[float, float] | None) -> list[tuple[float, float, float, float]]:
    """The floor as non-overlapping rectangles (x0, y0, x1, y1)."""
    x, y = width / 2, depth / 2
    if cut is None:
        return [(-x, -y, x, y)]
    cw, cd = cut
    return [(-x, -y, x, y - cd), (-x, y - cd, x - cw, y)]


def _box_along(start: np.ndarray, direction: np.ndarray, normal: np.ndarray, u0: float, u1: float, z0: float,
               z1: float, offset: float, thickness: float) -> tuple[Vec3, Vec3, float]:
    """Centre, size and yaw of a box spanning [u0, u1] along a wall line, [z0, z1] high, its middle
    ``offset`` along the inward ``normal`` from the line."""
    mid = start + direction * (u0 + u1) / 2 + normal * offset
    yaw = math.degrees(math.atan2(direction[1], direction[0]))
    return ((float(mid[0]), float(mid[1]), (z0 + z1) / 2), (u1 - u0, thickness, z1 - z0), yaw)


def _openings(rng: np.random.Generator, length: float, existing: list[tuple[float, float]], width: float,
              margin: float = 0.3) -> tuple[float, float] | None:
    """A span [u0, u1] of ``width`` on a wall of ``length`` clear of the ``existing`` spans, or None."""
    if length < width + 2 * margin:
        return None
    for _ in range(20):
        u0 = float(rng.uniform(margin, length - margin - width))
        if all(u0 + width + margin <= a or u0 >= b + margin for a, b in existing):
            return (u0, u0 + width)
    return None


def _room(spec: RoomSpec, rng: np.random.Generator, lux: float, kelvin: float) -> Layout:
    width, depth, height = (float(spec.width_m.sample(rng)), float(spec.depth_m.sample(rng)),
                            float(spec.height_m.sample(rng)))
    l_draw, cut_w, cut_d = rng.random(), float(rng.uniform(0.3, 0.5)), float(rng.uniform(0.3, 0.5))
    cut = (cut_w * width, cut_d * depth) if l_draw < spec.l_shape else None
    outline = _polygon(width, depth, cut)
    n = len(outline)
    materials = {
        "floor": family_material(str(spec.floor.sample(rng)), rng),
        "wall": family_material(str(spec.walls.sample(rng)), rng),
        "ceiling": family_material(str(spec.ceiling.sample(rng)), rng),
        "baseboard": family_material("wood", rng), "door": family_material("wood", rng),
        "glass": family_material("glass", rng), "frame": family_material("plaster", rng),
        "lamp": family_material("lamp", rng)}
    pieces: list[EnvPiece] = []
    walls: list[Wall] = []
    obstacles: list[tuple[Vec3, Vec3]] = []
    # doors and windows, each on a wall long enough for it
    edges = []
    for i in range(n):
        a, b = np.array(outline[i]), np.array(outline[(i + 1) % n])
        length = float(np.linalg.norm(b - a))
        direction = (b - a) / length
        edges.append((a, direction, np.array([-direction[1], direction[0]]), length))
    spans: list[list[tuple[float, float, float, float, str]]] = [[] for _ in range(n)]  # u0, u1, z0, z1, kind
    def taken(i: int) -> list[tuple[float, float]]:
        return [(s[0], s[1]) for s in spans[i]]

    window_area = 0.0
    for kind, count in (("door", int(spec.doors.sample(rng))), ("window", int(spec.windows.sample(rng)))):
        for _ in range(count):
            wall_pick = int(rng.integers(n))
            w = float(rng.uniform(0.8, 0.95)) if kind == "door" else float(spec.window_width_m.sample(rng))
            h = float(spec.window_height_m.sample(rng))
            sill = float(spec.sill_m.sample(rng))
            for attempt in range(n):  # this wall, else the next long enough
                i = (wall_pick + attempt) % n
                span = _openings(rng, edges[i][3], taken(i), w)
                if span is None:
                    continue
                z0, z1 = (0.0, min(DOOR_HEIGHT_M, height - 0.2)) if kind == "door" else (
                    sill, min(sill + h, height - 0.15))
                spans[i].append((span[0], span[1], z0, z1, kind))
                if kind == "window":
                    window_area += (span[1] - span[0]) * (z1 - z0)
                break
    for i, (start, direction, normal, length) in enumerate(edges):
        # a convex corner is closed by extending the wall outward; a reflex (L) corner must not poke in
        prev_dir, next_dir = edges[i - 1][1], edges[(i + 1) % n][1]
        ext0 = WALL_THICKNESS_M if prev_dir[0] * direction[1] - prev_dir[1] * direction[0] > 0 else 0.0
        ext1 = WALL_THICKNESS_M if direction[0] * next_dir[1] - direction[1] * next_dir[0] > 0 else 0.0
        cuts = sorted(spans[i])
        edges_u = [-ext0] + [u for s in cuts for u in (s[0], s[1])] + [length + ext1]
        back = -WALL_THICKNESS_M / 2
        for j in range(0, len(edges_u), 2):  # full-height stretches between openings
            u0, u1 = edges_u[j], edges_u[j + 1]
            if u1 - u0 > 1e-6:
                pieces.append(EnvPiece("wall", "wall", *_box_along(start, direction, normal, u0, u1, 0.0, height, back,
                                                                   WALL_THICKNESS_M)))
        for u0, u1, z0, z1, kind in cuts:
            if z0 > 0:
                pieces.append(EnvPiece("wall", "wall", *_box_along(start, direction, normal, u0, u1, 0.0, z0, back,
                                                                   WALL_THICKNESS_M)))
            pieces.append(EnvPiece("wall", "wall", *_box_along(start, direction, normal, u0, u1, z1, height, back,
                                                               WALL_THICKNESS_M)))
            if kind == "window":
                pieces.append(EnvPiece("glass", "window", *_box_along(start, direction, normal, u0, u1, z0, z1,
                                                                      back, 0.02)))
                for edge_u in (u0, u1 - 0.05):  # the frame's sides, flush with the wall
                    pieces.append(EnvPiece("frame", "window", *_box_along(start, direction, normal, edge_u,
                                                                          edge_u + 0.05, z0, z1, back, 0.06)))
            else:
                pieces.append(EnvPiece("door", "door", *_box_along(start, direction, normal, u0, u1, z0, z1,
                                                                   back * 0.6, 0.04)))
                corner = start + direction * u0
                ahead = start + direction * u1 + normal * 0.9
                lo, hi = np.minimum(corner, ahead), np.maximum(corner, ahead)
                obstacles.append(((float(lo[0]), float(lo[1]), 0.0), (float(hi[0]), float(hi[1]), z1)))
        # baseboards along the floor, broken by doors
        doors = [(s[0], s[1]) for s in cuts if s[4] == "door"]
        runs, u = [], 0.0
        for u0, u1 in sorted(doors):
            runs.append((u, u0))
            u = u1
        runs.append((u, length))
        for u0, u1 in runs:
            if u1 - u0 > 0.05:
                pieces.append(EnvPiece("baseboard", "wall", *_box_along(start, direction, normal, u0, u1, 0.0,
                                                                        BASEBOARD[0], BASEBOARD[1] / 2,
                                                                        BASEBOARD[1])))
        walls.append(Wall(tuple(start.tolist()), tuple((start + direction * length).tolist()),  # type: ignore
                          tuple(normal.tolist()), doors))  # type: ignore[arg-type]
    big = (width + 2 * WALL_THICKNESS_M, depth + 2 * WALL_THICKNESS_M)
    pieces.append(EnvPiece("floor", "floor", (0.0, 0.0, -0.05), (big[0], big[1], 0.1)))
    pieces.append(EnvPiece("ceiling", "ceiling", (0.0, 0.0, height + 0.05), (big[0], big[1], 0.1)))
    rects = _floor_rects(width, depth, cut)
    supports = [Support("floor", ((x0 + x1) / 2, (y0 + y1) / 2), (x1 - x0 - 2 * BASEBOARD[1], y1 - y0 - 2 * BASEBOARD[1]),
                        0.0) for x0, y0, x1, y1 in rects]
    m = CAMERA_MARGIN_M
    free = [((x0 + m, y0 + m, 0.3), (x1 - m, y1 - m, height - m)) for x0, y0, x1, y1 in rects]
    # ceiling fixtures along the main rectangle's long side, each an area light facing down
    lamps, lamp_count = [], int(spec.lamps.sample(rng))
    x0, y0, x1, y1 = rects[0]
    along_x = (x1 - x0) >= (y1 - y0)
    for k in range(lamp_count):
        t = (k + 1) / (lamp_count + 1)
        cx, cy = (x0 + t * (x1 - x0), (y0 + y1) / 2) if along_x else ((x0 + x1) / 2, y0 + t * (y1 - y0))
        pieces.append(EnvPiece("lamp", "light", (cx, cy, height - 0.02), (0.45, 0.45, 0.04)))
        lamps.append(LightParams("area", (cx, cy, height - 0.05), (cx, cy, 0.0), lamp_power(lux, height - 0.05, "area"),
                                 kelvin, kelvin_to_rgb(kelvin), 0.45, 0.0))
    surface = 2 * width * depth + 2 * (width + depth) * height
    # the BRE average daylight factor: window area x transmittance x sky angle / (surfaces x (1 - R^2))
    daylight = min(window_area * 0.8 * 70.0 / (surface * (1 - 0.5 ** 2)) / 100.0, 1.0)
    summary = {"width_m": round(width, 3), "depth_m": round(depth, 3), "height_m": round(height, 3),
               "l_shaped": cut is not None, "windows": sum(s[4] == "window" for w in spans for s in w),
               "doors": sum(s[4] == "door" for w in spans for s in w), "lamps": lamp_count,
               "floor": materials["floor"].family, "walls": materials["wall"].family}
    return Layout("room", pieces, materials, supports, walls, free, obstacles, lamps, summary, daylight, ("lamp",))


PATIO_M = 400.0  # its edge 200 m out lies under the horizon seen from a table's height


def _patio(rng: np.random.Generator) -> Layout:
    """Paving under the open sky, to set a table on when rain or snow is to fall on it."""
    materials = {"ground": family_material("paving" if rng.random() < 0.7 else "concrete", rng)}
    pieces = [EnvPiece("ground", "ground", (0.0, 0.0, -0.1), (PATIO_M, PATIO_M, 0.2))]
    supports = [Support("floor", (0.0, 0.0), (8.0, 8.0), 0.0)]
    free = [((-12.0, -12.0, 0.3), (12.0, 12.0, 12.0))]
    return Layout("room", pieces, materials, supports, [], free, [], [], {"outdoors": True}, 1.0, (), outdoors=True)


def _table(spec: TableSpec, layout: Layout, rng: np.random.Generator) -> Layout:
    """A table standing in the room's main rectangle; labeled objects go on its top."""
    width, depth, height = (float(spec.width_m.sample(rng)), float(spec.depth_m.sample(rng)),
                            float(spec.height_m.sample(rng)))
    top_family = str(spec.top.sample(rng))
    material = family_material(top_family, rng)
    main = layout.supports[0]
    room_half = (main.size[0] / 2 - width / 2 - 0.8, main.size[1] / 2 - depth / 2 - 0.8)
    cx = main.centre[0] + float(rng.uniform(-1, 1)) * max(room_half[0], 0.0)
    cy = main.centre[1] + float(rng.uniform(-1, 1)) * max(room_half[1], 0.0)
    layout.materials["table"] = material
    layout.materials["table_legs"] = family_material("metal" if rng.random() < 0.4 else "wood", rng)
    layout.pieces.append(EnvPiece("table", "table", (cx, cy, height - 0.02), (width, depth, 0.04)))
    for sx in (-1, 1):
        for sy in (-1, 1):
            layout.pieces.append(EnvPiece("table_legs", "table", (cx + sx * (width / 2 - 0.06), cy + sy * (depth / 2 - 0.06),
                                                                  (height - 0.04) / 2), (0.05, 0.05, height - 0.04)))
    layout.supports.insert(0, Support("table", (cx, cy), (width, depth), height))
    box = ((cx - width / 2, cy - depth / 2, 0.0), (cx + width / 2, cy + depth / 2, height))
    layout.obstacles.append(box)
    layout.type = "tabletop"
    layout.summary.update(table_m=[round(width, 3), round(depth, 3), round(height, 3)], table_top=top_family)
    return layout


# ----------------------------------------------------------------------------- streets
def _facade_windows(pieces: list[EnvPiece], lit: list[EnvPiece], x0: float, x1: float, y_face: float, out: float,
                    height: float, rng: np.random.Generator, lit_share: float, axis: str = "x") -> None:
    """A grid of windows on a facade (the plane y = y_face, or x = y_face for ``axis`` 'y'), ground floor
    4 m high, upper floors 3.2 m, windows 1.0-1.6 m wide standing ``out`` proud of the facade."""
    spacing = float(rng.uniform(2.6, 4.0))
    win_w, win_h = float(rng.uniform(1.0, min(1.6, spacing - 0.6))), float(rng.uniform(1.3, 1.8))
    columns = max(int((x1 - x0 - 1.0) // spacing), 0)
    start = (x0 + x1) / 2 - (columns - 1) * spacing / 2
    floor_z = 4.0
    while floor_z + 0.9 + win_h < height - 0.5:
        for c in range(columns):
            u = start + c * spacing
            centre_z = floor_z + 0.9 + win_h / 2
            glow = rng.random() < lit_share
            centre = (u, y_face + out / 2, centre_z) if axis == "x" else (y_face + out / 2, u, centre_z)
            size = (win_w, abs(out), win_h) if axis == "x" else (abs(out), win_w, win_h)
            piece = EnvPiece("window_lit" if glow else "window", "window", centre, size)
            (lit if glow else pieces).append(piece)
        floor_z += 3.2


def _street_materials(spec: StreetSpec, rng: np.random.Generator) -> tuple[dict[str, EnvMaterial], str]:
    """Every street material group, and which signal lamp is lit."""
    materials = {"road": family_material("asphalt", rng), "sidewalk": family_material("paving", rng),
                 "kerb": family_material("concrete", rng), "marking": family_material("paint", rng),
                 "window": family_material("dark_glass", rng), "window_lit": family_material("dark_glass", rng),
                 "door": family_material("wood", rng), "pole": family_material("metal", rng),
                 "lamp": family_material("lamp", rng), "signal": family_material("metal", rng)}
    materials["marking"].color = (0.75, 0.75, 0.72)  # white lines; a yellow centre line is its own group
    materials["centre_line"] = family_material("paint", rng)
    for k in range(4):
        materials[f"building.{k}"] = family_material(str(spec.facade.sample(rng)), rng)
    for k in range(3):
        materials[f"sign.{k}"] = family_material("paint_color", rng)
    for colour, rgb in (("red", (1.0, 0.05, 0.02)), ("amber", (1.0, 0.45, 0.0)), ("green", (0.1, 1.0, 0.3))):
        materials[f"signal_{colour}"] = EnvMaterial("lamp", (0.05, 0.05, 0.05), (0.05,) * 3, (0.05,) * 3,  # type: ignore
                                                    roughness=0.2, emission_color=rgb)
    return materials, ("red", "amber", "green")[int(rng.integers(3))]


def _street_arm(spec: StreetSpec, rng: np.random.Generator, lanes: int, lane_w: float, walk: float, length: float,
                lux: float, kelvin: float) -> Layout:
    """One straight street along x, centred on the origin, closed at both ends by facades."""
    road = lanes * lane_w
    half, outer, end = road / 2, road / 2 + walk, length / 2
    pieces = [EnvPiece("road", "road", (0.0, 0.0, -0.1), (length, road, 0.2))]
    for side in (-1, 1):
        pieces.append(EnvPiece("kerb", "sidewalk", (0.0, side * (half + KERB[1] / 2), (KERB[0] - 0.2) / 2),
                               (length, KERB[1], KERB[0] + 0.2)))
        pieces.append(EnvPiece("sidewalk", "sidewalk", (0.0, side * (half + KERB[1] + (walk - KERB[1]) / 2),
                                                        (KERB[0] - 0.2) / 2), (length, walk - KERB[1], KERB[0] + 0.2)))
    # markings: edge lines, dashed lane lines, a solid line between the two directions
    forward_lanes = lanes - lanes // 2  # right-hand traffic: +x on the -y side
    z = MARKING_M[1] / 2
    for side in (-1, 1):
        pieces.append(EnvPiece("marking", "lane_marking", (0.0, side * (half - 0.25), z), (length, MARKING_M[0], MARKING_M[1])))
    for k in range(1, lanes):
        y = -half + k * lane_w
        if k == forward_lanes:
            pieces.append(EnvPiece("centre_line", "lane_marking", (0.0, y, z), (length, MARKING_M[0] * 1.2, MARKING_M[1])))
            continue
        x = -end + 2.0
        while x + 3.0 < end - 2.0:
            pieces.append(EnvPiece("marking", "lane_marking", (x + 1.5, y, z), (3.0, MARKING_M[0], MARKING_M[1])))
            x += 9.0
    supports = [Support("road", (0.0, 0.0), (length - 4.0, road), 0.0)]
    for k in range(lanes):
        heading = 0.0 if k < forward_lanes else 180.0
        supports.append(Support("lane", (0.0, -half + (k + 0.5) * lane_w), (length - 4.0, lane_w), 0.0, 0.0, heading))
    for side in (-1, 1):
        supports.append(Support("sidewalk", (0.0, side * (half + KERB[1] + (walk - KERB[1]) / 2)),
                                (length - 4.0, walk - KERB[1] - 0.4), KERB[0]))
    obstacles: list[tuple[Vec3, Vec3]] = []
    crossings = []
    for _ in range(int(spec.crosswalks.sample(rng))):
        x = float(rng.uniform(-0.12, 0.12) * length)  # near the middle, where the objects are
        crossings.append(x)
        stripes = int(road // 1.0)
        for s in range(stripes):
            y = -half + 0.5 + s * (road - 1.0) / max(stripes - 1, 1)
            pieces.append(EnvPiece("marking", "lane_marking", (x, y, z), (3.0, 0.5, MARKING_M[1])))
        supports.append(Support("crosswalk", (x, 0.0), (3.0, road), 0.0))
    # buildings on both sides, and one across each end
    lit: list[EnvPiece] = []
    lit_share = float(spec.lit_windows.sample(rng))
    lowest = 1e9
    for side in (-1, 1):
        x = -end - BUILDING_DEPTH_M
        while x < end + BUILDING_DEPTH_M:
            frontage = float(spec.building_width_m.sample(rng))
            tall = float(spec.building_height_m.sample(rng))
            x1 = min(x + frontage, end + BUILDING_DEPTH_M)
            lowest = min(lowest, tall)
            group = f"building.{int(rng.integers(4))}"
            face = side * outer
            pieces.append(EnvPiece(group, "building", ((x + x1) / 2, side * (outer + BUILDING_DEPTH_M / 2), tall / 2),
                                   (x1 - x, BUILDING_DEPTH_M, tall)))
            if min(x1, end) - max(x, -end) > 4.0:  # room for windows and a 1.2 m door a metre from each corner
                _facade_windows(pieces, lit, max(x, -end), min(x1, end), face, -side * 0.06, tall, rng, lit_share)
                door_x = float(rng.uniform(max(x, -end) + 1.0, min(x1, end) - 2.2))
                pieces.append(EnvPiece("door", "door", (door_x + 0.6, face - side * 0.03, 1.15), (1.2, 0.06, 2.3)))
            x = x1
    for side in (-1, 1):
        tall = float(spec.building_height_m.sample(rng))
        lowest = min(lowest, tall)
        width_y = 2 * (outer + BUILDING_DEPTH_M)
        pieces.append(EnvPiece("building.0", "building", (side * (end + BUILDING_DEPTH_M / 2), 0.0, tall / 2),
                               (BUILDING_DEPTH_M, width_y, tall)))
        _facade_windows(pieces, lit, -outer, outer, side * end, -side * 0.06, tall, rng, lit_share, axis="y")
    pieces += lit
    # street lamps: a post near the kerb, an arm over the road, a head that lights the road below
    lamps = []
    spacing, lamp_h = float(spec.lamp_spacing_m.sample(rng)), float(spec.lamp_height_m.sample(rng))
    x, side = -end + float(rng.uniform(3, spacing)), 1
    while x < end - 3:
        y_post = side * (half + 0.6)
        pieces.append(EnvPiece("pole", "pole", (x, y_post, lamp_h / 2), (0.16, 0.16, lamp_h)))
        pieces.append(EnvPiece("pole", "pole", (x, y_post - side * 0.8, lamp_h - 0.05), (0.08, 1.6, 0.08)))
        head = (x, y_post - side * 1.5, lamp_h - 0.15)
        pieces.append(EnvPiece("lamp", "light", head, (0.6, 0.3, 0.12)))
        obstacles.append(((x - 0.3, y_post - 0.3, 0.0), (x + 0.3, y_post + 0.3, lamp_h)))
        bulb = head[2] - 0.08
        lamps.append(LightParams("spot", (head[0], head[1], bulb), (head[0], head[1], 0.0),
                                 lamp_power(lux, bulb, "spot"), kelvin, kelvin_to_rgb(kelvin), 0.25, 150.0))
        x += spacing
        side = -side
    # signs and traffic lights on posts at the kerb, facing oncoming traffic
    for k in range(int(spec.signs.sample(rng))):
        sx, side = float(rng.uniform(-0.4, 0.4) * length), (1 if rng.random() < 0.5 else -1)
        y_post = side * (half + 0.45)
        pieces.append(EnvPiece("pole", "pole", (sx, y_post, 1.3), (0.07, 0.07, 2.6)))
        pieces.append(EnvPiece(f"sign.{k % 3}", "traffic_sign", (sx - side * 0.05, y_post, 2.3), (0.04, 0.65, 0.65)))
        obstacles.append(((sx - 0.4, y_post - 0.4, 0.0), (sx + 0.4, y_post + 0.4, 2.7)))
    for k, cx in enumerate(crossings[:int(spec.traffic_lights.sample(rng))]):
        for side in (-1, 1):
            lx, y_post = cx + side * 2.0, side * (half + 0.5)  # before the crossing, on the driver's right
            pieces.append(EnvPiece("pole", "pole", (lx, y_post, 1.6), (0.12, 0.12, 3.2)))
            pieces.append(EnvPiece("signal", "traffic_light", (lx, y_post, 3.55), (0.3, 0.3, 0.9)))
            for j, colour in enumerate(("red", "amber", "green")):
                pieces.append(EnvPiece(f"signal_{colour}", "traffic_light",
                                       (lx + side * 0.16, y_post, 3.85 - 0.28 * j), (0.03, 0.2, 0.2)))
            obstacles.append(((lx - 0.4, y_post - 0.4, 0.0), (lx + 0.4, y_post + 0.4, 4.0)))
    m = CAMERA_MARGIN_M
    free = [((-end + 2.0, -outer + m, 0.3), (end - 2.0, outer - m, max(min(lowest, lamp_h) - 1.0, 1.5)))]
    summary = {"lanes": lanes, "lane_width_m": round(lane_w, 3), "sidewalk_m": round(walk, 3),
               "length_m": round(length, 1), "crosswalks": len(crossings), "lamps": len(lamps),
               "lowest_building_m": round(lowest, 2)}
    return Layout("street", pieces, {}, supports, [], free, obstacles, lamps, summary, 1.0, (), outdoors=True)


SPLIT_GROUPS = ("road", "kerb", "sidewalk", "marking", "centre_line", *(f"building.{k}" for k in range(4)))


def _remainders(centre: float, size: float, lo: float, hi: float, least: float) -> list[tuple[float, float]] | None:
    """The parts of a span (centre, size) outside (lo, hi) longer than ``least``; None when it misses it."""
    x0, x1 = centre - size / 2, centre + size / 2
    if x1 <= lo or x0 >= hi:
        return None
    return [(a, b) for a, b in ((x0, min(x1, lo)), (max(x0, hi), x1)) if b - a > least]


def _cut(layout: Layout, lo: float, hi: float, groups: set[str], supports: set[str]) -> None:
    """Take the span lo < x < hi out of the named groups and supports (an arm's own frame): long boxes
    (road, kerbs, buildings) are split in two, small ones (windows, posts, lamps) that reach into it go,
    and so do the lamps and obstacles there."""
    pieces = []
    for piece in layout.pieces:
        parts = _remainders(piece.centre[0], piece.size[0], lo, hi, 1e-6) if piece.group in groups else None
        if parts is None:
            pieces.append(piece)
        elif piece.group in SPLIT_GROUPS:
            pieces += [EnvPiece(piece.group, piece.stuff, ((a + b) / 2, *piece.centre[1:]), (b - a, *piece.size[1:]),
                                piece.yaw_deg) for a, b in parts]
    layout.pieces = pieces
    kept = []
    for support in layout.supports:
        parts = _remainders(support.centre[0], support.size[0], lo, hi, 0.5) if support.name in supports else None
        kept += [support] if parts is None else [
            Support(support.name, ((a + b) / 2, support.centre[1]), (b - a, support.size[1]), support.z,
                    support.yaw_deg, support.heading_deg) for a, b in parts]
    layout.supports = kept
    if "lamp" in groups:
        layout.lamps = [lamp for lamp in layout.lamps if not lo < lamp.location[0] < hi]
        layout.obstacles = [box for box in layout.obstacles if box[1][0] <= lo or box[0][0] >= hi]


def _turned(layout: Layout, x_offset: float) -> None:
    """The arm turned a quarter to the left (its x along y) and moved to x = x_offset."""
    def point(x: float, y: float) -> tuple[float, float]:
        return (x_offset - y, x)

    layout.pieces = [EnvPiece(p.group, p.stuff, (*point(*p.centre[:2]), p.centre[2]), p.size, p.yaw_deg + 90.0)
                     for p in layout.pieces]
    layout.supports = [Support(s.name, point(*s.centre), s.size, s.z, s.yaw_deg + 90.0,
                               None if s.heading_deg is None else s.heading_deg + 90.0) for s in layout.supports]
    layout.lamps = [LightParams(l.type, (*point(*l.location[:2]), l.location[2]), (*point(*l.target[:2]), l.target[2]),
                                l.power_w, l.color_temperature_k, l.color, l.size_m, l.spot_angle_deg)
                    for l in layout.lamps]

    def box(b: tuple[Vec3, Vec3]) -> tuple[Vec3, Vec3]:
        (x0, y0), (x1, y1) = point(b[0][0], b[0][1]), point(b[1][0], b[1][1])
        return ((min(x0, x1), min(y0, y1), b[0][2]), (max(x0, x1), max(y0, y1), b[1][2]))

    layout.obstacles = [box(b) for b in layout.obstacles]
    layout.free_space = [box(b) for b in layout.free_space]


def _street(spec: StreetSpec, rng: np.random.Generator, lux: float, kelvin: float) -> Layout:
    """A straight street, or (``intersection``) one crossed by a second street near its middle."""
    lanes, lane_w = int(spec.lanes.sample(rng)), float(spec.lane_width_m.sample(rng))
    walk, length = float(spec.sidewalk_m.sample(rng)), float(spec.length_m.sample(rng))
    crossing, where, cross_length = rng.random() < spec.intersection, float(rng.uniform(-0.1, 0.1)), float(
        rng.uniform(80.0, 160.0))
    materials, lit_colour = _street_materials(spec, rng)
    main = _street_arm(spec, rng, lanes, lane_w, walk, length, lux, kelvin)
    main.materials = materials
    main.lit_groups = ("lamp", "window_lit", f"signal_{lit_colour}")
    if crossing:
        half, outer = lanes * lane_w / 2, lanes * lane_w / 2 + walk
        xc = where * length
        small = {g for g in materials if not g.startswith("building") and g not in ("road",)}
        _cut(main, xc - half, xc + half, {"kerb", "sidewalk", "marking", "centre_line"}, {"sidewalk", "crosswalk"})
        _cut(main, xc - outer, xc + outer, small - {"kerb", "sidewalk", "marking", "centre_line"} | {
            f"building.{k}" for k in range(4)}, set())
        cross = _street_arm(spec, rng, lanes, lane_w, walk, cross_length, lux, kelvin)
        _cut(cross, -half, half, {"road", "marking", "centre_line"}, {"road", "crosswalk"})
        _cut(cross, -outer, outer, small, {"sidewalk"})
        _cut(cross, -outer - BUILDING_DEPTH_M, outer + BUILDING_DEPTH_M, set(materials) - {"road"} - small | {
            "window", "window_lit", "door"}, set())
        _turned(cross, xc)
        main.pieces += cross.pieces
        main.supports += cross.supports
        main.lamps += cross.lamps
        main.obstacles += cross.obstacles
        main.free_space += cross.free_space
        main.summary.update(intersection_x=round(xc, 2), cross_length_m=round(cross_length, 1))
    main.summary["intersection"] = crossing
    return main



def glow(group: str, layout: Layout) -> float:
    """Emission strength of a lit group: a fixture as bright as its lamp's power spread over its face,
    a lit window as a room at a few hundred lux seen through glass, a traffic signal's lamp."""
    if group == "lamp" and layout.lamps:
        return layout.lamps[0].power_w / FIXTURE_AREA_M2[layout.type]
    if group == "window_lit":
        return 0.6
    return 15.0


# ----------------------------------------------------------------------------- entry point
def generate(spec: EnvironmentSpec, rng: np.random.Generator) -> Layout | None:
    """The layout of one ``every``-frame stretch, or None for ``open``."""
    lamps = spec.lamps
    default_lux = (5.0, 30.0) if spec.type == "street" else (100.0, 300.0)
    lux_draw = rng.random()
    lux = float(lamps.illuminance_lux.sample(rng)) if lamps.illuminance_lux is not None else \
        default_lux[0] * (default_lux[1] / default_lux[0]) ** lux_draw
    kelvin = float(lamps.color_temperature_k.sample(rng))
    if spec.type == "open":
        return None
    if spec.type == "street":
        return _street(spec.street, rng, lux, kelvin).finish()
    outside = rng.random() < spec.table.outdoors if spec.type == "tabletop" else False
    room = _patio(rng) if outside else _room(spec.room, rng, lux, kelvin)
    if spec.type == "tabletop":
        room = _table(spec.table, room, rng)
    return room.finish()
