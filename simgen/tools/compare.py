"""``simgen compare REAL SYNTH``: how far a synthetic dataset is from the real one it stands in for.

Both are COCO datasets (a folder with annotations.json, or a COCO JSON file; REAL need not come from
simgen). Categories are matched by name, ``--class-map SYNTH=REAL`` renames synthetic ones. The
attributes and their distances are in simgen/tools/fidelity.py. Writes one self-contained HTML
page (a table ranked by distance, a plot per attribute with both distributions) and the same
figures as JSON.
"""

from __future__ import annotations

import argparse
import html
import io
import json
from pathlib import Path
from typing import Any

from simgen.dataset.reader import read_any_coco
from simgen.dataset.writer import atomic_write_bytes, atomic_write_json, replaceable
from simgen.errors import OutputError
from simgen.tools.args import positive_int
from simgen.tools.fidelity import Attribute, Difference, box_attributes, compare, image_attributes

REAL_COLOR, SYNTH_COLOR = "#555555", "#3b6ea5"


def attributes(path: Path, max_images: int, rename: dict[str, str] | None = None) -> dict[str, Attribute]:
    coco, root = read_any_coco(path)
    names = {c["id"]: (rename or {}).get(c["name"], c["name"]) for c in coco["categories"]}
    return {**box_attributes(coco, names), **image_attributes(coco, root, max_images)}


def compare_datasets(real: Path, synthetic: Path, class_map: dict[str, str] | None = None,
                     max_images: int = 300) -> tuple[list[Difference], dict[str, Attribute], dict[str, Attribute]]:
    a, b = attributes(real, max_images), attributes(synthetic, max_images, class_map)
    return compare(a, b), a, b


def _plot(name: str, a: Attribute, b: Attribute) -> bytes:
    from simgen.tools.report import PLOT_DPI, new_figure

    figure, (ax,) = new_figure(1, height_in=2.2, width_in=4.6)
    if a.kind == "categorical":
        keys = sorted(set(a.counts) | set(b.counts), key=lambda k: -(a.counts[k] + b.counts[k]))[:16]
        ta, tb = sum(a.counts.values()) or 1, sum(b.counts.values()) or 1
        positions = range(len(keys))
        ax.bar([p - 0.2 for p in positions], [a.counts[k] / ta for k in keys], 0.4, color=REAL_COLOR, label="real")
        ax.bar([p + 0.2 for p in positions], [b.counts[k] / tb for k in keys], 0.4, color=SYNTH_COLOR,
               label="synthetic")
        ax.set_xticks(list(positions), [str(k) for k in keys], rotation=45, ha="right", fontsize=7)
        ax.set_ylabel("share")
    else:
        values = [v for v in a.values + b.values]
        if values:
            low, high = min(values), max(values)
            bins = 24 if high > low else 1
            ax.hist(a.values, bins=bins, range=(low, high), density=True, alpha=0.55, color=REAL_COLOR, label="real")
            ax.hist(b.values, bins=bins, range=(low, high), density=True, alpha=0.55, color=SYNTH_COLOR,
                    label="synthetic")
        ax.set_ylabel("density")
    ax.set_title(name, fontsize=9)
    ax.legend(fontsize=7)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PLOT_DPI, facecolor="white")
    return buffer.getvalue()


def page(real: Path, synthetic: Path, rows: list[Difference], a: dict[str, Attribute], b: dict[str, Attribute]) -> str:
    from simgen.tools.report import CSS, img_tag, meter, table

    cells = [[str(rank), html.escape(row.name), "n/a" if row.distance is None else
              f"{meter(row.distance, warn=row.distance > 0.3)} {row.distance:.3f}", html.escape(row.real),
              html.escape(row.synthetic), html.escape(row.description)] for rank, row in enumerate(rows, 1)]
    plots = "".join(img_tag(_plot(row.name, a[row.name], b[row.name]), row.name) for row in rows
                    if row.distance is not None)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>simgen compare</title><style>{CSS}</style>"
            f"</head><body><h1>Real against synthetic</h1><p>real: {html.escape(str(real))}<br>synthetic: "
            f"{html.escape(str(synthetic))}</p><p>Distances: Kolmogorov-Smirnov for numbers, total variation for "
            f"categories; 0 is identical, 1 is disjoint. Farthest first.</p>"
            + table(["#", "attribute", "distance", "real", "synthetic", "what"], cells) + f"<h2>Distributions</h2>{plots}"
            + "</body></html>")


def run_compare(args: argparse.Namespace) -> int:
    from simgen.tools.export import parse_class_map

    rows, a, b = compare_datasets(Path(args.real), Path(args.synthetic), parse_class_map(args.class_map),
                                  args.max_images)
    dest = Path(args.dest)
    if dest.suffix != ".html":
        raise OutputError(f"-o {dest}: expected an .html file")
    dest.parent.mkdir(parents=True, exist_ok=True)
    replaceable(dest, "<title>simgen compare</title>")
    replaceable(dest.with_suffix(".json"), '"synthetic"')
    atomic_write_bytes(dest, page(Path(args.real), Path(args.synthetic), rows, a, b).encode("utf-8"))
    summary: dict[str, Any] = {"synthetic": str(args.synthetic), "real": str(args.real),
                               "attributes": [row.__dict__ for row in rows]}
    atomic_write_json(dest.with_suffix(".json"), summary)
    for row in rows[:5]:
        shown = "n/a" if row.distance is None else f"{row.distance:.3f}"
        print(f"  {row.name:<18} {shown:>6}   real {row.real}   synthetic {row.synthetic}")
    print(f"Wrote {dest} and {dest.with_suffix('.json')} ({len(rows)} attributes, farthest first).")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare", help="compare a synthetic dataset with real data: distributions side by side, ranked by distance",
        description="Compare the distributions of REAL and SYNTH (each a dataset folder or a COCO JSON file): "
                    "class shares, objects per image, box size, aspect and position, visibility, and the images' "
                    "brightness, contrast, colourfulness, sharpness, noise and hue. Writes an HTML page and a "
                    "JSON summary, farthest attribute first.",
        epilog="example:\n  simgen compare real/annotations.json out/street -o compare.html --class-map car=vehicle",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("real", metavar="REAL", help="the real dataset: a folder with annotations.json or a COCO file")
    parser.add_argument("synthetic", metavar="SYNTH", help="the synthetic dataset (a simgen OUT folder, or any COCO)")
    parser.add_argument("-o", "--dest", default="compare.html", metavar="HTML",
                        help="the page to write (default compare.html; the JSON summary goes beside it)")
    parser.add_argument("--class-map", action="append", metavar="SYNTH=REAL",
                        help="a synthetic category name to read as a real one's; repeat as needed")
    parser.add_argument("--max-images", type=positive_int, default=300,
                        help="images per dataset whose pixels are measured (default 300, drawn at random)")
    parser.set_defaults(handler=run_compare)
