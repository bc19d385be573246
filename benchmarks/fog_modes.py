"""Fog: analytic (Beer-Lambert from the depth pass, after the render) against Cycles volume scattering.

Renders the same frames clear, with analytic fog and with volume fog, and reports the median
frame time of each, so the speed side of the trade is a measured number.

    python benchmarks/fog_modes.py --preset preview -n 4
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from simgen.run.batch import RenderOptions, render_dataset

SCENE = """
name: fog_bench
seed: 5
frames: 8
classes:
  - {name: can, asset: [ycb:005_tomato_soup_can, ycb:002_master_chef_can], count: 3}
  - {name: box, asset: ycb:003_cracker_box, count: 2}
placement: {area: [1.5, 1.5]}
camera: {orbit: {distance: [2, 3], elevation_deg: [15, 30]}}
"""
MODES = {"clear": "", "analytic": "weather: {fog: {mode: analytic, density: 0.4}}\n",
         "volume": "weather: {fog: {mode: volume, density: 0.4}}\n"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="preview")
    parser.add_argument("-n", "--frames", type=int, default=4)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode, extra in MODES.items():
            path = Path(tmp) / f"{mode}.yaml"
            path.write_text(SCENE + extra)
            out = Path(tmp) / mode
            start = time.perf_counter()
            render_dataset(path, out, RenderOptions(frames=args.frames, render_config=args.preset, progress=False))
            stages = json.loads((out / "manifest.json").read_text())["timing"]["stage_seconds"]
            results[mode] = {"wall_s_per_frame": (time.perf_counter() - start) / args.frames,
                             **{k: v / args.frames for k, v in stages.items() if v}}
    print(f"| fog mode ({args.preset}, {args.frames} frames) | render s/frame | label pass s/frame | fog+sensor s/frame | wall s/frame |")
    print("|---|---|---|---|---|")
    for mode, r in results.items():
        print(f"| {mode} | {r.get('render', 0):.3f} | {r.get('label_passes', 0):.3f} | {r.get('sensor', 0):.3f} | "
              f"{r['wall_s_per_frame']:.3f} |")


if __name__ == "__main__":
    main()
