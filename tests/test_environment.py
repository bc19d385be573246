"""Environments (room, tabletop, street) without Blender: the layout, placement and camera facts a
render inherits exactly (the backend only shows what the frame's params say)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from simgen.config import load_scenario
from simgen.errors import ScenarioError
from simgen.run.batch import resolve_assets
from simgen.sampling.env_placement import FRONT_ANGLE
from simgen.sampling.frame_spec import AssetBounds, EnvPiece, FrameSpec
from simgen.sampling.geometry import box_corners, euler_xyz_matrix
from simgen.sampling.sampler import FrameSampler

UNIT = AssetBounds((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5))
LONG = AssetBounds((-0.9, -2.2, 0.0), (0.9, 2.2, 1.5))  # a car's box: long along y, front at -y

ROOM = {
    "name": "room", "seed": 5, "frames": 40, "environment": {"type": "room"},
    "classes": [
        {"name": "cabinet", "asset": "primitive:cube", "count": [1, 2], "size_m": [0.6, 1.0], "against": "wall"},
        {"name": "table", "asset": "primitive:cylinder", "count": 1, "size_m": [0.8, 1.0]},
        {"name": "chair", "asset": "primitive:cube", "count": [1, 3], "size_m": [0.4, 0.5], "around": "table"},
        {"name": "vase", "asset": "primitive:sphere", "count": [0, 1], "size_m": 0.2, "stands_on": "cabinet"},
    ],
    "camera": {"pose": {"sampler": "inside"}},
}
TABLETOP = {
    "name": "tabletop", "seed": 7, "frames": 40, "environment": {"type": "tabletop"},
    "classes": [{"name": "can", "asset": "primitive:cylinder", "count": [1, 4], "size_m": [0.06, 0.12]},
                {"name": "box", "asset": "primitive:cube", "count": [0, 2], "size_m": [0.4, 0.5], "stands_on": "floor"}],
    "camera": {"orbit": {"distance": [0.8, 6.0], "elevation_deg": [10, 70]}},
}
STREET = {
    "name": "street", "seed": 9, "frames": 40, "environment": {"type": "street"},
    "classes": [{"name": "car", "asset": "primitive:cone", "count": [1, 4], "stands_on": "lane"},
                {"name": "person", "asset": "primitive:cube", "count": [1, 4], "size_m": 0.5,
                 "stands_on": ["sidewalk", "crosswalk"]}],
    "placement": {"area": [50, 10]},
    "camera": {"pose": {"sampler": "lane"}},
}


def make(tmp_path: Path, spec: dict, shapes: dict[str, AssetBounds] | None = None) -> FrameSampler:
    path = tmp_path / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec))
    scenario = load_scenario(path)
    assets = resolve_assets(scenario)
    bounds = {ref.key: (shapes or {}).get(ref.key, UNIT) for ref in assets.all()}
    return FrameSampler(scenario, assets, bounds, (160, 120))


def world_hull(sampler: FrameSampler, obj) -> np.ndarray:
    b = sampler.bounds[obj.asset]
    return (box_corners(b.minimum, b.maximum) * obj.scale) @ euler_xyz_matrix(*obj.rotation_euler).T \
        + np.array(obj.location)


def piece_rect(piece: EnvPiece) -> tuple[np.ndarray, float, float]:
    """A piece's xy corners and its z range."""
    c, s = math.cos(math.radians(piece.yaw_deg)), math.sin(math.radians(piece.yaw_deg))
    hx, hy = piece.size[0] / 2, piece.size[1] / 2
    local = np.array([[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy]])
    xy = local @ np.array([[c, s], [-s, c]]) + np.array(piece.centre[:2])
    return xy, piece.centre[2] - piece.size[2] / 2, piece.centre[2] + piece.size[2] / 2


def separated(a: np.ndarray, b: np.ndarray, tolerance: float = 1e-3) -> bool:
    """Whether two convex xy polygons have a separating axis (touching within ``tolerance`` counts)."""
    for poly in (a, b):
        for i in range(len(poly)):
            edge = poly[(i + 1) % len(poly)] - poly[i]
            axis = np.array([-edge[1], edge[0]]) / max(np.linalg.norm(edge), 1e-12)
            pa, pb = a @ axis, b @ axis
            if pa.max() <= pb.min() + tolerance or pb.max() <= pa.min() + tolerance:
                return True
    return False


