"""One turn of the loop: train, find where the detector fails, render more of that, train again.

1. Render a clear-weather training set and an edge-case test set (the coverage experiment's scene
   family, examples/coverage/, fixed seeds).
2. Train the detector (examples/train_detector.py) on the training set, predict on the test set.
3. ``simgen focus TEST PREDICTIONS --scenario TRAIN.yaml``: the training scenario, patched with more
   of what the detector missed in the test set.
4. Render a training set of the same size from the patched scenario, train the same detector on it.
5. Score both models on the test set (AP50 and recall per slice), written as a table.

    python examples/focus_loop.py --frames 600 --test-frames 300 --iterations 1200 --seeds 0

Needs ``pip install -e '.[train]'``. Every step resumes (datasets continue, finished models are kept).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from coverage_experiment import PRESET, TEST_CONDITIONS, render, score, train_and_predict  # noqa: E402
from train_detector import SimgenDetection  # noqa: E402


def recall_by_slice(test: Path, predictions: Path) -> dict[str, tuple[float, int]]:
    """Recall (score >= 0.3, IoU >= 0.5) per focus slice: label -> (recall, objects)."""
    from simgen.dataset.reader import read_any_coco
    from simgen.tools.focus import analyse, found_objects

    coco, _ = read_any_coco(test)
    focus = analyse(coco, found_objects(coco, json.loads(predictions.read_text())))
    return {f"{s.feature}={s.label}": (s.recall, s.total) for s in [focus.overall, *focus.slices]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("out/focus_loop"))
    parser.add_argument("--frames", type=int, default=600, help="frames per training set")
    parser.add_argument("--test-frames", type=int, default=300)
    parser.add_argument("--iterations", type=int, default=1200)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("-o", "--report", type=Path, default=Path("docs/focus_loop.md"))
    args = parser.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    base = yaml.safe_load((HERE / "coverage" / "scenario.yaml").read_text())
    first = {**base, "conditions": {}}
    render(first, work / "round0", args.frames, 1, PRESET)
    render({**base, "conditions": TEST_CONDITIONS}, work / "test", args.test_frames, 999, PRESET)
    test_set = SimgenDetection(work / "test")
    rows: dict[str, list[dict]] = {"round0": [], "round1": []}
    for seed in args.seeds:
        before = train_and_predict(work, "round0", seed, args.iterations, test_set)
        patched = work / f"round1_s{seed}.yaml"
        if not patched.exists():
            subprocess.run([sys.executable, "-m", "simgen", "focus", str(work / "test"),
                            str(work / before["predictions"]), "--scenario", str(work / "round0.yaml"),
                            "-o", str(patched)], check=True)
        scenario = yaml.safe_load(patched.read_text())
        render(scenario, work / f"round1_s{seed}", args.frames, 1, PRESET)
        after = train_and_predict(work, f"round1_s{seed}", seed, args.iterations, test_set)
        for name, model in (("round0", before), ("round1", after)):
            rows[name].append({"model": model, "ap": score(work, model, work / "test"),
                               "recall": recall_by_slice(work / "test", work / model["predictions"]),
                               "changes": scenario["lineage"][-1]["changes"] if name == "round1" else []})
    write_report(args.report, args, rows)


def write_report(path: Path, args: argparse.Namespace, rows: dict[str, list[dict]]) -> None:
    labels = [label for label in rows["round0"][0]["ap"] if label.split("=")[0] in ("all", "condition", "visibility")]
    mean = lambda values: float(np.mean(values)) if values else float("nan")  # noqa: E731
    lines = [f"# One turn of the loop: {args.frames} training frames per round, {args.test_frames} test frames, "
             f"{args.iterations} iterations, seeds {', '.join(map(str, args.seeds))}", "",
             "Round 0 trains on clear weather only; `simgen focus` reads its misses on the edge-case test set and "
             "patches the training scenario; round 1 trains on a set of the same size rendered from the patch.", "",
             "Changes the patch made (seed " + str(args.seeds[0]) + "):", ""]
    lines += [f"- {change}" for change in rows["round1"][0]["changes"]] + ["", "| slice | GT | AP50 round 0 | "
              "AP50 round 1 | delta | recall round 0 | recall round 1 |", "|---|---|---|---|---|---|---|"]
    for label in labels:
        a = [r["ap"][label]["ap50"] for r in rows["round0"] if r["ap"][label]["ap50"] is not None]
        b = [r["ap"][label]["ap50"] for r in rows["round1"] if r["ap"][label]["ap50"] is not None]
        key = "all=all" if label == "all" else label.replace("condition=", "condition=")
        ra = [r["recall"].get(key, (float("nan"), 0))[0] for r in rows["round0"]]
        rb = [r["recall"].get(key, (float("nan"), 0))[0] for r in rows["round1"]]
        lines.append(f"| {label} | {rows['round0'][0]['ap'][label]['gt']} | {mean(a):.3f} | {mean(b):.3f} | "
                     f"{mean(b) - mean(a):+.3f} | {mean(ra):.3f} | {mean(rb):.3f} |")
    seconds = [f"{r['model']['name']} seed {r['model']['seed']}: {r['model']['train_seconds']:.0f} s"
               for name in rows for r in rows[name]]
    lines += ["", "Training time: " + ", ".join(seconds) + "."]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    path.with_suffix(".json").write_text(json.dumps(rows, indent=1, default=str))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
