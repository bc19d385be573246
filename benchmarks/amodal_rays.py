"""Amodal masks cast from the label rays against the isolated renders they replace: agreement and cost.

For each frame of a scenario: the main render (and its label pass where the frame needs one), then
(1) the isolated passes the frame plan asks for, timed; (2) the cast of the same objects, timed;
(3) every object cast in its window and rendered alone, compared pixel by pixel. Prints
per frame and a summary line: the pixels the cast lacks and adds against the render alone, and how
many added ones are not among the object's own visible pixels.

    python benchmarks/amodal_rays.py --scenario scenes/street.yaml --preset preview -n 8
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from simgen.annotate.frame import plan_frame
from simgen.run.batch import RenderOptions, prepare
from simgen.run.frame_job import needs_label_pass
from simgen.run.redirect import redirect_output
from simgen.sampling.sampler import FrameSampler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="scenes/street.yaml")
    parser.add_argument("--preset", default="preview")
    parser.add_argument("-n", "--frames", type=int, default=8)
    args = parser.parse_args()
    from simgen.blender.backend import BlenderBackend

    scratch = Path(tempfile.mkdtemp(prefix="simgen-amodal-"))
    log = scratch / "blender.log"
    scenario, preset, assets = prepare(Path(args.scenario), RenderOptions(render_config=args.preset,
                                                                          frames=args.frames))
    with redirect_output(log):
        backend = BlenderBackend(preset, "cpu")
        bounds = backend.load_assets(assets.all())
    sampler = FrameSampler(scenario, assets, bounds, preset.resolution, backend.asset_vertices)
    missing = extra = unseen = pixels = objects = 0
    passes_s = cast_s = 0.0
    for index in range(args.frames):
        frame = sampler.sample(index)
        with redirect_output(log):
            backend.apply(frame)
            backend.render()
            passes = backend.save_outputs(scratch / "rgb.png")
            if needs_label_pass(frame):
                passes = backend.render_labels()
        plan = plan_frame(frame, backend.asset_vertices, bounds)
        ids = [o.instance_id for o in frame.objects]
        with redirect_output(log):
            start = time.perf_counter()
            backend.render_isolated(*plan.passes(set(plan.hidden)))
            middle = time.perf_counter()
            _, left = backend.cast_amodal(plan.hidden, passes, {i: plan.window(i) for i in plan.hidden})
            end = time.perf_counter()
            whole, _ = backend.cast_amodal(ids, passes, {i: plan.window(i) for i in ids})
            alone = backend.render_isolated([[i] for i in whole])
        passes_s += middle - start
        cast_s += end - middle
        for i, mask in whole.items():
            missing += int((alone[i] & ~mask).sum())
            extra += int((mask & ~alone[i]).sum())
            unseen += int((mask & ~alone[i] & (passes.instance != i)).sum())
            pixels += int(alone[i].sum())
            objects += 1
        print(f"frame {index}: {len(ids)} objects, {len(plan.hidden)} may be hidden, left to a pass {left}; "
              f"isolated passes {1e3 * (middle - start):.0f} ms, cast {1e3 * (end - middle):.0f} ms", flush=True)
    backend.close()
    print(f"{args.scenario} ({args.preset}): {objects} objects, {pixels} pixels alone; cast lacks {missing}, "
          f"adds {extra} ({unseen} of them not visible pixels of the object); per frame: isolated passes {1e3 * passes_s / args.frames:.0f} ms, "
          f"cast {1e3 * cast_s / args.frames:.0f} ms")


if __name__ == "__main__":
    main()
