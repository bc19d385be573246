"""What a camera rig costs: K cameras of one scene in one frame, against K separate frames.

One scenario, rendered twice by the real pipeline (FrameRenderer, as ``simgen render`` does) at
the draft preset, one after the other in this process: once with ``camera.rig`` (the main camera
and K-1 more), once without it for K times as many frames, so both runs write the same number of
camera images. A rig frame shares the sampling, the scene update (objects, environment meshes,
lights, world) and Cycles' synced scene (its BVH) between its cameras; only rendering, label
passes, annotation and writing are per camera.

    python benchmarks/rig.py --frames 3            # street, primitives only
    python benchmarks/rig.py --frames 3 --scene open
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import yaml

from _pipeline import run_frames

RIG = [{"name": "left", "position_m": [-0.8, 0.0, -0.5], "yaw_deg": -55},
       {"name": "right", "position_m": [0.8, 0.0, -0.5], "yaw_deg": 55}]
SCENES = {
    "street": {"environment": {"type": "street", "every": 4},
               "classes": [{"name": "car", "asset": "primitive:cube", "count": [2, 5], "size_m": 1.8,
                            "stands_on": "lane"},
                           {"name": "person", "asset": "primitive:cylinder", "count": [2, 5], "size_m": 0.5,
                            "stands_on": "sidewalk"}],
               "placement": {"area": [50, 14], "on_failure": "drop"},
               "camera": {"fov_deg": 60, "pose": {"sampler": "lane"}}},
    "open": {"classes": [{"name": "cube", "asset": "primitive:cube", "count": [3, 6], "size_m": [0.3, 0.6]}],
             "placement": {"area": [3, 3], "on_failure": "drop"},
             "camera": {"fov_deg": 60, "orbit": {"distance": [4, 6], "elevation_deg": [10, 30]}}},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=3, help="rig frames (the plain run renders K times as many)")
    parser.add_argument("--scene", choices=sorted(SCENES), default="street")
    args = parser.parse_args()
    cameras = len(RIG) + 1
    base = {"name": f"rig_{args.scene}", "seed": 5, "frames": 1000, "render": "draft", **SCENES[args.scene]}
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for label, rig, frames in (("rig", RIG, args.frames), ("plain", [], args.frames * cameras)):
            spec = json.loads(json.dumps(base))
            spec["camera"]["rig"] = rig
            path = Path(tmp) / f"{label}.yaml"
            path.write_text(yaml.safe_dump(spec))
            (Path(tmp) / label).mkdir()
            results[label] = run_frames(path, Path(tmp) / label, frames)
    (rig_walls, rig_stages), (plain_walls, plain_stages) = results["rig"], results["plain"]
    per_rig = statistics.median(rig_walls)
    per_plain = statistics.median(plain_walls)
    print(f"{args.scene}: {cameras} cameras; median wall s: rig frame {per_rig:.2f}, one plain frame {per_plain:.2f}, "
          f"{cameras} plain frames {cameras * per_plain:.2f}; rig / {cameras} frames = "
          f"{per_rig / (cameras * per_plain):.2f}")
    print(f"total wall s per camera image: rig {sum(rig_walls) / (args.frames * cameras):.2f}, plain "
          f"{sum(plain_walls) / (args.frames * cameras):.2f}; ratio {sum(rig_walls) / sum(plain_walls):.2f}")
    print("stage seconds per camera image (rig | plain):")
    for stage in sorted(set(rig_stages) | set(plain_stages)):
        print(f"  {stage:14s} {rig_stages.get(stage, 0) / (args.frames * cameras):7.3f} | "
              f"{plain_stages.get(stage, 0) / (args.frames * cameras):7.3f}")


if __name__ == "__main__":
    main()
