"""The Python API: scenarios from dicts and bundled names, render(), and Generator frames that equal a dataset's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

import simgen
from conftest import ROOT, TINY
from simgen.cli import main
from simgen.errors import ScenarioError

QUICKSTART = ROOT / "scenes" / "quickstart.yaml"


def test_scenario_from_a_dict_and_its_errors() -> None:
    data = yaml.safe_load(QUICKSTART.read_text())
    scenario = simgen.load_scenario(data)
    assert scenario.name == "quickstart" and [c.name for c in scenario.classes] == ["cube", "sphere", "monkey"]
    data["camera"]["fov_deg"] = 200
    with pytest.raises(ScenarioError, match=r"<dict>:1: camera.fov_deg: field of view"):
        simgen.load_scenario(data)


def test_bundled_examples_work_from_any_folder(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert simgen.load_scenario("quickstart").name == "quickstart"
    assert main(["check", "quickstart", "--sample", "1"]) == 0
    assert main(["check", "no_such_example"]) == 2
    assert "bundled examples: " in capsys.readouterr().err


def test_init_copies_examples_and_never_writes_over_a_file(tmp_path: Path, capsys) -> None:
    assert main(["init", str(tmp_path)]) == 0
    copied = sorted(p.name for p in (tmp_path / "scenes").glob("*.yaml"))
    assert copied == sorted(p.name for p in (ROOT / "scenes").glob("*.yaml"))
    assert (tmp_path / "render_configs" / "draft.yaml").read_text() == (ROOT / "render_configs" / "draft.yaml").read_text()
    (tmp_path / "scenes" / "quickstart.yaml").write_text("# mine\n")
    assert main(["init", str(tmp_path)]) == 0
    assert (tmp_path / "scenes" / "quickstart.yaml").read_text() == "# mine\n"
    assert "left as they were" in capsys.readouterr().out


def test_generator_frames_equal_the_rendered_dataset(tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = simgen.render(QUICKSTART, out, frames=3, render_config=TINY)
    assert summary.images == 3
    coco = json.loads((out / "annotations.json").read_text())
    with simgen.Generator(QUICKSTART, render_config=TINY) as generator:
        spec = generator.sample(2)
        frame = generator.render(2)
    image = next(i for i in coco["images"] if i["frame_index"] == 2)
    assert frame.image == image and spec.index == 2
    assert [{k: v for k, v in a.items() if k != "id"} for a in coco["annotations"] if a["image_id"] == image["id"]] \
        == sorted(frame.annotations, key=lambda a: a["mask_id"])
    assert np.array_equal(frame.instance, cv2.imread(str(out / image["instance_file"]), cv2.IMREAD_UNCHANGED))
    assert np.array_equal(frame.semantic, cv2.imread(str(out / image["semantic_file"]), cv2.IMREAD_UNCHANGED))
    written_rgb = cv2.cvtColor(cv2.imread(str(out / image["file_name"])), cv2.COLOR_BGR2RGB)
    assert np.abs(frame.rgb.astype(int) - written_rgb).max() <= 1
    depth_mm = cv2.imread(str(out / image["depth_file"]), cv2.IMREAD_UNCHANGED)
    surface = depth_mm > 0
    assert frame.depth.dtype == np.float32 and np.isfinite(frame.depth[frame.instance > 0]).all()
    assert np.abs(frame.depth[surface] * 1000 - depth_mm[surface]).max() <= 0.5, "the same depth as depth/*.png"


def test_the_readme_api_example_runs(tmp_path: Path, monkeypatch) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code.replace('render_config="preview"', f'render_config="{TINY}"'), "README", "exec"), {})
    assert len(json.loads((tmp_path / "out" / "api" / "annotations.json").read_text())["images"]) == 2
