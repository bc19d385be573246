"""What an environment costs: generating its layout, building its meshes, and the render it makes.

For each type (room, tabletop, street; primitives only, no downloads) with ``every: 1`` (a new
layout every frame, the worst case): the layout's generation (pure sampling), the scene update
with the mesh rebuild, and the draft render of the same frames (the raw Cycles render, in the
same run), beside the same objects and camera on the open ground plane (``environment: open``).
Then memory over many scene updates, each a new layout, without rendering.

    python benchmarks/environments.py --frames 3 --updates 500
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from simgen.run.batch import RenderOptions, prepare
from simgen.run.redirect import redirect_output

CLASSES = {
    "room": [{"name": "cabinet", "asset": "primitive:cube", "count": [1, 2], "size_m": [0.6, 1.0], "against": "wall"},
             {"name": "chair", "asset": "primitive:cube", "count": [2, 4], "size_m": 0.5}],
    "tabletop": [{"name": "can", "asset": "primitive:cylinder", "count": [2, 5], "size_m": [0.06, 0.12]}],
    "street": [{"name": "car", "asset": "primitive:cube", "count": [2, 5], "size_m": 1.8, "stands_on": "lane"},
               {"name": "person", "asset": "primitive:cylinder", "count": [2, 5], "size_m": 0.5,
                "stands_on": "sidewalk"}],
}
CAMERAS = {"room": {"pose": {"sampler": "inside"}}, "tabletop": {"orbit": {"distance": [0.8, 1.6]}},
           "street": {"pose": {"sampler": "lane"}}}


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=3, help="rendered draft frames per type")
    parser.add_argument("--updates", type=int, default=500, help="scene updates (new layouts) for the memory check")
    args = parser.parse_args()
    from simgen.blender.backend import BlenderBackend
    from simgen.sampling import environment
    from simgen.sampling.sampler import FrameSampler, stage_rng

    rows, open_render = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, place in [(k, p) for k in ("room", "tabletop", "street") for p in (k, "open")]:
            path = Path(tmp) / f"{kind}.yaml"
            camera = CAMERAS[kind] if place != "open" else {"orbit": {"distance": [2, 4] if kind != "street" else [8, 16],
                                                                      "elevation_deg": [10, 40]}}
            path.write_text(yaml.safe_dump({"name": kind, "seed": 1, "frames": 1000, "render": "draft",
                                            "environment": {"type": place, "every": 1},
                                            "classes": CLASSES[kind] if place != "open" else [
                                                {k: v for k, v in c.items() if k not in ("against", "stands_on")}
                                                for c in CLASSES[kind]],
                                            "placement": {"area": [50, 10] if kind == "street" else [3, 3],
                                                          "on_failure": "drop"},
                                            "camera": camera}))
            scenario, preset, assets = prepare(path, RenderOptions())
            with redirect_output(Path(tmp) / "log"):
                backend = BlenderBackend(preset, "cpu")
                bounds = backend.load_assets(assets.all())
            sampler = FrameSampler(scenario, assets, bounds, preset.resolution, backend.asset_vertices)
            layout, sample, update, render = [], [], [], []
            for index in range(args.frames):
                start = time.perf_counter()
                frame = sampler.sample(index)  # generates the frame's layout
                sample.append(time.perf_counter() - start)
                start = time.perf_counter()
                environment.generate(scenario.environment, stage_rng(scenario.seed, index, "environment"))
                layout.append(time.perf_counter() - start)
                with redirect_output(Path(tmp) / "log"):
                    start = time.perf_counter()
                    backend.apply(frame)
                    update.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    backend.render()
                    render.append(time.perf_counter() - start)
            if place == "open":
                open_render[kind] = statistics.median(render)
                backend.close()
                continue
            pieces = len(frame.environment.pieces)
            env_cost = statistics.median(sample) + statistics.median(update)
            rows.append((kind, pieces, statistics.median(layout), statistics.median(sample), statistics.median(update),
                         statistics.median(render), env_cost / statistics.median(render)))
            if kind == "street" and args.updates:  # the biggest layouts: memory over many rebuilds
                import bpy

                before_rss, meshes = rss_mib(), len(bpy.data.meshes)
                marks = {}
                for index in range(args.frames, args.frames + args.updates):
                    with redirect_output(Path(tmp) / "log"):
                        backend.apply(sampler.sample(index))
                    if index - args.frames + 1 in (50, args.updates):
                        marks[index - args.frames + 1] = rss_mib()
                print(f"memory over {args.updates} new street layouts: peak RSS {before_rss:.0f} MiB before, "
                      f"{marks.get(50, 0):.0f} MiB after 50, {marks[args.updates]:.0f} MiB after {args.updates}; "
                      f"meshes {meshes} -> {len(bpy.data.meshes)}")
            backend.close()
    print("| type | boxes | layout (generate) | sample (incl. layout) | scene update (incl. mesh rebuild) | "
          "draft render | environment / render | render / open-ground render |")
    print("|---|---|---|---|---|---|---|---|")
    for kind, pieces, layout_s, sample_s, update_s, render_s, ratio in rows:
        print(f"| {kind} | {pieces} | {layout_s * 1000:.1f} ms | {sample_s * 1000:.1f} ms | {update_s * 1000:.0f} ms | "
              f"{render_s:.1f} s | {ratio * 100:.2f} % | {render_s / open_render[kind]:.2f} "
              f"({open_render[kind]:.1f} s) |")


if __name__ == "__main__":
    main()