def footprint_polygon(hull: np.ndarray) -> np.ndarray:
    """The xy convex hull of points (monotone chain)."""
    pts = sorted(map(tuple, np.round(hull[:, :2], 9)))
    pts = list(dict.fromkeys(pts))
    if len(pts) < 3:
        return np.array(pts)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def assert_no_intersections(sampler: FrameSampler, frame: FrameSpec) -> None:
    env = frame.environment
    assert env is not None
    hulls = [world_hull(sampler, o) for o in frame.objects]
    polygons = [footprint_polygon(h) for h in hulls]
    for i, (hull, poly) in enumerate(zip(hulls, polygons)):
        z0, z1 = hull[:, 2].min(), hull[:, 2].max()
        for j in range(i + 1, len(hulls)):
            o0, o1 = hulls[j][:, 2].min(), hulls[j][:, 2].max()
            if z0 < o1 - 1e-6 and o0 < z1 - 1e-6:
                assert separated(poly, polygons[j]), f"frame {frame.index}: objects {i + 1} and {j + 1} intersect"
        for piece in (p for p in env.pieces if p.stuff != "lane_marking"):  # paint, 2 mm: things stand on it
            xy, p0, p1 = piece_rect(piece)
            if z0 < p1 - 1e-3 and p0 < z1 - 1e-3:
                assert separated(poly, xy), f"frame {frame.index}: {frame.objects[i].class_name} in {piece.group}"


def support_height(frame: FrameSpec, sampler: FrameSampler, obj, hulls: dict[int, np.ndarray]) -> list[float]:
    """The heights it may rest on: its class's supports in the layout, or the tops of objects below it."""
    env = frame.environment
    cls = next(c for c in sampler.scenario.classes if c.name == obj.class_name)
    names = [cls.stands_on] if isinstance(cls.stands_on, str) else list(cls.stands_on or [env.default_support])
    if cls.against:
        names = ["floor"]
    heights = [s.z for s in env.supports if s.name in names]
    heights += [float(hulls[o.instance_id][:, 2].max()) for o in frame.objects if o.class_name in names]
    return heights


@pytest.mark.parametrize("spec", [ROOM, TABLETOP, STREET], ids=["room", "tabletop", "street"])
def test_objects_rest_on_supports_and_intersect_nothing(tmp_path, spec):
    sampler = make(tmp_path, spec)
    placed = 0
    for index in range(12):
        frame = sampler.sample(index)
        hulls = {o.instance_id: world_hull(sampler, o) for o in frame.objects}
        for obj in frame.objects:
            bottom = float(hulls[obj.instance_id][:, 2].min())
            assert min(abs(bottom - z) for z in support_height(frame, sampler, obj, hulls)) < 0.01, obj.class_name
            placed += 1
        assert_no_intersections(sampler, frame)
        assert not frame.ground.enabled  # the environment is the ground
    assert placed >= 12


def objects_of(sampler: FrameSampler, name: str, frames: int = 12):
    """(frame, object) for every object of class ``name`` in the first frames."""
    for index in range(frames):
        frame = sampler.sample(index)
        yield from ((frame, o) for o in frame.objects if o.class_name == name)


def test_against_wall_objects_touch_a_wall_and_face_the_room(tmp_path):
    sampler = make(tmp_path, ROOM)
    seen = 0
    for frame, obj in objects_of(sampler, "cabinet"):
        index = frame.index
        hull = world_hull(sampler, obj)
        gaps = []
        for wall in frame.environment.walls:
            start, end, normal = map(np.asarray, (wall.start, wall.end, wall.normal))
            along = (end - start) / np.linalg.norm(end - start)
            u = (hull[:, :2] - start) @ along
            if u.max() < 0 or u.min() > np.linalg.norm(end - start):
                continue
            gaps.append((float(((hull[:, :2] - start) @ normal).min()), normal))
        gap, normal = min(gaps, key=lambda g: abs(g[0]))
        assert 0.0 < gap <= 0.05, f"frame {index}: {gap:.3f} m from the wall"
        front = math.radians(math.degrees(obj.rotation_euler[2]) + FRONT_ANGLE["-y"])
        assert np.dot([math.cos(front), math.sin(front)], normal) > 0.999  # its front faces into the room
        seen += 1
    assert seen >= 6


