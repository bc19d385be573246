"""Bad input: one clear message naming file, line and field; exit status 2; no traceback; nothing written."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT, TINY, render
from simgen.cli import main

GOOD = """\
name: t
frames: 1
classes:
  - name: cube
    asset: primitive:cube
    count: [1, 2]
camera:
  orbit: {distance: [2, 3]}
"""


def run_cli(tmp_path: Path, text: str, capsys, *extra: str) -> tuple[int, str]:
    scenario = tmp_path / "scene.yaml"
    scenario.write_text(textwrap.dedent(text))
    out = tmp_path / "out"
    code = main(["render", str(scenario), "-o", str(out), "--render-config", TINY, "--no-progress", *extra])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.mark.parametrize("text, line, expected", [
    (GOOD.replace("count:", "cuont:"), 6, "classes[0].cuont: unknown key 'cuont'; did you mean 'count'?"),
    (GOOD.replace("[1, 2]", "[3, 1]"), 6, "classes[0].count: inverted range [3, 1]"),
    (GOOD.replace("[1, 2]", "-1"), 6, "classes[0].count: count must lie in [0, 10000], got -1"),
    (GOOD.replace("[1, 2]", "{gaussian: [1, 2]}"), 6, "exactly one of uniform, loguniform, normal, choice"),
    (GOOD.replace("[1, 2]", "lots"), 6,
     "expected a number, [low, high] or {uniform|loguniform|normal|choice: ...}, got 'lots'"),
    (GOOD.replace("frames: 1", "frames: many"), 2, "frames: Input should be a valid integer"),
    (GOOD.replace("{distance: [2, 3]}", "{distance: [2, 3], elevaton_deg: 3}"), 8,
     "camera.orbit.elevaton_deg: unknown key 'elevaton_deg'; did you mean 'elevation_deg'?"),
    (GOOD.replace("name: t\n", ""), 1, "name: required field is missing"),
])
def test_scenario_errors_name_line_and_field(tmp_path: Path, capsys, text: str, line: int, expected: str) -> None:
    code, err = run_cli(tmp_path, text, capsys)
    assert code == 2
    assert f"scene.yaml:{line}:" in err
    assert expected in err
    assert not (tmp_path / "out").exists(), "nothing is written for a bad scenario"


def test_unreadable_yaml_gives_line_and_column(tmp_path: Path, capsys) -> None:
    code, err = run_cli(tmp_path, GOOD.replace("count: [1, 2]", "count: [1, 2"), capsys)
    assert code == 2 and "not valid YAML" in err and "scene.yaml:7:" in err


@pytest.mark.parametrize("asset, expected", [
    ("meshes/*.obj", "matches no file"),
    ("ycb:025_mugg", "did you mean ycb:025_mug"),
    ("primitive:cub", "did you mean 'primitive:cube'"),
])
def test_asset_errors(tmp_path: Path, capsys, asset: str, expected: str) -> None:
    code, err = run_cli(tmp_path, GOOD.replace("primitive:cube", asset), capsys)
    line = GOOD.splitlines().index(next(row for row in GOOD.splitlines() if "primitive:cube" in row)) + 1
    assert code == 2 and expected in err
    assert f"scene.yaml:{line}: classes[0].asset: " in err, "the message names file, line and field"
    assert not (tmp_path / "out").exists()


def test_impossible_placement_with_on_failure_error(tmp_path: Path, capsys) -> None:
    text = GOOD.replace("count: [1, 2]", "count: 30\n    scale: 0.5") + "placement: {area: [1, 1], on_failure: error}\n"
    code, err = run_cli(tmp_path, text, capsys)
    assert code == 2 and "could not place" in err and "on_failure: drop" in err


def test_other_dataset_in_output_is_refused(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert render(ROOT / "scenes" / "quickstart.yaml", out, "-n", "1") == 0
    before = (out / "annotations.json").read_text()
    assert render(ROOT / "scenes" / "quickstart.yaml", out, "-n", "1", "--seed", "5") == 2
    assert "holds a different dataset" in capsys.readouterr().err
    assert (out / "annotations.json").read_text() == before
    assert render(ROOT / "scenes" / "quickstart.yaml", out, "-n", "1", "--seed", "5", "--overwrite") == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 5


def test_non_dataset_folder_is_refused(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.txt").write_text("precious")
    assert render(ROOT / "scenes" / "quickstart.yaml", out, "-n", "1") == 2
    assert "was not written by simgen" in capsys.readouterr().err
    assert (out / "thesis.txt").read_text() == "precious"


def test_gpu_demanded_without_gpu(tmp_path: Path, capsys) -> None:
    from simgen.blender.device import GPU_BACKENDS, _gpus_for
    import bpy

    prefs = bpy.context.preferences.addons["cycles"].preferences
    if any(_gpus_for(prefs, backend) for backend in GPU_BACKENDS):
        pytest.skip("this machine has a GPU")
    code = render(ROOT / "scenes" / "quickstart.yaml", tmp_path / "out", "-n", "1", "--device", "gpu")
    err = capsys.readouterr().err
    assert code == 2 and "finds no GPU" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_unknown_preset(tmp_path: Path, capsys) -> None:
    code = main(["render", str(ROOT / "scenes" / "quickstart.yaml"), "-o", str(tmp_path / "o"),
                 "--render-config", "ultra"])
    assert code == 2 and "unknown render preset 'ultra'" in capsys.readouterr().err


def test_missing_scenario_file(tmp_path: Path, capsys) -> None:
    assert main(["check", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_check_and_schema_commands(capsys) -> None:
    assert main(["check", str(ROOT / "scenes" / "ycb_tabletop.yaml")]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "classes" in schema["properties"]
    assert FIXTURES.is_dir()
