"""Plug-ins extend simgen without touching simgen/: a test package adds a placement mode, a camera pose
sampler, an export format and a condition through entry points, and the command line uses them like
built-ins."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, TINY

PLUGINS = Path(__file__).resolve().parent / "plugins"


def simgen(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PLUGINS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "simgen", *args], capture_output=True, text=True, env=env,
                          timeout=180)


def test_a_plugin_placement_exporter_and_condition(tmp_path: Path) -> None:
    scenario = tmp_path / "line.yaml"
    scenario.write_text((ROOT / "scenes" / "quickstart.yaml").read_text().replace(
        "  min_gap: 0.05", "  min_gap: 0.05\n  mode: line").replace("  orbit:\n", "  pose: {sampler: crane, height: 2.5, back_m: 0.5}\n  unused:\n")
        .replace("  unused:\n    distance: [2.2, 3.0]\n    elevation_deg: [25, 50]\n    azimuth_deg: [0, 360]\n    look_at: objects\n", "")
        + "\nconditions: {dim: 0.5}\n")
    out = tmp_path / "out"
    result = simgen("render", str(scenario), "-o", str(out), "-n", "2", "--render-config", TINY, "--no-progress")
    assert result.returncode == 0, result.stderr
    coco = json.loads((out / "annotations.json").read_text())
    for image in coco["images"]:
        objects = image["params"]["objects"]
        xs = sorted(o["location"][0] for o in objects)
        assert len(objects) >= 2 and len(set(round(x, 6) for x in xs)) == len(xs)
        assert all(abs(o["location"][1]) < 0.3 for o in objects), "a row along x, through the centre"
        camera = image["params"]["camera"]
        offset = [a - b for a, b in zip(camera["location"], camera["look_at"])]
        assert offset == pytest.approx([0.0, -0.5, 2.5], abs=1e-9), "the plug-in's crane pose, with its options"
    dim = [image for image in coco["images"] if "dim" in image["conditions"]]
    assert len(dim) == 1 and dim[0]["params"]["world"]["strength"] == 0.05

    dest = tmp_path / "csv"
    result = simgen("export", str(out), "--format", "csv", "-o", str(dest))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((dest / "boxes.csv").open()))
    assert len(rows) == len(coco["annotations"]) and (dest / ".simgen").is_file()
    assert "csv" in simgen("export", "--help").stdout


def test_unknown_mode_lists_the_plugins_too(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("name: x\nclasses: [{name: a, asset: 'primitive:cube'}]\nplacement: {mode: lin}\n")
    result = simgen("check", str(scenario))
    assert result.returncode == 2
    assert "unknown placement mode 'lin': did you mean 'line'?" in result.stderr
    assert "scatter, grid, pile, line" in result.stderr


def test_a_plugin_pose_sampler_checks_its_options(tmp_path: Path) -> None:
    scenario = tmp_path / "crane.yaml"
    scenario.write_text("name: x\nclasses: [{name: a, asset: 'primitive:cube'}]\n"
                        "camera:\n  pose: {sampler: crane, height: -1}\n")
    result = simgen("check", str(scenario))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "crane.yaml:4: camera.pose: crane: height: Input should be greater than 0" in result.stderr, result.stderr
    scenario.write_text("name: x\nclasses: [{name: a, asset: 'primitive:cube'}]\ncamera: {pose: {sampler: cran}}\n")
    result = simgen("check", str(scenario))
    assert result.returncode == 2
    assert "unknown camera pose sampler 'cran': did you mean 'crane'?" in result.stderr
    assert "orbit, fixed, band, lane, inside, crane" in result.stderr