def test_chairs_stand_around_the_table_facing_it(tmp_path):
    sampler = make(tmp_path, ROOM)
    chairs = 0
    for frame, chair in objects_of(sampler, "chair"):
        tables = [o for o in frame.objects if o.class_name == "table"]
        table = min(tables, key=lambda t: math.dist(t.location[:2], chair.location[:2]))
        t_hull, c_hull = world_hull(sampler, table), world_hull(sampler, chair)
        t_centre, c_centre = (t_hull.min(0) + t_hull.max(0))[:2] / 2, (c_hull.min(0) + c_hull.max(0))[:2] / 2
        reach = np.linalg.norm(t_hull[:, :2] - t_centre, axis=1).max() + np.linalg.norm(
            c_hull[:, :2] - c_centre, axis=1).max()
        gap = float(np.linalg.norm(c_centre - t_centre)) - reach
        if gap > 0.4 + 1e-9:
            continue  # the table had no room left around it: placed elsewhere on the floor
        assert gap >= 0.05 - 1e-9
        front = math.radians(math.degrees(chair.rotation_euler[2]) + FRONT_ANGLE["-y"])
        toward = (t_centre - c_centre) / np.linalg.norm(t_centre - c_centre)
        assert np.dot([math.cos(front), math.sin(front)], toward) > 0.99
        chairs += 1
    assert chairs >= 8


def test_vehicles_stay_in_their_lane_heading_its_way(tmp_path):
    sampler = make(tmp_path, STREET, {"primitive:cone": LONG})
    cars = 0
    for index in range(12):
        frame = sampler.sample(index)
        lanes = [s for s in frame.environment.supports if s.name == "lane"]
        for car in (o for o in frame.objects if o.class_name == "car"):
            hull = world_hull(sampler, car)
            lane = next(s for s in lanes if abs(car.location[1] - s.centre[1]) < s.size[1] / 2)
            assert np.all(np.abs(hull[:, 1] - lane.centre[1]) <= lane.size[1] / 2 + 1e-9)  # wholly inside it
            long_axis = euler_xyz_matrix(*car.rotation_euler) @ np.array([0.0, -1.0, 0.0])  # its front
            heading = math.degrees(math.atan2(long_axis[1], long_axis[0]))
            assert abs((heading - lane.heading_deg + 180) % 360 - 180) < 10.0
            cars += 1
    assert cars >= 12


@pytest.mark.parametrize("spec", [ROOM, TABLETOP, STREET], ids=["room", "tabletop", "street"])
def test_camera_is_never_inside_geometry(tmp_path, spec):
    sampler = make(tmp_path, spec)
    for index in range(15):
        frame = sampler.sample(index)
        eye = np.array(frame.camera.location)
        assert any(np.all(eye >= lo) and np.all(eye <= hi) for lo, hi in frame.environment.free_space)
        for piece in frame.environment.pieces:
            _, z0, z1 = piece_rect(piece)
            local = eye[:2] - np.array(piece.centre[:2])
            c, s = math.cos(math.radians(piece.yaw_deg)), math.sin(math.radians(piece.yaw_deg))
            lx, ly = local[0] * c + local[1] * s, -local[0] * s + local[1] * c
            inside = abs(lx) < piece.size[0] / 2 and abs(ly) < piece.size[1] / 2 and z0 < eye[2] < z1
            assert not inside, f"frame {index}: camera inside {piece.group}"
        for hull in (world_hull(sampler, o) for o in frame.objects):
            assert not (np.all(eye >= hull.min(0)) and np.all(eye <= hull.max(0)))


def test_layout_changes_every_n_frames_and_objects_every_frame(tmp_path):
    sampler = make(tmp_path, {**TABLETOP, "environment": {"type": "tabletop", "every": 3}})
    keys = [sampler.sample(i).environment.key for i in range(7)]
    assert keys[0] == keys[1] == keys[2] != keys[3] == keys[4] == keys[5] != keys[6]
    assert sampler.sample(0).objects[0].location != sampler.sample(1).objects[0].location
    again = make(tmp_path, {**TABLETOP, "environment": {"type": "tabletop", "every": 3}})
    assert again.sample(4).params() == sampler.sample(4).params()  # any frame, any order, any process


def test_params_count_pieces_and_open_scenarios_have_no_environment(tmp_path):
    frame = make(tmp_path, STREET).sample(0)
    record = frame.params()
    assert record["environment"]["pieces"] == len(frame.environment.pieces) > 100
    assert isinstance(frame.environment.pieces, list)  # the frame itself keeps them
    open_frame = make(tmp_path, {**TABLETOP, "environment": {"type": "open"}}).sample(0)
    assert open_frame.environment is None and open_frame.ground.enabled


def test_an_intersection_crosses_the_street_with_lanes_both_ways(tmp_path):
    sampler = make(tmp_path, {**STREET, "environment": {"type": "street", "street": {"intersection": 1.0}}})
    env = sampler.sample(0).environment
    headings = sorted({s.heading_deg % 360 for s in env.supports if s.name == "lane"})
    assert headings == [0.0, 90.0, 180.0, 270.0]
    assert len(env.free_space) == 2 and env.summary["intersection"]
    xc = env.summary["intersection_x"]
    buildings = [p for p in env.pieces if p.stuff == "building"]
    for piece in buildings:  # no building stands in the crossing's roadway
        xy, _, _ = piece_rect(piece)
        assert separated(xy, np.array([[xc - 1, -1], [xc + 1, -1], [xc + 1, 1], [xc - 1, 1]]))


