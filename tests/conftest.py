"""Shared fixtures: one small real render of the quickstart scenario, reused by many tests."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from simgen.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY = str(FIXTURES / "tiny.yaml")

# Asset geometry is cached per test session, never in the user's own cache (subprocesses inherit this).
os.environ["SIMGEN_GEOMETRY_CACHE"] = tempfile.mkdtemp(prefix="simgen-test-geometry-")
atexit.register(shutil.rmtree, os.environ["SIMGEN_GEOMETRY_CACHE"], True)


def comparable(out: Path) -> dict:
    """annotations.json minus its creation date, plus every label image byte for byte, for frame-by-frame
    equality of two datasets."""
    import cv2

    coco = json.loads((out / "annotations.json").read_text())
    coco["info"].pop("date_created")
    pixels = {image["file_name"]: [cv2.imread(str(out / image[key]), cv2.IMREAD_UNCHANGED).tobytes()
                                   for key in ("instance_file", "semantic_file", "depth_file")]
              for image in coco["images"]}
    return {"coco": coco, "pixels": pixels}


def assert_same_rgb(a: Path, b: Path) -> None:
    """Every image of dataset ``a`` equals ``b``'s: a frame's pixels depend on that frame alone (no state
    carried between frames), up to the rare one-level rounding of multi-threaded float sums."""
    import cv2
    import numpy as np

    names = sorted(p.name for p in (b / "images").glob("[0-9]*.png"))
    assert names == sorted(p.name for p in (a / "images").glob("[0-9]*.png"))
    for name in names:
        diff = np.abs(cv2.imread(str(a / "images" / name)).astype(int) - cv2.imread(str(b / "images" / name)))
        assert diff.max() <= 1 and (diff > 0).mean() < 0.001, name


def tiny_backend(path: Path, log: Path):
    """A CPU backend holding the scenario's assets at the tiny preset, its asset bounds, a sampler of its
    frames and the preset (Blender's output goes to ``log``)."""
    from simgen.blender.backend import BlenderBackend
    from simgen.run.batch import RenderOptions, prepare
    from simgen.run.redirect import redirect_output
    from simgen.sampling.sampler import FrameSampler

    scenario, preset, assets = prepare(path, RenderOptions(render_config=TINY))
    with redirect_output(log):
        backend = BlenderBackend(preset, "cpu")
        bounds = backend.load_assets(assets.all())
    return backend, bounds, FrameSampler(scenario, assets, bounds, preset.resolution, backend.asset_vertices), preset


def render(scenario: Path | str, out: Path, *extra: str) -> int:
    return main(["render", str(scenario), "-o", str(out), "--render-config", TINY, "--no-progress", *extra])


@pytest.fixture(scope="session")
def quickstart(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("quickstart")
    assert render(ROOT / "scenes" / "quickstart.yaml", out, "-n", "4") == 0
    return out


@pytest.fixture(scope="session")
def quickstart_coco(quickstart: Path) -> dict:
    return json.loads((quickstart / "annotations.json").read_text())
