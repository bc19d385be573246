"""Frames sampled without Blender (from the geometry cache) against a Generator that builds its scene first.

    python benchmarks/sampling.py --scenario quickstart domain_randomization -n 500

Each scenario is checked once (which imports its assets and fills the cache), then sampled in a
fresh process where ``import bpy`` fails, and timed against the Blender scene set-up that sampling
needed before the cache.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CACHED = """
import json, statistics, sys, time
sys.modules["bpy"] = None
import simgen
start = time.perf_counter()
generator = simgen.Generator(sys.argv[1], render_config="preview")
generator.sample(0)
first = time.perf_counter() - start
times = []
for index in range(1, int(sys.argv[2]) + 1):
    start = time.perf_counter()
    generator.sample(index)
    times.append(time.perf_counter() - start)
print(json.dumps({"first_s": first, "median_ms": 1000 * statistics.median(times)}))
"""

BLENDER = """
import json, sys, time
import simgen
start = time.perf_counter()
generator = simgen.Generator(sys.argv[1], render_config="preview")
generator.sample(0)
generator._ready()
print(json.dumps({"setup_s": time.perf_counter() - start}))
"""


def run(code: str, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", nargs="+", default=["quickstart", "domain_randomization"])
    parser.add_argument("-n", type=int, default=500)
    args = parser.parse_args()
    print("| scenario | first frame without bpy (process start excluded) | median per frame | "
          "Blender scene + asset imports |")
    print("|---|---|---|---|")
    for name in args.scenario:
        subprocess.run([sys.executable, "-m", "simgen", "check", name, "--sample", "0"], check=True,
                       capture_output=True)
        cached, blender = run(CACHED, name, str(args.n)), run(BLENDER, name)
        print(f"| {name} | {cached['first_s'] * 1000:.0f} ms | {cached['median_ms']:.2f} ms | "
              f"{blender['setup_s']:.2f} s |")


if __name__ == "__main__":
    main()
