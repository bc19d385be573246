"""Frames are sampled without Blender from asset geometry cached by content hash, exactly as a render
samples them; anything that changes an asset's geometry changes its key."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from conftest import FIXTURES, TINY, render
from simgen.assets import geometry_cache
from simgen.assets.resolve import resolve_asset

MESHES = FIXTURES / "meshes"

SAMPLE_WITHOUT_BLENDER = """
import json, sys
sys.modules["bpy"] = None  # any import of Blender fails
import simgen
generator = simgen.Generator(sys.argv[1], render_config=sys.argv[2])
try:
    print(json.dumps([generator.sample(i).params() for i in range(int(sys.argv[3]))]))
except simgen.SimgenError as exc:
    print(exc, file=sys.stderr)
    sys.exit(2)
"""


def sample_without_blender(scenario: Path, frames: int, cache: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SIMGEN_GEOMETRY_CACHE": cache}
    return subprocess.run([sys.executable, "-c", SAMPLE_WITHOUT_BLENDER, str(scenario), TINY, str(frames)],
                          capture_output=True, text=True, env=env, timeout=120)


def test_frames_sampled_from_the_cache_equal_the_rendered_ones(tmp_path: Path) -> None:
    mesh = tmp_path / "box.obj"
    shutil.copy(MESHES / "box_1x2x3.obj", mesh)
    scenario = tmp_path / "scene.yaml"
    scenario.write_text(f"""
name: cached
seed: 4
classes:
  - {{name: box, asset: box.obj, count: [1, 3], scale: 0.1, rotation: free}}
  - {{name: arm, asset: {MESHES / 'arm_on_plate.urdf'}, count: 1, scale: 0.1}}
distractors: {{count: 3, shapes: {{choice: ['primitive:cube', 'primitive:cylinder']}}}}
camera: {{orbit: {{distance: [1.5, 2.5]}}}}
weather: {{rain: {{mode: streaks, streaks: 20}}}}
""")
    out, cache = tmp_path / "out", str(tmp_path / "cache")
    cold = sample_without_blender(scenario, 1, cache)
    assert cold.returncode == 2 and "not cached" in cold.stderr and "simgen check" in cold.stderr, cold.stderr

    os.environ["SIMGEN_GEOMETRY_CACHE"], saved = cache, os.environ["SIMGEN_GEOMETRY_CACHE"]
    try:
        assert render(scenario, out, "-n", "3") == 0
    finally:
        os.environ["SIMGEN_GEOMETRY_CACHE"] = saved
    warm = sample_without_blender(scenario, 3, cache)
    assert warm.returncode == 0, warm.stderr
    rendered = sorted(json.loads((out / "annotations.json").read_text())["images"], key=lambda i: i["frame_index"])
    assert json.loads(warm.stdout) == [image["params"] for image in rendered], "the same frames, value for value"

    mesh.write_text(mesh.read_text() + "\nv 0 0 9\n")  # an edited file is a new key: not in the cache
    stale = sample_without_blender(scenario, 1, cache)
    assert stale.returncode == 2 and "box.obj" in stale.stderr


def test_the_key_follows_everything_that_shapes_the_geometry(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SIMGEN_GEOMETRY_CACHE", str(tmp_path / "cache"))
    for name in ("arm_on_plate.urdf", "box_1x2x3.obj"):
        shutil.copy(MESHES / name, tmp_path / name)
    (urdf,) = resolve_asset(str(tmp_path / "arm_on_plate.urdf"), tmp_path)
    (obj,) = resolve_asset(str(tmp_path / "box_1x2x3.obj"), tmp_path)
    keys = {geometry_cache.geometry_key(urdf), geometry_cache.geometry_key(obj)}
    for changed in (replace(obj, scale=0.5), replace(obj, up_axis="Y"), replace(obj, size_m=2.0),
                    replace(obj, member="x")):
        keys.add(geometry_cache.geometry_key(changed))
    assert len(keys) == 6 and None not in keys
    assert geometry_cache.geometry_key(replace(obj, key="another name")) == geometry_cache.geometry_key(obj), \
        "the name does not matter, the content does"
    before = geometry_cache.geometry_key(urdf)
    with open(tmp_path / "box_1x2x3.obj", "a") as handle:
        handle.write("# a comment changes the bytes\n")
    assert geometry_cache.geometry_key(urdf) != before, "a URDF's key follows the meshes it points to"

    vertices = np.random.default_rng(0).normal(size=(50, 3))
    geometry_cache.store(obj, vertices)
    loaded = geometry_cache.load(obj)
    assert loaded is not None and loaded.tobytes() == vertices.tobytes(), "read back bit for bit"
    assert geometry_cache.bounds_of(loaded).minimum == tuple(vertices.min(0).tolist())
    (tmp_path / "box_1x2x3.obj").unlink()
    assert geometry_cache.geometry_key(obj) is None and geometry_cache.load(obj) is None


def test_a_damaged_cache_file_is_a_miss_not_an_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SIMGEN_GEOMETRY_CACHE", str(tmp_path / "cache"))
    (cube,) = resolve_asset("primitive:cube", tmp_path)
    geometry_cache.store(cube, np.ones((8, 3)))
    key = geometry_cache.geometry_key(cube)
    (path,) = (tmp_path / "cache").rglob(f"{key}.npy")
    path.write_bytes(b"not an array")
    assert geometry_cache.load(cube) is None
    geometry = geometry_cache.Geometry([cube], importer=lambda ref: np.zeros((4, 3)))
    assert geometry.bounds["primitive:cube"].maximum == (0.0, 0.0, 0.0), "imported again, and stored"
    assert geometry_cache.load(cube) is not None
