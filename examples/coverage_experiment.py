"""Does edge-case coverage in the training data make a detector more robust? Measured, not assumed.

1. Render, with fixed seeds: a clear-weather training set, a training set of the same size with
   the scenario's edge-case coverage (fog, night, rain, heavy occlusion), and a held-out test set
   rich in those conditions (examples/coverage/scenario.yaml, examples/coverage/preset.yaml).
2. Train the same detector (examples/train_detector.py) on each training set, once per seed.
3. Score every model on the test set with simgen's evaluator: AP overall and per condition,
   visibility band, size and class; write a table and a plot.

    python examples/coverage_experiment.py --frames 1000 --test-frames 400 --iterations 2000 --seeds 0 1 2

Needs ``pip install -e '.[train]'``. Sized for a CPU: 128x96 images, about 15 minutes of rendering
and 11 minutes of training per model on 2 cores (6 models with three seeds). Every step resumes: datasets continue where
they stopped and finished models (``WORK/model_*.json``) are not trained again.
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


def render(scenario: dict, out: Path, frames: int, seed: int, preset: Path) -> None:
    """Render (or resume) one dataset; its summary line says how long the frames took."""
    path = out.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(scenario))
    subprocess.run([sys.executable, "-m", "simgen", "render", str(path), "-o", str(out), "-n", str(frames),
                    "--seed", str(seed), "--render-config", str(preset), "--no-progress"], check=True)


def train_and_predict(work: Path, name: str, seed: int, iterations: int, test_set: SimgenDetection) -> dict:
    """Train one model and write its test-set predictions; cached in WORK/model_NAME_sSEED.json.

    Only training is cached: scores are recomputed from the predictions every time, so the report
    can grow new columns without retraining.
    """
    cache = work / f"model_{name}_s{seed}.json"
    if cache.exists():
        model = json.loads(cache.read_text())
        if model["iterations"] == iterations:
            return model
    train_set = SimgenDetection(work / name, flip=True, seed=seed)
    detector = model_for(train_set)
    start = time.perf_counter()
    losses = train(detector, train_set, iterations, seed=seed, log=lambda line: print(f"{name} seed {seed}: {line}"))
    seconds = time.perf_counter() - start
    predictions = work / f"predictions_{name}_s{seed}.json"
    predictions.write_text(json.dumps(predict(detector, test_set)))
    model = {"name": name, "seed": seed, "iterations": iterations, "train_seconds": seconds,
             "final_loss": float(np.mean(losses[-50:])), "predictions": predictions.name}
    cache.write_text(json.dumps(model, indent=1))
    return model


def score(work: Path, model: dict, test: Path) -> dict[str, dict]:
    """simgen's evaluation of one model's predictions: slice label -> images, GT, AP, AP50, AR100."""
    return {r.label: {"images": r.images, "gt": r.gt, "ap": r.ap, "ap50": r.ap50, "ar100": r.ar100}
            for r in evaluate(test, work / model["predictions"])}


def _values(scores: list[dict], label: str, key: str) -> list[float] | None:
    values = [s[label][key] for s in scores]
    return None if any(v is None for v in values) else values


def _cell(scores: list[dict], label: str, key: str) -> str:
    """Mean over seeds, with the standard deviation across seeds when there are several."""
    values = _values(scores, label, key)
    if values is None:
        return "-"
    return f"{np.mean(values):.3f}" + (f" ± {np.std(values, ddof=1):.3f}" if len(values) > 1 else "")


def _delta(clear: list[dict], edge: list[dict], label: str, key: str) -> str:
    a, b = _values(clear, label, key), _values(edge, label, key)
    return "-" if a is None or b is None else f"{np.mean(b) - np.mean(a):+.3f}"


def write_report(path: Path, args: argparse.Namespace, models: dict[str, list[dict]],
                 scores: dict[str, list[dict]]) -> None:
    """A markdown table per slice (both training sets), the raw scores as JSON and a bar chart."""
    clear, edge = scores["train_clear"], scores["train_edge"]
    labels = list(clear[0])
    lines = [f"# Coverage experiment results: {args.frames} training frames per set, {args.test_frames} test "
             f"frames, {args.iterations} iterations, seeds {', '.join(map(str, args.seeds))}", "",
             "AP50: COCO AP at IoU 0.5; AP: AP@[.5:.95]; AR100: recall at 100 detections per image, "
             "averaged over IoU .5:.95. Mean over the seeds ± their standard deviation.", "",
             "| slice | test images | GT | AP50 clear only | AP50 with coverage | delta | AP clear only "
             "| AP with coverage | delta | AR100 clear only | AR100 with coverage |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for label in labels:
        info = clear[0][label]
        lines.append(f"| {label} | {info['images']} | {info['gt']} | " + " | ".join([
            _cell(clear, label, "ap50"), _cell(edge, label, "ap50"), _delta(clear, edge, label, "ap50"),
            _cell(clear, label, "ap"), _cell(edge, label, "ap"), _delta(clear, edge, label, "ap"),
            _cell(clear, label, "ar100"), _cell(edge, label, "ar100")]) + " |")
    lines += ["", "Training seconds per model (final training loss): " + ", ".join(
        f"{m['name']} seed {m['seed']} {m['train_seconds']:.0f} s ({m['final_loss']:.3f})"
        for ms in models.values() for m in ms) + "."]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    path.with_suffix(".json").write_text(json.dumps(
        {name: [{**m, "scores": s} for m, s in zip(models[name], scores[name])] for name in models}, indent=1))
    _plot(path.with_suffix(".png"), clear, edge, [label for label in labels if label.split("=")[0] in
                                                  ("all", "condition", "visibility")])
    print("\n".join(lines))


def _plot(path: Path, clear: list[dict], edge: list[dict], labels: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(labels)), 3.6), dpi=120)
    for offset, scores, name in ((-0.2, clear, "trained on clear only"), (0.2, edge, "trained with coverage")):
        ax.bar(x + offset, [np.mean(_values(scores, label, "ap50") or [0.0]) for label in labels], 0.4, label=name)
        for seed_scores in scores:  # every seed as a dot: the spread is part of the result
            ax.plot(x + offset, [seed_scores[label]["ap50"] or 0.0 for label in labels], "k.", ms=3)
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
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one model per seed and training set")
    parser.add_argument("--preset", type=Path, default=PRESET)
    parser.add_argument("--render-only", action="store_true", help="render (or resume) the three datasets and stop")
    parser.add_argument("-o", "--report", type=Path, default=Path("docs/coverage_results.md"),
                        help="markdown table; the scores (.json) and the plot (.png) go next to it")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    base = yaml.safe_load((HERE / "coverage" / "scenario.yaml").read_text())
    render({**base, "conditions": {}}, args.work / "train_clear", args.frames, 1, args.preset)
    render(base, args.work / "train_edge", args.frames, 1, args.preset)
    render({**base, "conditions": TEST_CONDITIONS}, args.work / "test", args.test_frames, 999, args.preset)
    if args.render_only:
        return
    test = args.work / "test"
    test_set = SimgenDetection(test)
    models = {name: [train_and_predict(args.work, name, seed, args.iterations, test_set) for seed in args.seeds]
              for name in TRAINING_SETS}
    scores = {name: [score(args.work, model, test) for model in models[name]] for name in TRAINING_SETS}
    write_report(args.report, args, models, scores)


if __name__ == "__main__":
    main()
