"""The slow half of the fault battery: signals and kills at random moments, and racing runs.

    python tests/battery.py                 # every class, about 10 minutes on 2 cores
    python tests/battery.py --kills 5 --interrupts 5 --races 2

Each case renders the quickstart scenario at the tests' tiny preset and is checked against an
uninterrupted reference run: after any number of SIGKILL/SIGINT/SIGTERM at random moments and a
rerun, the dataset must equal the reference label for label and pixel for pixel (RGB within the
one-level rounding of threaded float sums); an interrupted run must exit 130/143 within seconds
with a valid annotations.json listing exactly its journal; of two runs started on one folder at
once, exactly one may write. Prints a table of cases tried and passed per class; exits 1 if any
case failed. The fast cases of the battery run in the test suite (tests/test_hostile.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenes" / "quickstart.yaml"
PRESET = ROOT / "tests" / "fixtures" / "tiny.yaml"
FRAMES = 8


def command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "simgen", "render", str(SCENARIO), "-o", str(out), "-n", str(FRAMES),
            "--render-config", str(PRESET), "--no-progress", *extra]


def journal_lines(out: Path) -> int:
    path = out / "frames.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def snapshot(out: Path) -> tuple[dict, dict]:
    coco = json.loads((out / "annotations.json").read_text())
    coco["info"].pop("date_created", None)
    labels = {image["file_name"]: [cv2.imread(str(out / image[key]), cv2.IMREAD_UNCHANGED).tobytes()
                                   for key in ("instance_file", "semantic_file", "depth_file")]
              for image in coco["images"]}
    rgb = {image["file_name"]: cv2.imread(str(out / image["file_name"])).astype(int) for image in coco["images"]}
    return {"coco": coco, "labels": labels}, rgb


def same_dataset(out: Path, reference: tuple[dict, dict]) -> str | None:
    labels, rgb = snapshot(out)
    if labels != reference[0]:
        return "labels differ from the uninterrupted run"
    for name, pixels in rgb.items():
        diff = np.abs(pixels - reference[1][name])
        if diff.max() > 1 or (diff > 0).mean() >= 0.001:
            return f"{name}: RGB differs from the uninterrupted run (max {diff.max()})"
    return None


def valid_after_stop(out: Path, err: str) -> str | None:
    if not out.exists():  # stopped before the first frame: a run that never started leaves no trace
        return None if "nothing was rendered" in err else "the folder vanished, but the run says it rendered"
    try:
        coco = json.loads((out / "annotations.json").read_text())
        manifest = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        return f"no valid annotations.json/manifest.json after the stop ({exc})"
    if len(coco["images"]) != journal_lines(out):
        return f"annotations.json lists {len(coco['images'])} frames, the journal {journal_lines(out)}"
    if manifest.get("status") != "interrupted":
        return f"manifest status {manifest.get('status')!r}"
    return None


def kill_at_random(out: Path, number: int, rng: random.Random, workers: bool) -> tuple[int, float, str]:
    extra = ("--workers", "2") if workers else ()
    process = subprocess.Popen(command(out, *extra), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    time.sleep(rng.uniform(0.3, 6.0))
    if process.poll() is None:
        os.killpg(process.pid, number)
    asked = time.time()
    _, err = process.communicate(timeout=60)
    return process.returncode, time.time() - asked, err.decode(errors="replace")


def resume(out: Path) -> str | None:
    result = subprocess.run(command(out), capture_output=True, text=True, timeout=300)
    return None if result.returncode == 0 else f"rerun failed ({result.returncode}): {result.stderr[-300:]}"


def case_signal(scratch: Path, reference, number: int, rng: random.Random, workers: bool) -> str | None:
    out = scratch / "out"
    shutil.rmtree(out, ignore_errors=True)
    code, seconds, err = kill_at_random(out, number, rng, workers)
    if code == -number and not out.exists():
        return resume(out) or same_dataset(out, reference)  # it landed while Python itself started: nothing written
    if code != 0:  # the signal landed before the run ended
        expected = -signal.SIGKILL if number == signal.SIGKILL else 128 + number
        if code != expected:
            return f"exit {code}, expected {expected}: {err[-300:]}"
        if "Traceback" in err or "Exception ignored" in err:
            return f"traceback on stop: {err[-300:]}"
        if number != signal.SIGKILL:
            if seconds > 5:
                return f"took {seconds:.1f} s to stop"
            problem = valid_after_stop(out, err)
            if problem:
                return problem
    return resume(out) or same_dataset(out, reference)


def case_race(scratch: Path, reference) -> str | None:
    out = scratch / "race"
    shutil.rmtree(out, ignore_errors=True)
    first = subprocess.Popen(command(out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    second = subprocess.Popen(command(out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    results = [(p.wait(timeout=300), p.stderr.read().decode()) for p in (first, second)]
    codes = sorted(code for code, _ in results)
    if codes != [0, 2]:
        return f"exit codes {codes}, expected one 0 and one 2: {[e[-200:] for _, e in results]}"
    refused = next(err for code, err in results if code == 2)
    if "is being written by another simgen run" not in refused and "not empty" not in refused:
        return f"the refused run said: {refused[-300:]}"
    if journal_lines(out) != FRAMES:
        return f"{journal_lines(out)} journal lines for {FRAMES} frames"
    return same_dataset(out, reference)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=8, help="random SIGKILLs (half with --workers 2)")
    parser.add_argument("--interrupts", type=int, default=12, help="random SIGINTs (half with --workers 2)")
    parser.add_argument("--terms", type=int, default=6, help="random SIGTERMs (half with --workers 2)")
    parser.add_argument("--races", type=int, default=3, help="pairs of runs started on one folder at once")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="simgen-battery-") as scratch_name:
        scratch = Path(scratch_name)
        reference_out = scratch / "reference"
        subprocess.run(command(reference_out), check=True, capture_output=True, timeout=300)
        reference = snapshot(reference_out)
        plan = ([("SIGKILL", signal.SIGKILL)] * args.kills + [("SIGINT", signal.SIGINT)] * args.interrupts
                + [("SIGTERM", signal.SIGTERM)] * args.terms)
        for index, (name, number) in enumerate(plan):
            workers = index % 2 == 1
            label = f"{name} at a random moment" + (" (2 workers)" if workers else "")
            problem = case_signal(scratch, reference, number, rng, workers)
            tally[label][0] += 1
            tally[label][1] += problem is None
            if problem:
                failures.append(f"{label}: {problem}")
            print(f"{label}: {'ok' if problem is None else problem}", flush=True)
        for _ in range(args.races):
            problem = case_race(scratch, reference)
            tally["two runs on one folder"][0] += 1
            tally["two runs on one folder"][1] += problem is None
            if problem:
                failures.append(f"two runs on one folder: {problem}")
            print(f"two runs on one folder: {'ok' if problem is None else problem}", flush=True)
    print("\nclass                                   tried  passed")
    for label, (tried, passed) in tally.items():
        print(f"{label:<40}{tried:>5}{passed:>8}")
    total = sum(t for t, _ in tally.values())
    print(f"{sum(p for _, p in tally.values())} passed, {len(failures)} failed of {total}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
