"""Does edge-case coverage in the training data make a detector more robust? Measured, not assumed.

1. Render, with fixed seeds: a clear-weather training set, a training set of the same size with
   the scenario's edge-case coverage (fog, night, rain, heavy occlusion), and a held-out test set
   rich in those conditions (examples/coverage/scenario.yaml, examples/coverage/preset.yaml).
2. Train the same detector (examples/train_detector.py) on each training set, once per seed.
3. Score every model on the test set with simgen's evaluator: AP overall and per condition,
   visibility band, size and class; write a table and a plot.

    python examples/coverage_experiment.py --frames 1000 --test-frames 400 --iterations 2000 --seeds 0 1

Needs ``pip install -e '.[train]'``. Sized for a CPU: 128x96 images, about 15 minutes of rendering
and 15-20 minutes of training per model on 2 cores. Every step resumes: datasets continue where
they stopped and finished models (``WORK/result_*.json``) are not trained again.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from train_detector import SimgenDetection, model_for, predict, train  # noqa: E402

from simgen.tools.evaluate import evaluate  # noqa: E402

PRESET = HERE / "coverage" / "preset.yaml"
TEST_CONDITIONS = {"fog": 0.3, "night": 0.3, "rain": 0.25, "heavy_occlusion": 0.25}
TRAINING_SETS = ("train_clear", "train_edge")


def render(scenario: dict, out: Path, frames: int, seed: int, preset: Path) -> float:
    """Render (or resume) one dataset; returns the seconds it took this time."""
    path = out.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(scenario))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "simgen", "render", str(path), "-o", str(out), "-n", str(frames),
                    "--seed", str(seed), "--render-config", str(preset), "--no-progress"], check=True)
    return time.perf_counter() - start


def train_and_score(work: Path, name: str, seed: int, iterations: int, test: Path) -> dict:
    """Train one model and score it on the test set; the result is cached in WORK/result_NAME_sSEED.json."""
    cache = work / f"result_{name}_s{seed}.json"
    if cache.exists():
        result = json.loads(cache.read_text())
        if result["iterations"] == iterations:
            return result
    train_set = SimgenDetection(work / name, flip=True, seed=seed)
    model = model_for(train_set)
    start = time.perf_counter()
    losses = train(model, train_set, iterations, seed=seed, log=lambda line: print(f"{name} seed {seed}: {line}"))
    seconds = time.perf_counter() - start
    predictions = work / f"predictions_{name}_s{seed}.json"
    predictions.write_text(json.dumps(predict(model, SimgenDetection(test))))
    slices = {r.label: {"ap": r.ap, "ap50": r.ap50, "images": r.images, "gt": r.gt}
              for r in evaluate(test, predictions)}
    result = {"name": name, "seed": seed, "iterations": iterations, "train_seconds": seconds,
              "final_loss": float(np.mean(losses[-50:])), "slices": slices}
    cache.write_text(json.dumps(result, indent=1))
    return result


def _mean(results: list[dict], label: str, key: str) -> float | None:
    values = [r["slices"][label][key] for r in results]
    return None if any(v is None for v in values) else float(np.mean(values))


def _cell(results: list[dict], label: str, key: str) -> str:
    """Mean over seeds, with every seed's value when there are several."""
    mean = _mean(results, label, key)
    if mean is None:
        return "-"
    if len(results) == 1:
        return f"{mean:.3f}"
    seeds = " / ".join(f"{r['slices'][label][key]:.3f}" for r in results)
    return f"{mean:.3f} ({seeds})"


def _delta(clear: list[dict], edge: list[dict], label: str, key: str) -> str:
    a, b = _mean(clear, label, key), _mean(edge, label, key)
    return "-" if a is None or b is None else f"{b - a:+.3f}"


def write_report(path: Path, args: argparse.Namespace, results: dict[str, list[dict]], seconds: dict) -> None:
    """A markdown table (AP and AP50 per slice, both training sets) and a bar chart next to it."""
    clear, edge = results["train_clear"], results["train_edge"]
    labels = list(clear[0]["slices"])
    lines = [f"# Coverage experiment results: {args.frames} training frames per set, {args.test_frames} test "
             f"frames, {args.iterations} iterations, seeds {', '.join(map(str, args.seeds))}", "",
             "AP is COCO AP@[.5:.95], AP50 at IoU 0.5; mean over seeds, each seed in brackets.", "",
             "| slice | test images | GT | AP clear only | AP with coverage | delta AP | AP50 clear only "
             "| AP50 with coverage | delta AP50 |", "|---|---|---|---|---|---|---|---|---|"]
    for label in labels:
        info = clear[0]["slices"][label]
        lines.append(f"| {label} | {info['images']} | {info['gt']} | {_cell(clear, label, 'ap')} | "
                     f"{_cell(edge, label, 'ap')} | {_delta(clear, edge, label, 'ap')} | "
                     f"{_cell(clear, label, 'ap50')} | {_cell(edge, label, 'ap50')} | "
                     f"{_delta(clear, edge, label, 'ap50')} |")
    lines += ["", "Render seconds (this invocation; 0 when resumed from a finished dataset): "
              + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()) + ".",
              "Training seconds per model: " + ", ".join(
                  f"{r['name']} seed {r['seed']} {r['train_seconds']:.0f} (final loss {r['final_loss']:.3f})"
                  for rs in results.values() for r in rs) + "."]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    _plot(path.with_suffix(".png"), clear, edge, [label for label in labels if label.split("=")[0] in
                                                  ("all", "condition", "visibility")])
    print("\n".join(lines))


def _plot(path: Path, clear: list[dict], edge: list[dict], labels: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(labels)), 3.6), dpi=120)
    for offset, results, name in ((-0.2, clear, "trained on clear only"), (0.2, edge, "trained with coverage")):
        means = [_mean(results, label, "ap50") or 0.0 for label in labels]
        ax.bar(x + offset, means, 0.4, label=name)
        for seed_result in results:  # every seed as a dot: the spread is part of the result
            ax.plot(x + offset, [seed_result["slices"][label]["ap50"] or 0.0 for label in labels], "k.", ms=3)
    ax.set_xticks(x, [label.replace("condition=", "").replace("visibility=", "vis ") for label in labels],
                  rotation=30, ha="right")
    ax.set_ylabel("AP50 on the edge-case test set")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("out/coverage_experiment"))
    parser.add_argument("--frames", type=int, default=1000, help="frames per training set")
    parser.add_argument("--test-frames", type=int, default=400)
    parser.add_argument("--iterations", type=int, default=2000, help="training iterations (batches of 16)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="one model per seed and training set")
    parser.add_argument("--preset", type=Path, default=PRESET)
    parser.add_argument("--render-only", action="store_true", help="render (or resume) the three datasets and stop")
    parser.add_argument("-o", "--report", type=Path, default=Path("docs/coverage_results.md"),
                        help="markdown table; the plot goes next to it as .png")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    base = yaml.safe_load((HERE / "coverage" / "scenario.yaml").read_text())
    seconds = {
        "train_clear": render({**base, "conditions": {}}, args.work / "train_clear", args.frames, 1, args.preset),
        "train_edge": render(base, args.work / "train_edge", args.frames, 1, args.preset),
        "test": render({**base, "conditions": TEST_CONDITIONS}, args.work / "test", args.test_frames, 999,
                       args.preset),
    }
    if args.render_only:
        return
    results = {name: [train_and_score(args.work, name, seed, args.iterations, args.work / "test")
                      for seed in args.seeds] for name in TRAINING_SETS}
    write_report(args.report, args, results, seconds)


if __name__ == "__main__":
    main()
