"""Render-time cost of each weather mode against clear weather, for the same frames in one run.

Fog comes in two modes: analytic (Beer-Lambert from the depth pass, after the render) and Cycles
volume scattering seen by camera rays; rain is drawn after the render from the rain rate (or, in
streaks mode, hundreds of rods in the scene); snow adds flakes; all change every material.

    python benchmarks/weather_modes.py --preset draft -n 2
"""

from __future__ import annotations

import argparse
import json
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
MODES = {"clear": "", "fog (analytic)": "weather: {fog: {mode: analytic, visibility_m: 7.5}}\n",
         "fog (volume)": "weather: {fog: {mode: volume, visibility_m: 7.5}}\n",
         "rain (analytic, 10 mm/h, 1/60 s)": "weather: {rain: {rate_mm_h: 10, exposure_s: 0.0167}}\n",
         "rain (streaks mode, 300 rods)": "weather: {rain: {mode: streaks, streaks: 300}}\n",
         "snow": "weather: {snow: {flakes: 300}}\n",
         "night (lux lamps, auto-exposure)": "conditions: {night: 1.0}\n"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="preview")
    parser.add_argument("-n", "--frames", type=int, default=4)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode, extra in MODES.items():
            path = Path(tmp) / f"mode{len(results)}.yaml"
            path.write_text(SCENE + extra)
            out = Path(tmp) / path.stem
            start = time.perf_counter()
            render_dataset(path, out, RenderOptions(frames=args.frames, render_config=args.preset, progress=False))
            stages = json.loads((out / "manifest.json").read_text())["timing"]["stage_seconds"]
            results[mode] = {"wall_s_per_frame": (time.perf_counter() - start) / args.frames,
                             **{k: v / args.frames for k, v in stages.items() if v}}
    clear = results["clear"]["render"]
    print(f"| weather ({args.preset}, {args.frames} frames) | render s/frame | x clear | label pass s/frame | "
          f"scene update s/frame | fog, rain and sensor (post) s/frame |")
    print("|---|---|---|---|---|---|")
    for mode, r in results.items():
        print(f"| {mode} | {r.get('render', 0):.3f} | {r.get('render', 0) / clear:.2f} | {r.get('label_passes', 0):.3f} | "
              f"{r.get('scene_update', 0):.3f} | {r.get('sensor', 0):.3f} |")


if __name__ == "__main__":
    main()
