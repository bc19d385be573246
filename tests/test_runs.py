"""Long-run behaviour: resume after SIGKILL, workers, shards + merge, failures, disk full.

Every run here is a real render; the reference for 'same dataset' is an uninterrupted run.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, TINY, assert_same_rgb, comparable, render
from simgen.cli import main

QUICKSTART = ROOT / "scenes" / "quickstart.yaml"
FRAMES = "8"


@pytest.fixture(scope="module")
def reference_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "out"
    assert render(QUICKSTART, out, "-n", FRAMES) == 0
    return out


@pytest.fixture(scope="module")
def reference(reference_out: Path) -> dict:
    return comparable(reference_out)


def cli_command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "simgen", "render", str(QUICKSTART), "-o", str(out), "-n", FRAMES,
            "--render-config", TINY, "--no-progress", *extra]


def journal_lines(out: Path) -> int:
    path = out / "frames.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


@pytest.mark.parametrize("after_frames", [0, 2, 5])
def test_sigkill_then_rerun_equals_uninterrupted_run(tmp_path: Path, reference: dict, reference_out: Path,
                                                     after_frames: int) -> None:
    out = tmp_path / "out"
    process = subprocess.Popen(cli_command(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while journal_lines(out) < after_frames and process.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    if after_frames == 0:
        time.sleep(0.8)  # mid start-up or mid first frame
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert journal_lines(out) < int(FRAMES), "the kill landed before the run finished"
    finished = subprocess.run(cli_command(out), capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert comparable(out) == reference
    assert_same_rgb(out, reference_out)


def test_half_written_journal_line_is_repaired(tmp_path: Path, reference: dict) -> None:
    out = tmp_path / "out"
    assert render(QUICKSTART, out, "-n", "3") == 0
    with open(out / "frames.jsonl", "ab") as journal:
        journal.write(b'{"image": {"frame_index": 3, "file_na')  # what SIGKILL mid-append leaves
    assert render(QUICKSTART, out, "-n", FRAMES) == 0
    assert comparable(out) == reference


def test_two_workers_equal_one_process(tmp_path: Path, reference: dict, reference_out: Path) -> None:
    out = tmp_path / "out"
    assert render(QUICKSTART, out, "-n", FRAMES, "--workers", "2", "--recycle-after", "3") == 0
    assert comparable(out) == reference
    assert_same_rgb(out, reference_out)


def test_killed_worker_is_replaced_and_its_frame_redone(tmp_path: Path, reference: dict) -> None:
    out = tmp_path / "out"
    driver = subprocess.Popen(cli_command(out, "--workers", "2"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    victim = None
    deadline = time.time() + 60
    while victim is None and time.time() < deadline and driver.poll() is None:
        if journal_lines(out) >= 1:
            victim = next(iter(_children(driver.pid)), None)
        time.sleep(0.01)
    assert victim is not None, "a worker process was running"
    os.kill(victim, signal.SIGKILL)
    _, err = driver.communicate(timeout=120)
    assert driver.returncode == 0, err.decode()
    assert comparable(out) == reference


def _children(pid: int) -> list[int]:
    """Worker processes of a driver (multiprocessing's spawn children), found through /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in cmdline:
                found.append(int(entry.name))
    return found


def test_shards_merge_into_the_full_dataset(tmp_path: Path, reference: dict, capsys) -> None:
    parts = [tmp_path / "part1", tmp_path / "part2", tmp_path / "part3"]
    for k, part in enumerate(parts, start=1):
        assert render(QUICKSTART, part, "-n", FRAMES, "--shard", f"{k}/3") == 0
    assert [i["frame_index"] for i in json.loads((parts[1] / "annotations.json").read_text())["images"]] == [1, 4, 7]
    merged = tmp_path / "merged"
    assert main(["merge", *map(str, parts), "-o", str(merged)]) == 0
    assert comparable(merged) == reference
    other = tmp_path / "other"
    assert render(QUICKSTART, other, "-n", "2", "--seed", "4") == 0
    assert main(["merge", str(parts[0]), str(other), "-o", str(tmp_path / "bad")]) == 2
    assert "different datasets" in capsys.readouterr().err


def test_failed_frame_stops_or_is_skipped_and_rerun_fills_it(tmp_path: Path, reference: dict, monkeypatch,
                                                             capsys) -> None:
    from simgen.run.frame_job import FrameRenderer

    real_render = FrameRenderer.render

    def flaky(self, index):
        if index == 2:
            raise RuntimeError("Cycles: out of memory (injected)")
        return real_render(self, index)

    monkeypatch.setattr(FrameRenderer, "render", flaky)
    out = tmp_path / "out"
    assert render(QUICKSTART, out, "-n", FRAMES) == 2
    err = capsys.readouterr().err
    assert "frame 2 failed (RuntimeError: Cycles: out of memory (injected))" in err and "Traceback" not in err
    coco = json.loads((out / "annotations.json").read_text())
    assert [i["frame_index"] for i in coco["images"]] == [0, 1], "frames finished before the failure are kept"
    assert "injected" in (out / "simgen.log").read_text()

    assert render(QUICKSTART, out, "-n", FRAMES, "--max-failures", "1") == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["failed_frames"] == [2] and manifest["status"] == "complete_with_failures"

    monkeypatch.setattr(FrameRenderer, "render", real_render)
    assert render(QUICKSTART, out, "-n", FRAMES) == 0
    assert comparable(out) == reference


def test_disk_full_is_reported_and_finished_frames_kept(tmp_path: Path, monkeypatch, capsys) -> None:
    from simgen.dataset import writer as writer_module

    real_replace = os.replace
    calls = {"n": 0}

    def replace_until_full(src, dst):
        if str(dst).endswith("000003.png") and "depth" in str(dst):
            raise OSError(errno.ENOSPC, "No space left on device")
        calls["n"] += 1
        return real_replace(src, dst)

    monkeypatch.setattr(writer_module.os, "replace", replace_until_full)
    out = tmp_path / "out"
    assert render(QUICKSTART, out, "-n", FRAMES) == 2
    err = capsys.readouterr().err
    assert "disk full while writing" in err and "Traceback" not in err
    monkeypatch.setattr(writer_module.os, "replace", real_replace)
    coco = json.loads((out / "annotations.json").read_text())
    assert [i["frame_index"] for i in coco["images"]] == [0, 1, 2]
    assert not list((out / "depth").glob(".*tmp*")), "no half-written file is left behind"


def test_assemble_command_rebuilds_coco(tmp_path: Path, reference: dict) -> None:
    out = tmp_path / "out"
    assert render(QUICKSTART, out, "-n", FRAMES) == 0
    (out / "annotations.json").unlink()
    assert main(["assemble", str(out)]) == 0
    assert comparable(out) == reference


def test_ray_local_cluster(tmp_path: Path, reference: dict) -> None:
    pytest.importorskip("ray")
    out = tmp_path / "out"
    assert render(QUICKSTART, out, "-n", FRAMES, "--ray", "--workers", "2") == 0
    assert comparable(out) == reference
    import ray

    ray.shutdown()


def test_bad_shard_argument(capsys, tmp_path: Path) -> None:
    assert render(QUICKSTART, tmp_path / "o", "--shard", "3/2") == 2
    assert "K must be between 1 and N" in capsys.readouterr().err


def test_worker_that_raises_on_one_frame_does_not_stop_the_others(tmp_path: Path, reference: dict) -> None:
    """A real worker process fails on frame 3 (a startup hook in its interpreter injects the failure)."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import simgen.run.frame_job as job\n"
        "real = job.FrameRenderer.render\n"
        "def render(self, index):\n"
        "    if index == 3:\n"
        "        raise RuntimeError('Cycles crashed on this frame (injected)')\n"
        "    return real(self, index)\n"
        "job.FrameRenderer.render = render\n")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": f"{hook}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(cli_command(out, "--workers", "2", "--max-failures", "1"), env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    coco = json.loads((out / "annotations.json").read_text())
    assert [i["frame_index"] for i in coco["images"]] == [0, 1, 2, 4, 5, 6, 7]
    assert "1 frame(s) failed (3)" in result.stdout
    assert "injected" in (out / "simgen.log").read_text()
    assert subprocess.run(cli_command(out), capture_output=True, timeout=120).returncode == 0
    assert comparable(out) == reference, "a rerun fills in the failed frame"


def test_merge_carries_every_optional_output(tmp_path: Path, capsys) -> None:
    """Every output the registry declares, optional ones switched on, survives shards and merge (clips of two
    frames, so the flow has a sequence and each clip is split over both shards)."""
    from simgen.outputs import OUTPUTS

    scenario = tmp_path / "all_outputs.yaml"
    scenario.write_text(QUICKSTART.read_text() + "\nlabels: {depth_float: exr, amodal_masks: true, panoptic: true, outputs: "
                        "[normals, normals_float, albedo, stereo, nir, thermal, flow, flow_float]}\n"
                        "sequence: {length: 2, fps: 10, shutter: 0}\n")
    parts = [tmp_path / "part1", tmp_path / "part2"]
    for k, part in enumerate(parts, start=1):
        assert render(scenario, part, "-n", "4", "--shard", f"{k}/2") == 0
    merged = tmp_path / "merged"
    assert main(["merge", *map(str, parts), "-o", str(merged)]) == 0
    coco = json.loads((merged / "annotations.json").read_text())
    assert len(coco["images"]) == 4
    for image in coco["images"]:
        for output in OUTPUTS.values():
            assert (merged / image[output.key]).is_file(), (output.name, image[output.key])
    assert all("amodal_segmentation" in a for a in coco["annotations"])
    assert main(["validate", str(merged)]) == 0