def test_night_street_lamps_light_the_road_at_their_illuminance(tmp_path):
    spec = {**STREET, "environment": {"type": "street", "lamps": {"illuminance_lux": 20}},
            "sun": {"illuminance_lux": 0.1}, "world": {"type": "color", "color": [0.0, 0.0, 0.0]}}
    frame = make(tmp_path, spec).sample(0)
    env = frame.environment
    assert env.lamps_on and env.lamps and env.materials["lamp"].emission > 0
    from simgen.sampling.photometry import lamps_illuminance

    lamp = env.lamps[0]
    below = np.array([lamp.location[0], lamp.location[1], 0.0])
    assert lamps_illuminance(below, [lamp]) == pytest.approx(20.0, rel=1e-6)
    day = make(tmp_path, {**STREET, "sun": {"illuminance_lux": 50000}}).sample(0).environment
    assert not day.lamps_on and day.materials["lamp"].emission == 0


def test_unknown_support_is_one_clear_error(tmp_path):
    bad = {**ROOM, "classes": [{"name": "cup", "asset": "primitive:cube", "stands_on": "tabel"}]}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ScenarioError, match=r"bad.yaml:\d+: classes\[0\]\.stands_on: class 'cup': stands_on 'tabel': "
                                            "expected one of floor"):
        load_scenario(path)
    path.write_text(yaml.safe_dump({**bad, "environment": {"type": "open"},
                                    "classes": [{"name": "cup", "asset": "primitive:cube", "against": "wall"}]}))
    with pytest.raises(ScenarioError, match=r"classes\[0\]\.against: .*needs environment type room or tabletop"):
        load_scenario(path)


@pytest.mark.parametrize("kind", ["room", "tabletop", "street"])
def test_many_layouts_generate_and_hold_together(kind):
    """Hundreds of seeds and the extremes of every range: each layout builds, its supports lie inside its
    free space's footprint, and its boxes have positive sizes."""
    from simgen.config.environment import EnvironmentSpec
    from simgen.sampling import environment

    specs = [EnvironmentSpec(type=kind), EnvironmentSpec.model_validate({
        "type": kind, "room": {"width_m": [2.0, 12.0], "depth_m": [2.0, 12.0], "l_shape": 0.5, "windows": [0, 6],
                               "doors": [0, 3], "lamps": [0, 4]},
        "street": {"lanes": [1, 8], "sidewalk_m": [1.0, 8.0], "length_m": [60, 400], "building_width_m": [3, 40],
                   "crosswalks": [0, 4], "signs": [0, 8], "traffic_lights": [0, 4]}})]
    for spec in specs:
        for seed in range(150):
            layout = environment.generate(spec, np.random.default_rng(seed))
            assert layout is not None and layout.pieces
            assert all(min(p.size) > 0 for p in layout.pieces)
            for support in layout.supports:
                if support.name in ("floor", "table", "sidewalk"):
                    assert any(lo[0] - 0.3 <= support.centre[0] <= hi[0] + 0.3 and lo[1] - 0.3 <= support.centre[1]
                               <= hi[1] + 0.3 for lo, hi in layout.free_space)


def test_street_objects_stay_near_the_middle_even_at_a_crossing(tmp_path):
    spec = {**STREET, "environment": {"type": "street", "street": {"intersection": 1.0}}}
    sampler = make(tmp_path, spec)
    for index in range(10):
        frame = sampler.sample(index)
        for obj in frame.objects:
            assert np.hypot(*obj.location[:2]) < 25.0 + 6.0, (obj.class_name, obj.location)  # area 50 m, plus a lane
        heading = np.array(frame.camera.look_at) - np.array(frame.camera.location)
        assert abs(heading[0]) > abs(heading[1])  # the camera drives along the street, not the crossing one


def test_rooms_do_not_claim_rain_or_snow(tmp_path):
    sampler = make(tmp_path, {**ROOM, "conditions": {"rain": 0.5, "snow": 0.5, "fog": 0.5}})
    frames = [sampler.sample(i) for i in range(8)]
    assert all("rain" not in f.conditions and "snow" not in f.conditions for f in frames)
    assert any("fog" in f.conditions for f in frames) and all(f.rainfall is None and not f.snow for f in frames)
