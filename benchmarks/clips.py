"""What a clip frame costs against an independent frame of the same scenario.

One street scenario (primitives only), rendered by the real pipeline (FrameRenderer, as ``simgen
render`` does) at the draft preset three ways, one after the other in this process, the same number
of frames each after a warm-up frame: independent frames; clips (``sequence:``, the camera and
traffic moving, no motion blur); and clips with optical flow (``labels.outputs: [flow]``: the motion
vectors and two 1-sample renders of the neighbouring frames for the validity check).

    python benchmarks/clips.py --frames 4
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import yaml

from _pipeline import run_frames

BASE = {"environment": {"type": "street", "every": 1000},
        "classes": [{"name": "car", "asset": "primitive:cube", "count": [2, 5], "size_m": 1.8, "stands_on": "lane",
                     "speed_mps": [5, 15]},
                    {"name": "person", "asset": "primitive:cylinder", "count": [2, 5], "size_m": 0.5,
                     "stands_on": "sidewalk", "speed_mps": [1, 1.5]}],
        "placement": {"area": [50, 14], "on_failure": "drop"},
        "camera": {"fov_deg": 60, "pose": {"sampler": "lane"}}}
SEQUENCE = {"length": 1000, "fps": 10, "shutter": 0, "camera": {"speed_mps": 10}}
VARIANTS = {"independent frames": ({}, []), "clip frames": (SEQUENCE, []), "clip frames + flow": (SEQUENCE, ["flow"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=4)
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, (sequence, outputs) in VARIANTS.items():
            spec = {"name": "clips", "seed": 7, "frames": 1000, "render": "draft", **json.loads(json.dumps(BASE)),
                    "labels": {"outputs": outputs}}
            if sequence:
                spec["sequence"] = sequence
            path = Path(tmp) / f"{len(rows)}.yaml"
            path.write_text(yaml.safe_dump(spec))
            (Path(tmp) / str(len(rows))).mkdir()
            rows[label] = run_frames(path, Path(tmp) / str(len(rows)), args.frames)
    base = statistics.median(rows["independent frames"][0])
    print("| frames | median wall s | x independent | render s | label passes s | sample + scene update s |")
    print("|---|---|---|---|---|---|")
    for label, (walls, stages) in rows.items():
        n = len(walls)
        print(f"| {label} | {statistics.median(walls):.2f} | {statistics.median(walls) / base:.3f} | "
              f"{stages.get('render', 0) / n:.2f} | {stages.get('label_passes', 0) / n:.3f} | "
              f"{(stages.get('sample', 0) + stages.get('scene_update', 0)) / n:.3f} |")


if __name__ == "__main__":
    main()
