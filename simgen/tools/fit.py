"""``simgen fit REAL SCENARIO -o FITTED.yaml``: move a scenario's distributions towards a real dataset.

What the scenario controls and the real data shows, fitted without rendering where the geometry
suffices:

- Camera distance (``camera.orbit.distance``) from box sizes. The frames of the scenario are
  sampled (no render) and each labeled object's box is projected. An object's size in the image is
  k / d, with k set by its size and the lens and d the camera's distance, so every sampled object
  gives a k. The fit looks for the distance range (the scenario's own family, uniform or
  loguniform) whose k / d distribution is nearest the real box sizes (Kolmogorov-Smirnov, on a grid
  of medians and widths).
- Class counts (``classes[].count``) from the real objects per image of each class (matched by
  name): integer ranges with the real mean and spread.
- Exposure (``camera.exposure_ev``) from brightness. A few frames are rendered (``--renders``, 0 to
  skip) and the stops between their mean linear luminance and the real images' are added.

Writes the fitted scenario, with a ``lineage`` step that lists every change and the distances
before and after.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from simgen.dataset.reader import read_any_coco
from simgen.dataset.writer import atomic_write_bytes
from simgen.errors import OutputError
from simgen.tools.fidelity import box_attributes, image_attributes, ks_distance

POOL = 4000


def projected_sizes(generator: Any, frames: int) -> tuple[list[float], list[float], dict[str, list[int]]]:
    """Render-free: each sampled object's box size (sqrt of its clipped box area over the image's) and its
    frame's camera distance, and per class the objects per frame."""
    from simgen.annotate.amodal import camera_points, projected_extent, world_points

    sizes, distances, counts = [], [], {}
    hulls = generator.hulls()
    for index in range(frames):
        frame = generator.sample(index)
        camera = frame.camera
        K, w2c = np.array(camera.K), np.array(camera.world_to_camera)
        width, height = camera.resolution
        distance = math.dist(camera.location, camera.look_at)
        per_class: dict[str, int] = {}
        for obj in frame.objects:
            per_class[obj.class_name] = per_class.get(obj.class_name, 0) + 1
            extent = projected_extent(camera_points(world_points(obj, hulls[obj.asset]), w2c), K)
            if extent is None:
                continue
            x0, y0 = max(extent[0], 0.0), max(extent[1], 0.0)
            x1, y1 = min(extent[2], float(width)), min(extent[3], float(height))
            if x1 > x0 and y1 > y0:
                sizes.append(math.sqrt((x1 - x0) * (y1 - y0) / (width * height)))
                distances.append(distance)
        for cls in generator.scenario.classes:
            counts.setdefault(cls.name, []).append(per_class.get(cls.name, 0))
    return sizes, distances, counts


def fit_distance(real_sizes: list[float], sizes: list[float], distances: list[float], family: str,
                 seed: int = 0) -> tuple[tuple[float, float], float, float]:
    """The distance range (low, high) whose sizes k / d are nearest the real ones, and KS before and after."""
    rng = np.random.default_rng(seed)
    k = np.asarray(sizes) * np.asarray(distances)
    pool_k, pool_u = k[rng.integers(len(k), size=POOL)], rng.random(POOL)
    before = ks_distance(real_sizes, sizes)
    # the typical real distance if k were its median: the grid is centred there
    centre = float(np.median(k) / np.median(real_sizes))
    best = (float("inf"), (centre, centre))
    for median in centre * np.geomspace(0.5, 2.0, 61):
        for width in np.linspace(0.02, 0.95, 32):  # half-range as a share of the median
            low, high = median * (1 - width), median * (1 + width)
            if family == "loguniform":  # the same grid as ratios: median / r to median x r
                low, high = median / (1 + 2 * width), median * (1 + 2 * width)
                d = np.exp(np.log(low) + (np.log(high) - np.log(low)) * pool_u)
            else:
                d = low + (high - low) * pool_u
            distance = ks_distance(real_sizes, pool_k / d)
            if distance < best[0]:
                best = (distance, (float(low), float(high)))
    return best[1], before, best[0]


def integer_range(values: list[float]) -> list[int]:
    """[lo, hi] of a uniform integer distribution with these values' mean and spread."""
    mean, var = float(np.mean(values)), float(np.var(values))
    span = max(0, round(math.sqrt(12 * var + 1) - 1))
    low = max(0, round(mean - span / 2))
    return [low, low + span]


