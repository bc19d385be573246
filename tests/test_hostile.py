"""The hostile-input and fault battery: what a careless or hostile user, a signal or a full disk does.

Each class of failure has its cases: simgen must never delete or write what is not its own,
must stop when asked and leave a valid dataset, must trust only what it can verify on resume,
must refuse bad numbers and unbounded inputs where they are read, and must answer malformed
input with one line and exit status 2. The slow, statistical cases (many kills at random
moments, racing runs) are in ``tests/battery.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import FIXTURES, ROOT, TINY, assert_same_rgb, comparable, render
from simgen.cli import main
from simgen.dataset.ownership import MARKER, FolderLock

QUICKSTART = ROOT / "scenes" / "quickstart.yaml"
FRAMES = 6


def one_line_error(capsys, code: int, result: int, *fragments: str) -> str:
    err = capsys.readouterr().err
    assert result == code, err
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("simgen: error: "), err
    for fragment in fragments:
        assert fragment in err, err
    return err


@contextlib.contextmanager
def tmpfs(mount: Path, options: str):
    """A small filesystem of our own (a full disk, a read-only one), where this machine lets us mount one."""
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hostile-reference") / "out"
    assert render(QUICKSTART, out, "-n", str(FRAMES)) == 0
    return out


def command(out: Path, *extra: str, preset: str = TINY, frames: int = FRAMES) -> list[str]:
    return [sys.executable, "-m", "simgen", "render", str(QUICKSTART), "-o", str(out), "-n", str(frames),
            "--render-config", preset, "--no-progress", *extra]


def journal_lines(out: Path) -> int:
    path = out / "frames.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


# --- never touch what is not yours ----------------------------------------------------------------


def test_overwrite_never_deletes_a_users_files(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    (out / "images").mkdir(parents=True)
    (out / "images" / "holiday.jpg").write_bytes(b"precious")
    for extra in ((), ("--overwrite",)):
        one_line_error(capsys, 2, render(QUICKSTART, out, "-n", "1", *extra), "holiday.jpg",
                       "was not written by simgen")
    assert (out / "images" / "holiday.jpg").read_bytes() == b"precious"
    assert sorted(p.name for p in out.rglob("*")) == ["holiday.jpg", "images"], "nothing was written either"


def test_overwrite_of_a_dataset_holding_a_users_file_deletes_nothing(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert render(QUICKSTART, out, "-n", "1") == 0
    (out / "images" / "holiday.jpg").write_bytes(b"precious")
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    one_line_error(capsys, 2, render(QUICKSTART, out, "-n", "1", "--seed", "5", "--overwrite"),
                   "holiday.jpg", "nothing was deleted")
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


def test_overwrite_replaces_simgens_own_dataset(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert render(QUICKSTART, out, "-n", "2") == 0
    one_line_error(capsys, 2, render(QUICKSTART, out, "-n", "1", "--seed", "5"), "holds a different dataset")
    assert render(QUICKSTART, out, "-n", "1", "--seed", "5", "--overwrite") == 0
    coco = json.loads((out / "annotations.json").read_text())
    assert [image["frame_index"] for image in coco["images"]] == [0]
    assert not (out / "images" / "000001.png").exists(), "the old dataset's frames are gone"
    assert (out / MARKER).is_file()


def test_folder_of_an_older_simgen_without_marker_is_resumed(tmp_path: Path, reference: Path) -> None:
    out = tmp_path / "out"
    assert render(QUICKSTART, out, "-n", "3") == 0
    (out / MARKER).unlink()
    assert render(QUICKSTART, out, "-n", str(FRAMES)) == 0
    assert comparable(out) == comparable(reference)


def test_export_never_wipes_a_folder_it_did_not_write(tmp_path: Path, quickstart: Path, capsys) -> None:
    dest = tmp_path / "yolo"
    (dest / "images").mkdir(parents=True)
    (dest / "data.yaml").write_text("mine: true\n")
    (dest / "images" / "cat.png").write_bytes(b"precious")
    one_line_error(capsys, 2, main(["export", str(quickstart), "--format", "yolo", "-o", str(dest)]),
                   "was not written by simgen")
    assert (dest / "images" / "cat.png").read_bytes() == b"precious"
    assert (dest / "data.yaml").read_text() == "mine: true\n"


def test_export_replaces_its_own_export_but_keeps_a_users_file(tmp_path: Path, quickstart: Path, capsys) -> None:
    dest = tmp_path / "yolo"
    assert main(["export", str(quickstart), "--format", "yolo", "-o", str(dest), "--seed", "1"]) == 0
    assert main(["export", str(quickstart), "--format", "yolo-seg", "-o", str(dest), "--seed", "2"]) == 0
    names = [p.name for p in (dest / "images").rglob("*.png")]
    assert len(names) == len(set(names)) == 4, "re-exporting never leaves an image in two splits"
    (dest / "labels" / "notes.txt").write_text("mine")
    capsys.readouterr()
    one_line_error(capsys, 2, main(["export", str(quickstart), "--format", "yolo", "-o", str(dest)]),
                   "notes.txt", "nothing was deleted")
    assert (dest / "labels" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("path", ["../victim.txt", "/tmp/simgen-victim-absolute.txt", "images/../../victim.txt"])
def test_paths_inside_a_dataset_never_lead_outside_it(tmp_path: Path, quickstart: Path, path: str, capsys) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    dataset = tmp_path / "dataset"
    shutil.copytree(quickstart, dataset)
    coco = json.loads((dataset / "annotations.json").read_text())
    coco["images"][0]["file_name"] = path
    (dataset / "annotations.json").write_text(json.dumps(coco))
    one_line_error(capsys, 2, main(["export", str(dataset), "--format", "yolo", "-o", str(tmp_path / "y")]),
                   "leads outside the dataset folder")
    journal = [json.loads(line) for line in (dataset / "frames.jsonl").read_text().splitlines()]
    journal[0]["image"]["depth_file"] = path
    journal[0].pop("check")  # a line without a checksum is read, as older simgen wrote it
    (dataset / "frames.jsonl").write_text("".join(json.dumps(r) + "\n" for r in journal))
    merged = tmp_path / "merged"
    result = main(["merge", str(dataset), "-o", str(merged)])
    assert result in (0, 2) and "Traceback" not in capsys.readouterr().err
    assert victim.read_text() == "precious"
    assert not (tmp_path / "simgen-victim-absolute.txt").exists() and not Path("/tmp/simgen-victim-absolute.txt").exists()
    if result == 0:  # the damaged frame is left out, never followed
        frames = [image["frame_index"] for image in json.loads((merged / "annotations.json").read_text())["images"]]
        assert 0 not in frames


def test_output_below_a_file_or_on_a_file_is_one_line(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_line_error(capsys, 2, render(QUICKSTART, blocker, "-n", "1"), "is not a folder")
    one_line_error(capsys, 2, render(QUICKSTART, blocker / "out", "-n", "1"), "cannot create the output folder")


def test_read_only_output_is_one_line(tmp_path: Path, capsys) -> None:
    with tmpfs(tmp_path / "ro", "ro,size=1m") as mount:
        one_line_error(capsys, 2, render(QUICKSTART, mount / "out", "-n", "1"), "cannot create the output folder")


# --- stop when asked --------------------------------------------------------------------------------


def _stopped_state(out: Path) -> tuple[str, int]:
    manifest = json.loads((out / "manifest.json").read_text())
    coco = json.loads((out / "annotations.json").read_text())
    assert len(coco["images"]) == journal_lines(out), "annotations.json lists exactly the finished frames"
    return manifest["status"], len(coco["images"])


@pytest.mark.parametrize("number,extra", [(signal.SIGINT, ()), (signal.SIGTERM, ("--workers", "2"))])
def test_signal_stops_the_run_and_leaves_a_valid_resumable_dataset(tmp_path: Path, reference: Path, number: int,
                                                                   extra: tuple[str, ...]) -> None:
    out = tmp_path / "out"
    process = subprocess.Popen(command(out, *extra, frames=FRAMES), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    deadline = time.time() + 90
    while journal_lines(out) < 2 and time.time() < deadline and process.poll() is None:
        time.sleep(0.01)
    os.killpg(process.pid, number)  # as a terminal's Ctrl-C or a container stop reaches the whole group
    asked = time.time()
    _, err = process.communicate(timeout=30)
    assert time.time() - asked < 5, "stopped within seconds"
    assert process.returncode == 128 + number, err.decode()
    assert "Traceback" not in err.decode() and "Exception ignored" not in err.decode()
    status, finished = _stopped_state(out)
    assert status == "interrupted" and 2 <= finished < FRAMES
    assert not any(p.name == "spawn_main" for p in Path("/proc").glob("*/cmdline")
                   if str(out) in p.read_bytes().decode(errors="ignore")), "no worker is left running"
    assert subprocess.run(command(out), capture_output=True, timeout=120).returncode == 0
    assert comparable(out) == comparable(reference)
    assert_same_rgb(out, reference)


def test_ctrl_c_during_a_long_render_stops_within_seconds(tmp_path: Path) -> None:
    slow = tmp_path / "slow.yaml"
    slow.write_text(yaml.safe_dump({**yaml.safe_load(Path(TINY).read_text()), "samples": 1024, "name": "slow"}))
    out = tmp_path / "out"
    process = subprocess.Popen(command(out, preset=str(slow), frames=3), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not (out / "manifest.json").exists() and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(1.0)  # inside the first frame's render, which takes several seconds
    process.send_signal(signal.SIGINT)
    asked = time.time()
    _, err = process.communicate(timeout=30)
    assert time.time() - asked < 4.5, "the watchdog stops a run stuck in a render"
    assert process.returncode == 130
    assert "stopped by SIGINT" in err.decode() and "Traceback" not in err.decode()
    assert _stopped_state(out) == ("interrupted", 0)
    assert not list((out / "images").glob("[0-9]*.png")), "the frame in flight was discarded whole"


def test_full_disk_stops_with_the_real_error_and_a_valid_dataset(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", "size=1600k") as mount:
        out = mount / "out"
        env = {**os.environ, "SIMGEN_RESERVE_BYTES": str(512 << 10)}
        result = subprocess.run(command(out, frames=400), capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 2
        # a frame's file or the reserve simgen keeps for the last annotations.json, whichever the disk refuses first
        assert re.search(r"disk full (while writing|in )", result.stderr)
        assert not re.search(r"(writing|write) \S*annotations\.json", result.stderr)  # the last COCO file was written
        assert "Traceback" not in result.stderr
        status, finished = _stopped_state(out)
        assert status == "disk_full" and finished > 0


# --- resume keeps only what it can verify -----------------------------------------------------------


@pytest.mark.parametrize("damage", ["flip_instance_byte", "truncate_rgb", "flip_journal_bit"])
def test_resume_re_renders_what_is_damaged(tmp_path: Path, reference: Path, damage: str, capsys) -> None:
    out = tmp_path / "out"
    assert render(QUICKSTART, out, "-n", str(FRAMES)) == 0
    if damage == "flip_instance_byte":
        path = out / "instance" / "000002.png"
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    elif damage == "truncate_rgb":
        path = out / "images" / "000003.png"
        path.write_bytes(path.read_bytes()[:100])
    else:
        path = out / "frames.jsonl"
        lines = path.read_bytes().splitlines(keepends=True)
        line = bytearray(lines[1])
        line[line.index(b'"frame_index"') + 3] ^= 0x20  # a flipped bit inside a key
        lines[1] = bytes(line)
        path.write_bytes(b"".join(lines))
    capsys.readouterr()
    assert render(QUICKSTART, out, "-n", str(FRAMES)) == 0
    captured = capsys.readouterr()
    assert "Rendered 1 frame(s)" in captured.out
    if damage == "flip_journal_bit":
        assert "set aside" in captured.err and (out / "frames.quarantine.jsonl").is_file()
    assert comparable(out) == comparable(reference)
    assert_same_rgb(out, reference)


def test_an_asset_edited_between_runs_is_refused(tmp_path: Path, capsys) -> None:
    mesh = tmp_path / "part.obj"
    mesh.write_bytes((FIXTURES / "meshes" / "box_1x2x3.obj").read_bytes())
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: edited\nclasses: [{name: part, asset: part.obj, count: 1, scale: 0.2}]\n"
                        "camera: {orbit: {distance: 2}}\n")
    out = tmp_path / "out"
    assert render(scenario, out, "-n", "2") == 0
    mesh.write_text(mesh.read_text().replace("v ", "v  ", 1) + "\n# edited\n")
    one_line_error(capsys, 2, render(scenario, out, "-n", "4"), "asset files changed", "part.obj")
    assert len(json.loads((out / "annotations.json").read_text())["images"]) == 2, "nothing was lost"


def test_a_second_run_on_the_same_folder_is_refused(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert render(QUICKSTART, out, "-n", "1") == 0
    with FolderLock(out):
        one_line_error(capsys, 2, render(QUICKSTART, out, "-n", "2"), "is being written by another simgen run")
    assert render(QUICKSTART, out, "-n", "2") == 0, "the lock goes with its holder"


def test_a_run_that_finished_no_frame_can_be_corrected(tmp_path: Path, capsys) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(QUICKSTART.read_text().replace("name: quickstart", "name: first"))
    out = tmp_path / "out"
    assert render(scenario, out, "-n", "1", "--max-failures", "0", "--seed", "3") == 0
    (out / "frames.jsonl").write_bytes(b"")  # as if its first frame had failed
    assert render(scenario, out, "-n", "1") == 0, "nothing finished, so nothing is lost by starting over"


# --- refuse bad numbers where they are read ---------------------------------------------------------


def scenario_with(tmp_path: Path, edit) -> Path:
    data = yaml.safe_load(QUICKSTART.read_text())
    edit(data)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _set(*keys, value):
    def edit(data):
        target = data
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    return edit


BAD_NUMBERS = [
    (("classes", 0, "scale"), float("nan"), "classes[0].scale"),
    (("classes", 0, "scale"), float("inf"), "classes[0].scale"),
    (("classes", 0, "scale"), 1e308, "classes[0].scale"),
    (("camera", "fov_deg"), 180, "camera.fov_deg"),
    (("camera", "fov_deg"), 1000, "camera.fov_deg"),
    (("camera", "fov_deg"), 0, "camera.fov_deg"),
    (("camera", "focal_length_mm"), float("nan"), "camera.focal_length_mm"),
    (("camera", "orbit", "distance"), [1, 1e308], "camera.orbit.distance"),
    (("placement", "min_gap"), float("inf"), "placement.min_gap"),
    (("placement", "area"), [1e308, 1], "placement.area"),
    (("sun", "strength"), float("nan"), "sun.strength"),
    (("world", "strength"), 1e308, "world.strength"),
    (("ground", "size"), float("inf"), "ground.size"),
    (("camera", "orbit", "look_at"), [0, float("nan"), 0], "camera.orbit.look_at"),
    (("classes", 0, "count"), 10**9, "classes[0].count"),
    (("frames",), 10**12, "frames"),
    (("seed",), -1, "seed"),
]


@pytest.mark.parametrize("keys,value,field", BAD_NUMBERS, ids=[f"{f}={v}" for _, v, f in BAD_NUMBERS])
def test_bad_numbers_are_refused_with_file_line_field(tmp_path: Path, keys, value, field, capsys) -> None:
    def edit(data):
        target = data
        for key in keys[:-1]:
            target = target.setdefault(key, {}) if isinstance(key, str) else target[key]
        target[keys[-1]] = value
    path = scenario_with(tmp_path, edit)
    one_line_error(capsys, 2, main(["check", str(path)]), f"{path}:", field)


@pytest.mark.parametrize("resolution,samples", [([0, 0], 4), ([-5, -5], 4), ([100000, 100000], 4), ([96, 72], 0),
                                                ([96, 72], 10**12)])
def test_bad_presets_are_refused(tmp_path: Path, resolution, samples, capsys) -> None:
    preset = tmp_path / "p.yaml"
    preset.write_text(yaml.safe_dump({**yaml.safe_load(Path(TINY).read_text()), "resolution": resolution,
                                      "samples": samples}))
    one_line_error(capsys, 2, main(["check", str(QUICKSTART), "--render-config", str(preset)]), f"{preset}:")


@pytest.mark.parametrize("change,field", [
    ({"texture_limit": 300}, "texture_limit"), ({"bounces": {"diffuse": -1}}, "bounces.diffuse"),
    ({"bounces": {"difuse": 2}}, "difuse"), ({"denoise_prefilter": "best"}, "denoise_prefilter"),
    ({"clamp_indirect": -1}, "clamp_indirect"), ({"adaptive_min_samples": 10**9}, "adaptive_min_samples")])
def test_bad_sampling_settings_are_refused(tmp_path: Path, change, field, capsys) -> None:
    preset = tmp_path / "p.yaml"
    preset.write_text(yaml.safe_dump({**yaml.safe_load(Path(TINY).read_text()), **change}))
    one_line_error(capsys, 2, main(["check", str(QUICKSTART), "--render-config", str(preset)]), f"{preset}:", field)


def test_duplicate_keys_are_refused(tmp_path: Path, capsys) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(QUICKSTART.read_text() + "\nseed: 5\n")
    one_line_error(capsys, 2, main(["check", str(path)]), "key 'seed' is written twice")


@pytest.mark.parametrize("flags,fragment", [
    (("--gpus", "-1"), "--gpus"), (("--gpus", "0", "--device", "cpu"), "contradict"),
    (("--gpus", "0,0"), "once"), (("--max-failures", "-1"), "--max-failures"),
    (("--recycle-after", "-1"), "--recycle-after"), (("--workers", "0"), "--workers"),
    (("-n", "0"), "--frames"), (("-n", str(10**12)), "--frames"), (("--seed", "-3"), "--seed")])
def test_bad_flags_are_refused(tmp_path: Path, flags, fragment, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        code = render(QUICKSTART, tmp_path / "out", *flags)
        raise SystemExit(code)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and fragment in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_more_workers_than_cores_are_capped(tmp_path: Path, capsys) -> None:
    assert render(QUICKSTART, tmp_path / "out", "-n", "1", "--workers", "1000") == 0
    assert f"using {os.cpu_count()}" in capsys.readouterr().err


# --- unbounded inputs -------------------------------------------------------------------------------


def test_unbounded_inputs_fail_fast(tmp_path: Path, capsys) -> None:
    cases = {
        "bomb.yaml": "a: &a [1,1,1,1,1,1,1,1,1]\n" + "".join(
            f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi")),
        "recursive.yaml": "a: &a [*a]\n",
        "huge.yaml": "name: x\n" + "# padding\n" * 600_000,
        "classes.yaml": "name: x\nclasses:\n" + "".join(f"  - {{name: c{i}, asset: 'primitive:cube'}}\n"
                                                         for i in range(20_000)),
        "glob.yaml": "name: x\nclasses: [{name: a, asset: '/**/*.obj'}]\n",
        "deep.yaml": "name: x\nclasses: " + "[" * 5000 + "]" * 5000 + "\n",
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        start = time.perf_counter()
        one_line_error(capsys, 2, main(["check", str(path)]), str(path))
        assert time.perf_counter() - start < 5, name


# --- malformed input: one line, never a traceback ---------------------------------------------------


def test_a_binary_scenario_is_one_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    one_line_error(capsys, 2, main(["check", str(path)]), "not a UTF-8 text file")


def test_closed_stdout_is_no_traceback() -> None:
    process = subprocess.Popen([sys.executable, "-m", "simgen", "schema"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.read(10)
    process.stdout.close()
    err = process.stderr.read().decode()
    process.wait(timeout=30)
    assert "Traceback" not in err and "BrokenPipeError" not in err


MALFORMED_COCO = ["[]", "{}", '{"images": null, "annotations": [], "categories": []}',
                  '{"images": [null], "annotations": [], "categories": []}',
                  '{"images": [{"id": [1], "file_name": "a.png", "width": 1, "height": 1}], "annotations": [], '
                  '"categories": []}',
                  '{"images": [{"id": 1, "file_name": "images/000000.png", "width": 96, "height": 72}], '
                  '"annotations": [{"id": 1, "image_id": 1, "category_id": 9, "bbox": [0, 0, 1, 1]}], '
                  '"categories": [{"id": 1, "name": "a"}]}',
                  "not json at all"]


@pytest.mark.parametrize("text", MALFORMED_COCO, ids=range(len(MALFORMED_COCO)))
def test_every_tool_answers_a_malformed_annotations_file_with_one_line(tmp_path: Path, text: str, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "annotations.json").write_text(text)
    (tmp_path / "p.json").write_text("[]")
    commands = [["report", str(out)], ["sheet", str(out), "-o", str(tmp_path / "s.png")],
                ["export", str(out), "--format", "yolo", "-o", str(tmp_path / "y")],
                ["eval", str(out), str(tmp_path / "p.json")], ["diff", str(out), str(out)]]
    for args in commands:
        result = main(args)
        err = capsys.readouterr().err
        assert result == 2 and "Traceback" not in err and err.startswith("simgen: error: "), (args, err)
    result = main(["validate", str(out)])
    captured = capsys.readouterr()
    assert result == 1 and "Traceback" not in captured.err + captured.out, "validate reports it as an error"


BAD_PREDICTIONS = [[{"image_id": [1], "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}],
                   [{"image_id": {"a": 1}, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}],
                   [{"image_id": 1, "category_id": 1, "score": 1, "segmentation": {"size": [-1, 4], "counts": "0"}}],
                   [{"image_id": 1, "category_id": 1, "score": 1, "segmentation": {"size": [72, 96], "counts": "1X"}}],
                   [{"image_id": 1, "category_id": 1, "score": 1, "segmentation": {"size": [4, 4], "counts": "04"}}],
                   {"not": "a list"}]


@pytest.mark.parametrize("predictions", BAD_PREDICTIONS, ids=range(len(BAD_PREDICTIONS)))
def test_eval_refuses_malformed_predictions(tmp_path: Path, quickstart: Path, predictions, capsys) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(predictions))
    iou = "segm" if isinstance(predictions, list) and "segmentation" in predictions[0] else "bbox"
    one_line_error(capsys, 2, main(["eval", str(quickstart), str(path), "--iou-type", iou]))


# --- check says OK only when the render will not fail on its inputs --------------------------------


@pytest.mark.parametrize("case", ["corrupt_obj", "missing_hdri", "text_hdri", "hdri_typo", "override"])
def test_check_catches_what_would_fail_the_render(tmp_path: Path, case: str, capsys) -> None:
    scenario = tmp_path / "s.yaml"
    text = "name: c\nclasses: [{name: a, asset: 'primitive:cube'}]\n"
    if case == "corrupt_obj":
        (tmp_path / "x.obj").write_bytes(b"\x00\x01 this is no mesh \xff\n")
        text = "name: c\nclasses: [{name: a, asset: x.obj}]\n"
        expected = ("s.yaml:2: classes[0].asset", "contains no mesh")
    elif case == "missing_hdri":
        text += "world: {hdri: sky.exr}\n"
        expected = ("s.yaml:3: world.hdri", "matches no image")
    elif case == "text_hdri":
        (tmp_path / "sky.exr").write_text("not an image")
        text += "world: {hdri: sky.exr}\n"
        expected = ("s.yaml:3: world.hdri", "not an OpenEXR file")
    elif case == "hdri_typo":
        text += "world: {hdri: sunet}\n"
        expected = ("s.yaml:3: world.hdri", "did you mean 'sunset'")
    else:
        text += "conditions:\n  mine: {fraction: 0.5, override: {camera: {fov_deg: 500}}}\n"
        expected = ("s.yaml:4: conditions.mine", "camera.fov_deg")
    scenario.write_text(text)
    one_line_error(capsys, 2, main(["check", str(scenario)]), *expected)
    one_line_error(capsys, 2, render(scenario, tmp_path / "out", "-n", "1"), *expected)
    assert not (tmp_path / "out").exists(), "a refused run leaves nothing behind"


def test_merge_and_in_place_export_refuse_a_folder_that_is_not_simgens(tmp_path: Path, quickstart: Path,
                                                                       capsys) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("precious")
    one_line_error(capsys, 2, main(["merge", str(quickstart), "-o", str(target)]), "was not written by simgen")
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]
    foreign = tmp_path / "their_coco"  # a COCO dataset from elsewhere, with its own split files
    foreign.mkdir()
    (foreign / "annotations.json").write_text((quickstart / "annotations.json").read_text())
    (foreign / "annotations_train.json").write_text("theirs")
    one_line_error(capsys, 2, main(["export", str(foreign), "--format", "coco-split", "-o", str(foreign)]),
                   "was not written by simgen")
    assert (foreign / "annotations_train.json").read_text() == "theirs"


@pytest.mark.parametrize("fmt, inner", [("coco", "images/train"), ("cityscapes", "gtFine/train/simgen"),
                                        ("bop", "train/000000/rgb"), ("kitti", "training/label_2"),
                                        ("voc", "VOCdevkit/VOC2012/Annotations")])
def test_every_export_format_keeps_a_users_files(tmp_path: Path, quickstart: Path, fmt: str, inner: str,
                                                capsys) -> None:
    """Each format writes only into a folder that is new, empty or its own export, and a re-export deletes
    only its own files: a user's file in the folder, or inside one of the export's own folders, stops it."""
    maps = ["--class-map=cube=car", "--class-map=sphere=person", "--class-map=monkey=rider"] if fmt == "cityscapes" \
        else []
    args = ["export", str(quickstart), "--format", fmt, "--split", "1,0,0", *maps]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    one_line_error(capsys, 2, main([*args, "-o", str(mine)]), "was not written by simgen")
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    dest = tmp_path / "export"
    assert main([*args, "-o", str(dest)]) == 0
    assert (dest / inner).is_dir()
    (dest / inner / "notes.txt").write_text("precious")
    capsys.readouterr()
    one_line_error(capsys, 2, main([*args, "-o", str(dest)]), "notes.txt", "nothing was deleted")
    assert (dest / inner / "notes.txt").read_text() == "precious"


def test_a_frame_index_that_is_not_a_whole_number_is_refused(tmp_path: Path, quickstart: Path, capsys) -> None:
    dataset = tmp_path / "dataset"
    shutil.copytree(quickstart, dataset)
    coco = json.loads((dataset / "annotations.json").read_text())
    coco["images"][0]["frame_index"] = "../../x"
    (dataset / "annotations.json").write_text(json.dumps(coco))
    one_line_error(capsys, 2, main(["export", str(dataset), "--format", "cityscapes", "-o", str(tmp_path / "cs"),
                                    "--class-map=cube=car", "--class-map=sphere=person", "--class-map=monkey=rider"]),
                   "frame_index: expected a whole number")


@pytest.mark.parametrize("fmt", ["bop", "kitti"])
def test_an_image_without_its_camera_is_one_clear_error(tmp_path: Path, quickstart: Path, fmt: str, capsys) -> None:
    dataset = tmp_path / "dataset"
    shutil.copytree(quickstart, dataset)
    coco = json.loads((dataset / "annotations.json").read_text())
    for image in coco["images"]:
        del image["camera"]["K"]
    (dataset / "annotations.json").write_text(json.dumps(coco))
    one_line_error(capsys, 2, main(["export", str(dataset), "--format", fmt, "-o", str(tmp_path / fmt)]),
                   "camera: expected K (3x3) and world_to_camera (4x4)")
