"""Scene update cost with many objects: 50 labeled (YCB meshes) and 30 distractors per frame.

Times BlenderBackend.apply (move, re-material, show/hide pooled objects, camera, lights,
world) over many frames after a warm-up frame that fills the pools. Nothing is re-imported.

    python benchmarks/scene_update.py -n 30
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from simgen.run.batch import RenderOptions, prepare
from simgen.run.redirect import redirect_output

SCENARIO = """
name: crowded
seed: 3
frames: 100
render: preview
classes:
  - {name: mug, asset: ycb:025_mug, count: 10, material: {mode: procedural}}
  - {name: can, asset: [ycb:005_tomato_soup_can, ycb:002_master_chef_can], count: 10}
  - {name: box, asset: [ycb:003_cracker_box, ycb:004_sugar_box], count: 10, rotation: free}
  - {name: fruit, asset: [ycb:011_banana, ycb:013_apple, ycb:017_orange], count: 10}
  - {name: ball, asset: primitive:sphere, count: 10, scale: 0.08}
placement: {area: [3, 3], min_gap: 0.005}
distractors: {count: 30, scale: [0.03, 0.12], near_camera: 0.2}
lights: {count: 2}
camera: {orbit: {distance: [3, 4]}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--frames", type=int, default=30)
    args = parser.parse_args()
    from simgen.blender.backend import BlenderBackend
    from simgen.sampling.sampler import FrameSampler

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "crowded.yaml"
        path.write_text(SCENARIO)
        scenario, preset, assets = prepare(path, RenderOptions())
        log = Path(tmp) / "log"
        with redirect_output(log):
            backend = BlenderBackend(preset, "cpu")
            start = time.perf_counter()
            bounds = backend.load_assets(assets.all())
            load = time.perf_counter() - start
        sampler = FrameSampler(scenario, assets, bounds, preset.resolution, backend.asset_vertices)
        frames = [sampler.sample(i) for i in range(args.frames + 1)]
        labeled = [len(f.objects) for f in frames]
        distractors = [len(f.distractors) for f in frames]
        sample_times, apply_times = [], []
        for i, frame in enumerate(frames):
            start = time.perf_counter()
            sampler.sample(i)
            sample_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            backend.apply(frame)
            apply_times.append(time.perf_counter() - start)
        backend.close()
    steady = apply_times[1:]  # frame 0 fills the pools (creates objects and materials once)
    print(f"assets loaded once in {load * 1000:.0f} ms; labeled objects per frame: median {statistics.median(labeled)}, "
          f"distractors: median {statistics.median(distractors)}")
    print(f"scene update (apply): first frame {apply_times[0] * 1000:.1f} ms, then median {statistics.median(steady) * 1000:.1f} ms, "
          f"max {max(steady) * 1000:.1f} ms over {len(steady)} frames")
    print(f"sampling: median {statistics.median(sample_times) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