def _linear(value: float) -> float:
    v = value / 255
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def fit(real: Path, scenario_path: Path, frames: int = 200, renders: int = 4) -> tuple[dict[str, Any], list[str]]:
    """The fitted scenario (the file's own YAML, changed where the fit applies) and one line per change."""
    from simgen.api import Generator

    coco, root = read_any_coco(real)
    names = {c["id"]: c["name"] for c in coco["categories"]}
    real_boxes = box_attributes(coco, names)
    data = yaml.safe_load(scenario_path.read_text(encoding="utf-8"))
    fitted, changes = copy.deepcopy(data), []
    generator = Generator(scenario_path)
    try:
        sizes, distances, counts = projected_sizes(generator, frames)
        orbit = (fitted.get("camera") or {}).get("orbit")
        if orbit is not None or not any(k in (fitted.get("camera") or {}) for k in ("fixed", "band", "pose")):
            spec = generator.scenario.camera.orbit
            if spec is not None and spec.object_pixels is None and sizes:
                family = "loguniform" if spec.distance.kind == "loguniform" else "uniform"
                (low, high), before, after = fit_distance(real_boxes["box_size"].values, sizes, distances, family)
                value: Any = [round(low, 3), round(high, 3)]
                fitted.setdefault("camera", {}).setdefault("orbit", {})["distance"] = \
                    {"loguniform": value} if family == "loguniform" else value
                changes.append(f"camera.orbit.distance -> {family} [{low:.3g}, {high:.3g}] m: box size KS "
                               f"{before:.3f} -> {after:.3f}")
        per_image: dict[str, list[float]] = {}
        by_image = {image["id"]: {} for image in coco["images"]}
        for annotation in coco["annotations"]:
            if not annotation.get("iscrowd"):
                name = names.get(annotation["category_id"])
                by_image.setdefault(annotation["image_id"], {})[name] = by_image[annotation["image_id"]].get(name, 0) + 1
        for index, cls in enumerate(generator.scenario.classes):
            if cls.name not in names.values() or cls.position is not None:
                continue
            per_image[cls.name] = [float(found.get(cls.name, 0)) for found in by_image.values()]
            wanted = integer_range(per_image[cls.name])
            now = counts.get(cls.name, [0])
            fitted["classes"][index]["count"] = wanted
            changes.append(f"classes[{index}].count ({cls.name}) -> {wanted}: real {np.mean(per_image[cls.name]):.2f} "
                           f"per image, was {np.mean(now):.2f}")
        if renders > 0:
            real_look = image_attributes(coco, root, 50)["brightness"].values
            shots = [generator.render(i).rgb for i in range(renders)]
            synthetic = float(np.mean([_linear(float(np.mean(0.299 * s[..., 0] + 0.587 * s[..., 1] + 0.114 * s[..., 2])))
                                       for s in shots]))
            target = float(np.mean([_linear(v) for v in real_look]))
            stops = math.log2(max(target, 1e-6) / max(synthetic, 1e-6))
            exposure = generator.scenario.camera.exposure_ev
            shifted = [round(v + stops, 3) for v in exposure.params] if exposure.kind in ("uniform", "constant") else None
            if shifted is not None:
                fitted.setdefault("camera", {})["exposure_ev"] = shifted[0] if exposure.kind == "constant" else shifted
                changes.append(f"camera.exposure_ev {stops:+.2f} stops: mean linear luminance {synthetic:.3f} in "
                               f"{renders} render(s), {target:.3f} in the real images")
    finally:
        generator.close()
    return fitted, changes


def run_fit(args: argparse.Namespace) -> int:
    real, scenario, dest = Path(args.real), Path(args.scenario), Path(args.dest)
    if not scenario.is_file():
        raise OutputError(f"{scenario}: no such scenario file")
    fitted, changes = fit(real, scenario, args.frames, args.renders)
    coco_file = real / "annotations.json" if real.is_dir() else real
    fitted["lineage"] = [*(fitted.get("lineage") or []), {
        "step": "fit", "dataset": str(real), "dataset_digest": hashlib.sha256(coco_file.read_bytes()).hexdigest()[:16],
        "scenario": str(scenario), "changes": changes}]
    atomic_write_bytes(dest, yaml.safe_dump(fitted, sort_keys=False).encode("utf-8"))
    for line in changes or ["nothing the scenario controls could be fitted"]:
        print(f"  {line}")
    print(f"Wrote {dest}.")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fit", help="fit a scenario's camera distance, class counts and exposure to a real dataset",
        description="Adjust SCENARIO so that what it generates matches REAL (a COCO folder or file) where the "
                    "scenario controls it: camera distance from box sizes and class counts from objects per "
                    "image (both without rendering, from sampled frames), exposure from brightness (a few "
                    "renders). Writes FITTED.yaml with a lineage step listing each change and its distances.",
        epilog="example:\n  simgen fit real/annotations.json scenes/street.yaml -o street_fitted.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("real", metavar="REAL", help="the real dataset: a folder with annotations.json or a COCO file")
    parser.add_argument("scenario", metavar="SCENARIO", help="the scenario YAML to fit")
    parser.add_argument("-o", "--dest", default="fitted.yaml", metavar="YAML", help="the fitted scenario to write")
    parser.add_argument("--frames", type=int, default=200, help="frames sampled (not rendered) for the geometry (200)")
    parser.add_argument("--renders", type=int, default=4, help="frames rendered to fit the exposure (4; 0: skip)")
    parser.set_defaults(handler=run_fit)
