"""Does edge-case coverage in the training data make a detector more robust? Measured, not assumed.

1. Render, with fixed seeds: a clear-weather training set, a training set of the same size with
   the scenario's edge-case coverage (fog, night, rain, heavy occlusion), and a held-out test set
   rich in those conditions.
2. Train the same detector (examples/train_detector.py) on each training set.
3. Score both on the test set with ``simgen eval``: AP overall and per condition.

    python examples/coverage_experiment.py --frames 120 --test-frames 60 --epochs 8 -o docs/coverage_experiment.md

Needs ``pip install -e '.[train]'``. CPU-sized by default: 96x72 images, a few minutes per model.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from train_detector import SimgenDetection, build_model, predict, train  # noqa: E402

from simgen.tools.evaluate import evaluate  # noqa: E402

TINY = HERE.parent / "tests" / "fixtures" / "tiny.yaml"


def render(scenario: dict, out: Path, frames: int, seed: int, preset: Path) -> float:
    path = out.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(scenario))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "simgen", "render", str(path), "-o", str(out), "-n", str(frames),
                    "--seed", str(seed), "--render-config", str(preset), "--no-progress", "--overwrite"], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("out/coverage_experiment"))
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--test-frames", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--preset", type=Path, default=TINY)
    parser.add_argument("-o", "--report", type=Path, default=Path("docs/coverage_experiment.md"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    base = yaml.safe_load((HERE / "coverage" / "scenario.yaml").read_text())
    clear = {**base, "conditions": {}}
    test = {**base, "conditions": {"fog": 0.3, "night": 0.3, "rain": 0.25, "heavy_occlusion": 0.25}}
    seconds = {
        "train_clear": render(clear, args.work / "train_clear", args.frames, 1, args.preset),
        "train_edge": render(base, args.work / "train_edge", args.frames, 1, args.preset),
        "test": render(test, args.work / "test", args.test_frames, 999, args.preset),
    }
    test_set = SimgenDetection(args.work / "test")
    rows: dict[str, dict[str, float]] = {}
    timings = {}
    for name in ("train_clear", "train_edge"):
        train_set = SimgenDetection(args.work / name)
        model = build_model(len(train_set.categories), max(train_set.images[0]["width"], train_set.images[0]["height"]))
        start = time.perf_counter()
        losses = train(model, train_set, args.epochs, seed=0)
        timings[name] = time.perf_counter() - start
        predictions = args.work / f"predictions_{name}.json"
        predictions.write_text(json.dumps(predict(model, test_set)))
        rows[name] = {f"{r.kind}:{r.name}": r.ap for r in evaluate(args.work / "test", predictions)}
        rows[name]["final_loss"] = sum(losses[-10:]) / min(len(losses), 10)
    slices = [s for s in rows["train_clear"] if s != "final_loss"]
    lines = [f"# Coverage experiment: {args.frames} training frames per set, {args.test_frames} test frames, "
             f"{args.epochs} epochs", "",
             "| slice | AP trained on clear | AP trained with edge-case coverage |", "|---|---|---|"]
    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    lines += [f"| {s} | {cell(rows['train_clear'][s])} | {cell(rows['train_edge'][s])} |" for s in slices]
    lines += ["", f"Render seconds: {json.dumps({k: round(v, 1) for k, v in seconds.items()})}; "
              f"training seconds: {json.dumps({k: round(v, 1) for k, v in timings.items()})}; "
              f"final training loss: clear {rows['train_clear']['final_loss']:.3f}, "
              f"edge {rows['train_edge']['final_loss']:.3f}."]
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
