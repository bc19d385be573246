"""Per-frame cost of simgen's pipeline against the raw Cycles render of the identical scenes.

For each preset: (1) render N frames through the full pipeline (sample, scene update, render,
read-back, annotate, write) and take the per-stage seconds from manifest.json; (2) in the same
process, re-apply the same N FrameSpecs and time bpy.ops.render.render() alone: the physical
limit on this machine. Prints a Markdown table.

    python benchmarks/frame_overhead.py --scenario scenes/ycb_tabletop.yaml --presets preview draft -n 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from simgen.run.batch import RenderOptions, prepare, render_dataset
from simgen.run.redirect import redirect_output


def raw_render_seconds(scenario_path: Path, preset_name: str, frames: int, device: str, log: Path) -> list[float]:
    from simgen.blender.backend import BlenderBackend
    from simgen.sampling.sampler import FrameSampler

    scenario, preset, assets = prepare(scenario_path, RenderOptions(frames=frames, render_config=preset_name))
    with redirect_output(log):
        backend = BlenderBackend(preset, device)
        bounds = backend.load_assets(assets.all())
    sampler = FrameSampler(scenario, assets, bounds, preset.resolution, backend.asset_vertices)
    times = []
    for index in range(frames):
        backend.apply(sampler.sample(index))
        with redirect_output(log):
            start = time.perf_counter()
            backend.render()
            times.append(time.perf_counter() - start)
    backend.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="scenes/ycb_tabletop.yaml")
    parser.add_argument("--presets", nargs="+", default=["preview", "draft"])
    parser.add_argument("-n", "--frames", type=int, default=5)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    rows = []
    for preset in args.presets:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "ds"
            summary = render_dataset(Path(args.scenario), out, RenderOptions(
                frames=args.frames, render_config=preset, device=args.device, progress=False))
            stages = json.loads((out / "manifest.json").read_text())["timing"]["stage_seconds"]
            raw = raw_render_seconds(Path(args.scenario), preset, args.frames, args.device, Path(tmp) / "raw.log")
        per_frame = {k: v / args.frames for k, v in stages.items()}
        frame_total = sum(per_frame.values())
        row = {"preset": preset, "device": summary.device, "frames": args.frames,
               "stage_ms": {k: round(1000 * v, 1) for k, v in per_frame.items()},
               "frame_ms": round(1000 * frame_total, 1),
               "wall_ms_per_frame_incl_startup": round(1000 * summary.wall_seconds / args.frames, 1),
               "raw_render_ms_median": round(1000 * statistics.median(raw), 1),
               "raw_render_ms_mean": round(1000 * statistics.mean(raw), 1),
               "overhead_pct": round(100 * (frame_total - per_frame["render"] - per_frame.get("label_passes", 0))
                                     / frame_total, 1)}
        row["ratio_to_raw"] = round(frame_total / statistics.mean(raw), 3)
        rows.append(row)
    stages = list(rows[0]["stage_ms"]) if rows else []
    print("| preset | device | frames | " + " | ".join(stages) + " | frame | raw render (median) | frame / raw | "
          "non-render share |")
    print("|---" * (len(stages) + 7) + "|")
    for r in rows:
        cells = " | ".join(str(r["stage_ms"][stage]) for stage in stages)
        print(f"| {r['preset']} | {r['device']} | {r['frames']} | {cells} | {r['frame_ms']} | "
              f"{r['raw_render_ms_median']} | {r['ratio_to_raw']} | {r['overhead_pct']}% |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
