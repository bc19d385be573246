"""``simgen diff OUT_A OUT_B``: what differs between two datasets, in how they were made and in what they hold.

The configuration side compares the resolved scenarios, render presets, devices and versions recorded
in each manifest.json, key by key (``classes[mug].count.uniform``: list entries that carry a ``name``
are matched by name, so reordering classes is not a difference). The statistics side compares counts,
crowding, visibility, box sizes, condition coverage and speed, so a changed knob can be read next to
what it did.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from simgen.dataset.manifest import read_manifest
from simgen.errors import OutputError
from simgen.dataset.reader import dig
from simgen.tools.report import annotations_per_image, condition_coverage, condition_targets

MISSING = "(absent)"
CONFIG_KEYS = ("scenario", "render_preset", "device", "simgen_version", "blender_version")


@dataclass(frozen=True)
class Difference:
    key: str
    a: Any
    b: Any


def compare(a: Any, b: Any, key: str = "") -> list[Difference]:
    """Where two values differ, at the deepest key that both sides have: a class only one scenario has is one
    difference, not one per field."""
    if a == b:
        return []
    parts = comparable_parts(a, b)
    if parts is None:
        return [Difference(key, a, b)]
    a, b = parts
    return [difference for child in sorted(set(a) | set(b))
            for difference in compare(a.get(child, MISSING), b.get(child, MISSING), join(key, child))]


def comparable_parts(a: Any, b: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Both sides as mappings to compare key by key, or None to show them whole. Lists of named entries are
    matched by name (reordering classes is no difference); mappings only when they share a key, since a
    changed distribution ({uniform: ...} to {choice: ..., weights: ...}) reads better as one line."""
    if named_list(a) and named_list(b):
        return {f"[{v['name']}]": v for v in a}, {f"[{v['name']}]": v for v in b}
    if isinstance(a, dict) and isinstance(b, dict) and set(a) & set(b):
        return {str(k): v for k, v in a.items()}, {str(k): v for k, v in b.items()}
    return None


def named_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and "name" in v for v in value)


def join(prefix: str, key: str) -> str:
    return f"{prefix}{key}" if key.startswith("[") or not prefix else f"{prefix}.{key}"


def manifest_of(out: Path) -> dict[str, Any]:
    manifest = read_manifest(out)
    if manifest is None:
        raise OutputError(f"{out} has no readable manifest.json; is it the OUT folder of a 'simgen render' run?")
    return manifest


def config_of(manifest: dict[str, Any]) -> dict[str, Any]:
    return {key: manifest.get(key, MISSING) for key in CONFIG_KEYS}


Stats = dict[str, dict[str, float]]  # group -> statistic -> value


def stats_of(out: Path, manifest: dict[str, Any]) -> Stats:
    """Numbers that summarise a dataset, in groups; absent ones (no labels, no timing) are left out."""
    from simgen.tools.evaluate import load_dataset

    coco = load_dataset(out)
    images, annotations = coco["images"], coco["annotations"]
    counts: dict[str, float] = {"images": len(images), "labeled objects": len(annotations)}
    if images:
        counts["objects per image (mean)"] = statistics.fmean(annotations_per_image(coco))
    per_class = Counter(a["category_id"] for a in annotations)
    labels: dict[str, float] = {}
    if annotations:
        labels["fully visible (fraction)"] = statistics.fmean(a.get("visibility") == 1.0 for a in annotations)
        labels["truncated (fraction)"] = statistics.fmean(bool(a.get("truncated")) for a in annotations)
        labels["box size px (median sqrt w*h)"] = statistics.median(math.sqrt(a["bbox"][2] * a["bbox"][3])
                                                                    for a in annotations)
    coverage = condition_coverage(images, condition_targets(manifest)) if images else []
    timing = dig(manifest, "timing") or {}
    speed = ({"seconds per frame (last run)": timing["wall_seconds"] / timing["frames_rendered"]}
             if timing.get("wall_seconds") and timing.get("frames_rendered") else {})
    return {
        "counts": counts,
        "classes": {f"instances of {c['name']}": per_class[c["id"]] for c in coco["categories"]},
        "labels": labels,
        "conditions": {f"frames with {row.tag}": row.fraction for row in coverage},
        "speed": speed,
    }


def show(value: Any, limit: int = 60) -> str:
    """Numbers to 4 significant digits, anything else as compact JSON cut to ``limit`` characters."""
    if isinstance(value, float):
        return f"{value:.4g}"
    text = value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "))
    return text if len(text) <= limit else text[:limit - 3] + "..."


def columns(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(len(header) - 1)]
    return "\n".join(("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1]).rstrip()
                     for row in [header, *rows])


def format_diff(config: list[Difference], stats: list[Difference], out_a: Path, out_b: Path) -> str:
    """Configuration differences, then every statistic side by side with its change."""
    parts = [f"A = {out_a}\nB = {out_b}\n"]
    if config:
        parts.append(columns(("CONFIG", "A", "B"), [(d.key, show(d.a), show(d.b)) for d in config]))
    else:
        parts.append("Same configuration (scenario, render preset, device, versions).")
    rows = [(d.key, show(d.a), show(d.b), _change(d.a, d.b)) for d in stats]
    parts.append("\n" + columns(("STATISTIC", "A", "B", "B - A"), rows))
    return "\n".join(parts)


def _change(a: Any, b: Any) -> str:
    if not (isinstance(a, (int, float)) and isinstance(b, (int, float))) or a == b:
        return ""
    return f"{b - a:+d}" if isinstance(a, int) and isinstance(b, int) else f"{b - a:+.4g}"


def diff_datasets(out_a: Path, out_b: Path) -> tuple[list[Difference], list[Difference]]:
    """(configuration differences, every statistic of both datasets side by side, group by group)."""
    manifest_a, manifest_b = manifest_of(out_a), manifest_of(out_b)
    config = compare(config_of(manifest_a), config_of(manifest_b))
    stats_a, stats_b = stats_of(out_a, manifest_a), stats_of(out_b, manifest_b)
    stats = []
    for group, a in stats_a.items():
        b = stats_b[group]
        keys = list(a) + [key for key in b if key not in a]
        stats += [Difference(key, a.get(key, MISSING), b.get(key, MISSING)) for key in keys]
    return config, stats


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``diff`` to the ``simgen`` subcommands."""
    parser = subparsers.add_parser(
        "diff", help="compare two datasets: configuration and statistics",
        description="Compare two datasets written by 'simgen render': the resolved scenario, render preset, device "
                    "and versions from each manifest.json, key by key; then image and object counts, objects per "
                    "image, visibility, truncation, box size, condition coverage and speed side by side.")
    parser.add_argument("out_a", metavar="OUT_A", help="first dataset folder")
    parser.add_argument("out_b", metavar="OUT_B", help="second dataset folder")
    parser.add_argument("--json", action="store_true", help="print the differences as JSON")
    parser.set_defaults(handler=_diff_command)


def _diff_command(args: argparse.Namespace) -> int:
    out_a, out_b = Path(args.out_a), Path(args.out_b)
    config, stats = diff_datasets(out_a, out_b)
    if args.json:
        print(json.dumps({"config": [vars(d) for d in config], "stats": [vars(d) for d in stats]}, indent=2))
    else:
        print(format_diff(config, stats, out_a, out_b))
    return 0
