"""``simgen focus DATASET PREDICTIONS -o NEXT.yaml``: where a detector fails, and the scenario that
renders more of it.

Each ground-truth object is *found* when a prediction of its class with score >= ``--score``
overlaps it with IoU >= ``--iou`` (greedy, highest score first, one prediction per object, as
COCO matches). Objects are then sliced by what is known about them: their image's condition tags,
class, pixel size, visibility, and the sampled parameters of their frame (fog visibility, sun
elevation, illuminance at the object, camera distance). Numeric ones are cut into equal-count bins.
A slice *fails* when the upper end of its recall's Wilson interval is below the overall recall:
fewer objects found there than chance explains. The intervals hold together at 95 % over all the
slices tested (Bonferroni), so a detector that fails nowhere in particular gets no patch.

The patch raises the share of each failing condition once (to twice its share, at least +0.2, at
most 0.6; raising again for a second sign of the same failure made training sets too hard for the
detector to learn in the same time, see docs/focus_loop.md), narrows the fog condition's visibility
to the failing values, adds a condition that puts 0.2 of the frames at a failing sun elevation (the
rest keep the scenario's range), and raises heavy occlusion, tiny
objects or night where visibility, pixel size or illuminance fail at the low end. Objects past the meteorological visibility
(fog transmittance under 5 %) are left out: no camera sees them, so training on more of them only
teaches a detector to guess. On a dataset without simgen's parameters (a real one)
only size, position, visibility and crowding can be sliced; the report says so.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import html
import json
import math
from collections import defaultdict
from statistics import NormalDist
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import yaml

from simgen.dataset.manifest import read_manifest
from simgen.dataset.reader import dig, read_any_coco
from simgen.dataset.writer import atomic_write_bytes, replaceable
from simgen.errors import OutputError
from simgen.sampling.frame_spec import CONTRAST_LN

Z95 = 1.96


@dataclass
class Slice:
    feature: str
    label: str  # "fog", "[12.3, 25.0)", ...
    found: int
    total: int
    low: float | None = None  # the bin's numeric range, for numeric features
    high: float | None = None
    missed: tuple[float, float] | None = None  # the lowest and highest value of the objects it missed

    @property
    def recall(self) -> float:
        return self.found / self.total if self.total else 0.0

    def interval(self, z: float = Z95) -> tuple[float, float]:
        """The Wilson score interval of the recall (95 % by default)."""
        n, p = self.total, self.recall
        if n == 0:
            return 0.0, 1.0
        centre = (p + z ** 2 / (2 * n)) / (1 + z ** 2 / n)
        half = z * math.sqrt(p * (1 - p) / n + z ** 2 / (4 * n * n)) / (1 + z ** 2 / n)
        return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Focus:
    overall: Slice
    slices: list[Slice]
    failing: list[Slice]
    unknown: list[str] = field(default_factory=list)  # what a dataset without simgen's parameters cannot tell


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w, h = min(ax2, bx2) - max(a[0], b[0]), min(ay2, by2) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def found_objects(coco: dict[str, Any], predictions: list[dict[str, Any]], iou_min: float = 0.5,
                  score_min: float = 0.3) -> dict[int, bool]:
    """Annotation id -> whether a prediction found it (crowd regions are left out)."""
    by_key: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for prediction in predictions:
        if prediction.get("score", 1.0) >= score_min:
            by_key[(prediction["image_id"], prediction["category_id"])].append(prediction)
    truths: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for annotation in coco["annotations"]:
        if not annotation.get("iscrowd"):
            truths[(annotation["image_id"], annotation["category_id"])].append(annotation)
    found = {}
    for key, annotations in truths.items():
        free = {a["id"]: a for a in annotations}
        for prediction in sorted(by_key.get(key, []), key=lambda p: -p.get("score", 1.0)):
            best = max(free.values(), key=lambda a: iou(a["bbox"], prediction["bbox"]), default=None)
            if best is not None and iou(best["bbox"], prediction["bbox"]) >= iou_min:
                found[best["id"]] = True
                del free[best["id"]]
        found.update({a_id: False for a_id in free})
    return found


def _fog_visibility(params: dict[str, Any]) -> float | None:
    density = dig(params, "fog", "density")
    return CONTRAST_LN / density if isinstance(density, (int, float)) and density > 0 else None


def _camera_distance(params: dict[str, Any]) -> float | None:
    location, target = dig(params, "camera", "location"), dig(params, "camera", "look_at")
    return math.dist(location, target) if location and target else None


NUMERIC: dict[str, Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], Any]] = {
    # name -> (annotation, image, image params) -> value
    "pixel_size": lambda a, im, p: math.sqrt(max(a["bbox"][2] * a["bbox"][3], 0.0)),
    "visibility": lambda a, im, p: a.get("visibility"),
    "box_y": lambda a, im, p: (a["bbox"][1] + a["bbox"][3] / 2) / im["height"],
    "objects_in_image": lambda a, im, p: im.get("_objects"),
    "fog_visibility_m": lambda a, im, p: _fog_visibility(p),
    "sun_elevation_deg": lambda a, im, p: dig(p, "sun", "elevation_deg"),
    "illuminance_lux": lambda a, im, p: a.get("illuminance_lux"),
    "camera_distance_m": lambda a, im, p: _camera_distance(p),
}


def _quantile_slices(feature: str, values: list[tuple[float, bool]]) -> list[Slice]:
    """Equal-count bins: 4, or up to 10 when there are 25 objects or more per bin."""
    numbers = np.array([v for v, _ in values])
    bins = int(np.clip(len(values) // 25, 4, 10))
    edges = np.unique(np.percentile(numbers, np.linspace(0, 100, bins + 1)))
    if len(edges) < 2:
        return []
    slices = []
    for k, (low, high) in enumerate(zip(edges[:-1], edges[1:])):
        last = k == len(edges) - 2
        inside = [(v, hit) for v, hit in values if low <= v and (v < high or (last and v <= high))]
        misses = [v for v, hit in inside if not hit]
        close = "]" if last else ")"
        slices.append(Slice(feature, f"[{low:.3g}, {high:.3g}{close}", sum(hit for _, hit in inside), len(inside),
                            float(low), float(high), (min(misses), max(misses)) if misses else None))
    return slices


BEYOND_SIGHT = 0.05  # an object whose light reaches the camera at under 5 % of its contrast is past the
# meteorological visibility: no camera sees it, so missing it is no failure to train away


def analyse(coco: dict[str, Any], found: dict[int, bool]) -> Focus:
    images = {image["id"]: image for image in coco["images"]}
    unseeable = {a["id"] for a in coco["annotations"] if isinstance(a.get("fog_transmittance"), (int, float))
                 and a["fog_transmittance"] < BEYOND_SIGHT}
    found = {key: hit for key, hit in found.items() if key not in unseeable}
    counts: dict[int, int] = defaultdict(int)
    for annotation in coco["annotations"]:
        counts[annotation["image_id"]] += 1
    names = {c["id"]: c["name"] for c in coco["categories"]}
    groups: dict[tuple[str, str], list[bool]] = defaultdict(list)
    numbers: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    has_params = any("params" in image for image in coco["images"])
    for annotation in coco["annotations"]:
        if annotation["id"] not in found:
            continue
        hit = found[annotation["id"]]
        image = {**images[annotation["image_id"]], "_objects": counts[annotation["image_id"]]}
        params = image.get("params") or {}
        groups[("class", names.get(annotation["category_id"], str(annotation["category_id"])))].append(hit)
        if has_params:
            for tag in image.get("conditions") or ["clear"]:
                groups[("condition", tag)].append(hit)
        for feature, read in NUMERIC.items():
            value = read(annotation, image, params)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                numbers[feature].append((float(value), hit))
    hits = list(found.values())
    overall = Slice("all", "all", sum(hits), len(hits))
    slices = [Slice(kind, label, sum(v), len(v)) for (kind, label), v in sorted(groups.items())]
    for feature, values in numbers.items():
        slices += _quantile_slices(feature, values)
    # many slices are tested at once: widen each interval so that all of them hold together at 95 % (Bonferroni)
    z = NormalDist().inv_cdf(1 - 0.025 / max(len(slices), 1))
    failing = sorted((s for s in slices if s.total and s.interval(z)[1] < overall.recall), key=lambda s: s.recall)
    unknown = [] if has_params else ["condition tags and sampled parameters (fog, light, camera): the dataset "
                                     "records none, so only size, position, visibility and crowding are sliced"]
    if unseeable:
        unknown.append(f"{len(unseeable)} objects are beyond the visibility (fog transmittance under "
                       f"{BEYOND_SIGHT:.0%}): no camera sees them, so they are left out of every slice")
    return Focus(overall, slices, failing, unknown)


def raised(share: float) -> float:
    return round(min(0.6, max(2 * share, share + 0.2)), 3)


def patch(scenario: dict[str, Any], focus: Focus) -> tuple[dict[str, Any], list[str]]:
    """The scenario with more of what fails, and one line per change saying why."""
    data = copy.deepcopy(scenario)
    conditions = data.setdefault("conditions", {})
    reasons = []

    def share_of(name: str) -> float:
        target = conditions.get(name, 0.0)
        return float(target.get("fraction", 0.0)) if isinstance(target, dict) else float(target)

    def set_share(name: str, value: float, override: dict[str, Any] | None = None) -> None:
        current = conditions.get(name)
        if override is not None or isinstance(current, dict):
            entry = dict(current) if isinstance(current, dict) else {}
            entry["fraction"] = value
            if override is not None:
                entry["override"] = override
            conditions[name] = entry
        else:
            conditions[name] = value

    def because(s: Slice) -> str:
        low, high = s.interval()
        return (f"recall {s.recall:.2f} (95 % {low:.2f}-{high:.2f}, {s.total} objects) against "
                f"{focus.overall.recall:.2f} overall")

    done: set[str] = set()  # conditions raised already: a second failing sign of one condition raises it no more

    def raise_once(name: str, why: str) -> None:
        before = share_of(name)
        if name in done:
            reasons.append(f"conditions.{name}: stays {before:g} (raised already), also {why}")
            return
        set_share(name, raised(before))
        done.add(name)
        reasons.append(f"conditions.{name}: {before:g} -> {share_of(name):g}: {why}")

    ranges: dict[str, list[Slice]] = defaultdict(list)
    for s in focus.failing:
        if s.feature == "condition" and s.label != "clear":
            raise_once(s.label, because(s))
        elif s.low is not None:
            ranges[s.feature].append(s)
    for feature, bins in ranges.items():  # from the lowest to the highest value missed in the failing bins
        low = min(b.missed[0] if b.missed else b.low for b in bins)
        high = max(b.missed[1] if b.missed else b.high for b in bins)
        why = "; ".join(f"{b.label}: {because(b)}" for b in bins)
        if feature == "fog_visibility_m":
            fog = {"weather": {"fog": {"density": None, "relative_visibility": None,
                                       "visibility_m": [round(low, 3), round(high, 3)]}}}
            share = share_of("fog") if "fog" in done else raised(share_of("fog"))
            done.add("fog")
            set_share("fog", share, fog)
            reasons.append(f"conditions.fog: visibility_m [{low:.3g}, {high:.3g}], share {share_of('fog'):g}: {why}")
        elif feature == "sun_elevation_deg":  # a share of frames there, not the whole scenario moved
            name = "focus_low_sun" if low <= min(b.low for b in focus.slices if b.feature == feature) else \
                "focus_sun_elevation"
            set_share(name, 0.2, {"sun": {"elevation_deg": [round(low, 2), round(high, 2)]}})
            reasons.append(f"conditions.{name}: 0.2 of frames with sun.elevation_deg [{low:.3g}, {high:.3g}]: {why}")
        elif feature in ("visibility", "pixel_size", "illuminance_lux") and min(b.low for b in bins) == min(
                b.low for b in focus.slices if b.feature == feature and b.low is not None):  # fails at the low end
            name = {"visibility": "heavy_occlusion", "pixel_size": "tiny_objects", "illuminance_lux": "night"}[feature]
            raise_once(name, f"{feature} {why}")
        else:
            reasons.append(f"{feature} in [{low:.3g}, {high:.3g}] fails ({why}); no scenario field controls it "
                           f"directly: left as it is")
    return data, reasons


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def run_focus(args: argparse.Namespace) -> int:
    from simgen.tools.evaluate import load_predictions

    dataset, dest = Path(args.dataset), Path(args.dest)
    coco, _ = read_any_coco(dataset)
    predictions = load_predictions(Path(args.predictions))
    focus = analyse(coco, found_objects(coco, predictions, args.iou, args.score))
    manifest = read_manifest(dataset) if dataset.is_dir() else None
    if args.scenario is not None:  # e.g. the training set's scenario, patched by the test set's failures
        scenario = yaml.safe_load(Path(args.scenario).read_text(encoding="utf-8"))
    else:
        scenario = (manifest or {}).get("scenario")
        if scenario is None:
            raise OutputError(f"{dataset} has no simgen manifest; give the scenario to patch with --scenario FILE")
    next_scenario, reasons = patch(scenario, focus)
    next_scenario["lineage"] = [*(scenario.get("lineage") or []), {
        "step": "focus", "dataset": (manifest or {}).get("identity") or str(dataset),
        "predictions": _digest(Path(args.predictions)), "overall_recall": round(focus.overall.recall, 4),
        "changes": reasons}]
    report = dest.with_suffix(".html")
    if dest.suffix not in (".yaml", ".yml"):
        raise OutputError(f"-o {dest}: expected a .yaml file for the patched scenario")
    replaceable(report, "<title>simgen focus</title>")
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(dest, yaml.safe_dump(next_scenario, sort_keys=False).encode("utf-8"))
    atomic_write_bytes(report, focus_page(focus, reasons).encode("utf-8"))
    print(f"Recall {focus.overall.recall:.3f} over {focus.overall.total} objects; {len(focus.failing)} failing slice(s).")
    for line in reasons or ["nothing fails beyond chance: the scenario is unchanged"]:
        print(f"  {line}")
    for line in focus.unknown:
        print(f"  cannot know: {line}")
    print(f"Wrote {dest} (render it next) and {report}.")
    return 0


def focus_page(focus: Focus, reasons: list[str]) -> str:
    from simgen.tools.report import CSS, meter, table

    rows = [[html.escape(s.feature), html.escape(s.label), f"{meter(s.recall, warn=s in focus.failing)} {s.recall:.3f}",
             "%.2f-%.2f" % s.interval(), str(s.total), "fails" if s in focus.failing else ""]
            for s in sorted(focus.slices, key=lambda s: s.recall)]
    changes = "".join(f"<li>{html.escape(line)}</li>" for line in reasons) or "<li>none</li>"
    unknown = "".join(f"<li>{html.escape(line)}</li>" for line in focus.unknown)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>simgen focus</title><style>{CSS}</style></head>"
            f"<body><h1>Where the detector fails</h1><p>Recall {focus.overall.recall:.3f} over "
            f"{focus.overall.total} objects. A slice fails when its recall's 95 % interval lies below that.</p>"
            f"<h2>Changes to the scenario</h2><ul>{changes}</ul>"
            + (f"<h2>Cannot know</h2><ul>{unknown}</ul>" if unknown else "")
            + "<h2>Slices, worst first</h2>"
            + table(["feature", "slice", "recall", "95 %", "objects", ""], rows) + "</body></html>")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "focus", help="find where a detector fails and write the scenario that renders more of it",
        description="Match PREDICTIONS (COCO results JSON) to DATASET's objects, slice recall by condition, class, "
                    "size, visibility and sampled parameters, and write NEXT.yaml: the dataset's scenario with "
                    "more of the failing conditions and narrower ranges towards the failing values, plus an HTML "
                    "report of every slice beside it.",
        epilog="example:\n  simgen focus out/test predictions.json -o next.yaml && simgen render next.yaml -o out/next",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", metavar="DATASET", help="a simgen dataset folder (or any COCO folder or file)")
    parser.add_argument("predictions", metavar="PREDICTIONS", help="detections as a COCO results JSON list")
    parser.add_argument("-o", "--dest", default="next.yaml", metavar="YAML", help="the patched scenario to write")
    parser.add_argument("--scenario", metavar="FILE", help="the scenario to patch (default: the one DATASET was "
                                                           "rendered from); e.g. the training set's")
    parser.add_argument("--iou", type=float, default=0.5, help="IoU at which a prediction finds an object (0.5)")
    parser.add_argument("--score", type=float, default=0.3, help="lowest score that counts as a detection (0.3)")
    parser.set_defaults(handler=run_focus)
