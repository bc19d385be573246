"""``simgen report OUT``: one self-contained HTML page that shows what a dataset holds before anyone trains on it.

Class balance, crowding, box sizes, occlusion and truncation, how often each condition tag came up
(against the scenario's targets where it sets them), the spread of the sampled camera and light
parameters, and the first images with their labels drawn on. Plots are PNGs embedded as base64, so
the page can be mailed or attached to a ticket on its own; the same PNGs are written next to it for
slides. No JavaScript and no external URL.

matplotlib (an Agg canvas per figure, no pyplot state) is imported inside the functions that draw, so
registering this subcommand keeps ``simgen --help`` fast.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import math
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from simgen.dataset.assemble import coverage
from simgen.dataset.reader import dig
from simgen.dataset.manifest import read_manifest
from simgen.dataset.writer import atomic_write_bytes
from simgen.tools.args import positive_int

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Coco = dict[str, Any]

SECTIONS = (
    ("summary", "Summary"),
    ("classes", "Class counts"),
    ("instances", "Instances per image"),
    ("boxes", "Box sizes and aspect ratios"),
    ("visibility", "Visibility and truncation"),
    ("conditions", "Condition coverage"),
    ("parameters", "Sampled parameters"),
    ("thumbnails", "Thumbnails"),
)
CLEAR = "clear (no tag)"
COCO_SIZE_LIMITS_PX = (32, 96)  # sqrt of COCO's small/medium/large area bounds
ACCENT, MUTED_COLOR = "#3b6ea5", "#8a94a6"
PLOT_STYLE = {
    "font.size": 10, "axes.titlesize": 11, "axes.titleweight": "bold", "axes.labelsize": 9.5,
    "axes.spines.top": False, "axes.spines.right": False, "axes.edgecolor": "#b8c0cc",
    "axes.grid": True, "axes.grid.axis": "y", "grid.color": "#e6e9ef", "axes.axisbelow": True,
    "xtick.color": "#44505f", "ytick.color": "#44505f", "axes.labelcolor": "#2b3440",
}
PLOT_WIDTH_IN, PLOT_DPI = 9.6, 110


# --- what the dataset says ------------------------------------------------------------------------


def annotations_per_image(coco: Coco) -> list[int]:
    """Object count of every image, unlabeled images included (they are what a mean would hide)."""
    counts = Counter(a["image_id"] for a in coco["annotations"])
    return [counts[image["id"]] for image in coco["images"]]


def camera_distance(params: dict[str, Any]) -> float | None:
    location, target = dig(params, "camera", "location"), dig(params, "camera", "look_at")
    if location is None or target is None:
        return None
    return math.dist(location, target)


NUMERIC_PARAMS: tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...] = (
    ("sun elevation (deg)", lambda p: dig(p, "sun", "elevation_deg")),
    ("sun strength", lambda p: dig(p, "sun", "strength")),
    ("sun colour temperature (K)", lambda p: dig(p, "sun", "color_temperature_k")),
    ("world strength", lambda p: dig(p, "world", "strength")),
    ("camera focal length (mm)", lambda p: dig(p, "camera", "focal_length_mm")),
    ("camera distance to look-at (m)", camera_distance),
)


def numeric_params(images: Iterable[dict[str, Any]]) -> dict[str, list[float]]:
    """Sampled values per parameter over all frames; parameters no frame has are left out."""
    values: dict[str, list[float]] = {}
    for image in images:
        for label, read in NUMERIC_PARAMS:
            value = read(image.get("params") or {})
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values.setdefault(label, []).append(float(value))
    return values


def world_counts(images: Iterable[dict[str, Any]]) -> Counter[str]:
    """Frames per world: the HDRI (a file by its name), or the world's type (sky, color) where it has none."""
    counts: Counter[str] = Counter()
    for image in images:
        world = dig(image, "params", "world")
        if isinstance(world, dict):
            counts[Path(world["hdri"]).name if world.get("hdri") else str(world.get("type") or "color")] += 1
    return counts


@dataclass(frozen=True)
class CoverageRow:
    """How often a condition tag came up, against the scenario's target fraction when it sets one."""

    tag: str
    frames: int
    fraction: float
    target: float | None

    def off_target(self, total: int) -> bool:
        """More than two binomial standard deviations from the target: more than sampling noise."""
        if self.target is None or total == 0:
            return False
        return abs(self.fraction - self.target) > 2 * math.sqrt(self.target * (1 - self.target) / total)


def condition_targets(manifest: dict[str, Any] | None) -> dict[str, float]:
    """Tag -> target fraction of frames; empty where the scenario has no conditions.

    A finished run's manifest holds the targets as the run resolved them (``count`` targets
    included); a running one only has the scenario, whose fraction targets are read directly.
    """
    resolved = dig(manifest, "coverage")
    if isinstance(resolved, dict) and resolved:
        return {str(tag): float(row["target"]) for tag, row in resolved.items()}
    targets = {}
    for tag, value in (dig(manifest, "scenario", "conditions") or {}).items():
        if isinstance(value, dict):
            value = value.get("fraction")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            targets[str(tag)] = float(value)
    return targets


def condition_coverage(images: Sequence[dict[str, Any]], targets: dict[str, float]) -> list[CoverageRow]:
    """One row per tag seen or targeted (most frequent first), then the untagged frames."""
    total = len(images)
    found = coverage(images, targets, every_tag=True)
    clear = sum(1 for image in images if not image.get("conditions"))
    tags = sorted(found, key=lambda tag: (-found[tag]["frames"], tag))
    rows = [CoverageRow(tag, found[tag]["frames"], found[tag]["frames"] / total if total else 0.0, targets.get(tag))
            for tag in tags]
    return rows + [CoverageRow(CLEAR, clear, clear / total if total else 0.0, None)]


# --- plots ----------------------------------------------------------------------------------------


def new_figure(panels: int, rows: int = 1, height_in: float = 3.0,
               width_in: float = PLOT_WIDTH_IN) -> tuple[Figure, list[Axes]]:
    """A figure with a ``rows`` x ``panels`` grid on an Agg canvas (no pyplot: no global state to leak)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in * rows), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, panels, squeeze=False)
    return figure, list(axes.ravel())


def no_data(ax: Axes, title: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, "no data", ha="center", va="center", color=MUTED_COLOR, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def histogram(ax: Axes, values: Sequence[float], title: str, xlabel: str, bins: Any = 24) -> None:
    if not values:
        no_data(ax, title)
        return
    from matplotlib.ticker import MaxNLocator

    ax.hist(values, bins=bins, color=ACCENT, edgecolor="white", linewidth=0.6)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")


def bars(ax: Axes, counts: dict[str, int], title: str, xlabel: str) -> None:
    """Horizontal bars in the given order, top to bottom, each with its count written at its end."""
    if not counts:
        no_data(ax, title)
        return
    from matplotlib.ticker import MaxNLocator

    labels, values = list(counts), list(counts.values())
    positions = range(len(labels))[::-1]
    ax.barh(list(positions), values, color=ACCENT, height=0.7)
    ax.set_yticks(list(positions), labels)
    for y, value in zip(positions, values):
        ax.text(value, y, f" {value}", va="center", fontsize=8.5, color="#2b3440")
    ax.set_xlim(0, max(values) * 1.12 or 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", visible=True)
    ax.set_title(title)
    ax.set_xlabel(xlabel)


def bar_height(count: int) -> float:
    """Figure height that keeps bars readable for 3 classes and for 77."""
    return max(2.0, 0.28 * count + 0.9)


def plot_class_counts(coco: Coco) -> Figure:
    """Instances and images per class, every category listed: a class that never appears shows as 0."""
    instances = Counter(a["category_id"] for a in coco["annotations"])
    images = Counter(category for category, _ in {(a["category_id"], a["image_id"]) for a in coco["annotations"]})
    names = [c["name"] for c in coco["categories"]]
    figure, (left, right) = new_figure(2, height_in=bar_height(len(names)))
    bars(left, {n: instances[c["id"]] for n, c in zip(names, coco["categories"])}, "Instances per class", "instances")
    bars(right, {n: images[c["id"]] for n, c in zip(names, coco["categories"])}, "Images containing the class",
         "images")
    return figure


def plot_instances_per_image(counts: Sequence[int]) -> Figure:
    import numpy as np

    figure, (ax,) = new_figure(1, height_in=2.8)
    histogram(ax, counts, "Labeled objects per image", "objects in the image",
              bins=np.arange(max(counts, default=0) + 2) - 0.5)
    ax.xaxis.get_major_locator().set_params(integer=True)
    return figure


def plot_boxes(annotations: Sequence[dict[str, Any]]) -> Figure:
    """Box size as sqrt(w*h) with COCO's small/medium limits marked, and w/h on a log axis (1 = square)."""
    import numpy as np

    boxes = [a["bbox"] for a in annotations if a["bbox"][2] > 0 and a["bbox"][3] > 0]
    sizes = [math.sqrt(w * h) for _, _, w, h in boxes]
    aspects = [w / h for _, _, w, h in boxes]
    figure, (left, right) = new_figure(2)
    histogram(left, sizes, "Box size", "sqrt(box width x height)  (px)")
    if sizes:
        for limit in COCO_SIZE_LIMITS_PX:
            if limit <= max(sizes) * 1.05:
                left.axvline(limit, color=MUTED_COLOR, linestyle="--", linewidth=1)
                left.text(limit, 1, f" {limit}px", color=MUTED_COLOR, fontsize=8, va="top",
                          transform=left.get_xaxis_transform())
    bins = np.geomspace(min(aspects), max(aspects) * 1.0001, 25) if aspects and min(aspects) < max(aspects) else 24
    histogram(right, aspects, "Box aspect ratio", "width / height", bins=bins)
    if aspects and min(aspects) < max(aspects):
        plain_log_axis(right)
    return figure


def plain_log_axis(ax: Axes) -> None:
    """Log scale labelled 0.25, 0.5, 1, 2, 4 rather than in powers of ten."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator([2.0 ** k for k in range(-6, 7)]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def plot_visibility(annotations: Sequence[dict[str, Any]]) -> Figure:
    import numpy as np

    bins = np.linspace(0.0, 1.0, 21)
    figure, (left, right) = new_figure(2)
    for ax, key, title, xlabel in ((left, "visibility", "Visibility", "visible fraction of the unoccluded object"),
                                   (right, "truncation", "Truncation", "fraction of the object outside the image")):
        histogram(ax, [a[key] for a in annotations if a.get(key) is not None], title, xlabel, bins=bins)
        ax.set_xlim(0, 1)
    return figure


def plot_numeric_params(values: dict[str, list[float]]) -> Figure:
    columns = 3
    rows = max(1, math.ceil(len(values) / columns))
    figure, axes = new_figure(columns, rows=rows, height_in=2.6)
    for ax, (label, samples) in zip(axes, values.items()):
        histogram(ax, samples, label, "", bins=min(24, max(5, len(samples) // 2)))
    for ax in axes[len(values):]:
        ax.set_visible(False)
    return figure


def plot_world_counts(counts: Counter[str]) -> Figure:
    figure, (ax,) = new_figure(1, height_in=bar_height(len(counts)), width_in=PLOT_WIDTH_IN / 2)
    bars(ax, dict(counts.most_common()), "World (HDRI, or sky / color)", "frames")
    return figure


# --- HTML -----------------------------------------------------------------------------------------


def img_tag(png: bytes, alt: str) -> str:
    return f'<img src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}" alt="{html.escape(alt)}">'


@dataclass
class Figures:
    """Writes each plot as a PNG into the report's folder and hands back the same bytes as an embedded <img>."""

    folder: Path

    def embed(self, name: str, png: bytes, alt: str) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.folder / f"{name}.png", png)
        return img_tag(png, alt)

    def plot(self, name: str, figure: Figure, alt: str) -> str:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=PLOT_DPI, facecolor="white")
        return self.embed(name, buffer.getvalue(), alt)


def table(header: Sequence[str] | None, rows: Iterable[Sequence[str]], classes: Sequence[str] = ()) -> str:
    """An HTML table. Cells are HTML already (callers escape text), so a cell may hold a meter."""
    head = "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr></thead>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{" ".join(classes)}">{head}<tbody>{body}</tbody></table>'


def meter(fraction: float, warn: bool = False, target: float | None = None) -> str:
    """A CSS bar for a fraction in [0, 1], with a tick at the target if there is one; no JavaScript needed."""
    def position(value: float) -> str:
        return f"{max(0.0, min(1.0, value)) * 100:.1f}%"

    tick = "" if target is None else f'<i style="left:{position(target)}"></i>'
    return (f'<span class="meter{" warn" if warn else ""}"><span style="width:{position(fraction)}"></span>'
            f"{tick}</span>")


def percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def summary_html(out: Path, coco: Coco, manifest: dict[str, Any] | None) -> str:
    """Dataset facts from the manifest (versions, device, preset) and COCO, then time per stage."""
    facts = dataset_facts(out, coco, manifest)
    rows = [(html.escape(key), html.escape(value)) for key, value in facts]
    parts = [table(None, rows, ("facts",))]
    if manifest is None:
        parts.append(note("manifest.json is missing or unreadable: versions, device and timing are unknown."))
    stages = dig(manifest, "timing", "stage_seconds") or {}
    if stages:
        parts.append(timing_html(stages, dig(manifest, "timing", "wall_seconds")))
    return '<div class="columns">' + "".join(f"<div>{part}</div>" for part in parts) + "</div>"


def dataset_facts(out: Path, coco: Coco, manifest: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(label, value) pairs; facts the manifest does not hold are left out rather than shown as blanks."""
    images, annotations = coco["images"], coco["annotations"]
    preset = dig(manifest, "render_preset") or {}
    timing = dig(manifest, "timing") or {}
    facts = [
        ("dataset", str(out)),
        ("scenario", str(dig(manifest, "scenario", "name") or dig(coco, "info", "description") or "?")),
        ("scenario file", dig(manifest, "scenario_file")),
        ("status", dig(manifest, "status")),
        ("images", str(len(images))),
        ("labeled objects", f"{len(annotations)} ({len(annotations) / len(images):.1f} per image)" if images
         else str(len(annotations))),
        ("categories", str(len(coco["categories"]))),
        ("resolution", f"{images[0]['width']} x {images[0]['height']}" if images else None),
        ("render preset", f"{preset['name']}, {preset.get('samples')} samples" if "name" in preset else None),
        ("device", dig(manifest, "device")),
        ("seed", str(dig(manifest, "seed")) if dig(manifest, "seed") is not None else None),
        ("simgen", dig(manifest, "simgen_version")),
        ("Blender", dig(manifest, "blender_version")),
        ("created", dig(coco, "info", "date_created")),
        ("wall time", wall_time_text(timing)),
        ("lineage", lineage_text(dig(manifest, "scenario", "lineage"))),
    ]
    return [(key, str(value)) for key, value in facts if value is not None]


def lineage_text(lineage: Any) -> str | None:
    """The chain of fit and focus steps the scenario came from, oldest first, by the datasets they read."""
    if not isinstance(lineage, list) or not lineage:
        return None
    steps = [f"{step.get('step', '?')} of {str(step.get('dataset', '?'))[:16]} ({len(step.get('changes') or [])} "
             f"change(s))" for step in lineage if isinstance(step, dict)]
    return " -> ".join(steps) + " -> this dataset"


def wall_time_text(timing: dict[str, Any]) -> str | None:
    wall, frames = timing.get("wall_seconds"), timing.get("frames_rendered")
    if wall is None:
        return None
    rate = f", {frames} frame(s) rendered, {wall / frames:.2f} s/frame" if frames else ""
    return f"{wall:.1f} s{rate} (last run)"


def timing_html(stages: dict[str, float], wall: float | None) -> str:
    """Seconds per stage as a share of the wall time (or of their sum when the wall time is unknown)."""
    total = wall or sum(stages.values()) or 1.0
    rows = [(html.escape(stage), f"{seconds:.2f}", percent(seconds / total), meter(seconds / total))
            for stage, seconds in stages.items()]
    if wall:
        other = max(0.0, wall - sum(stages.values()))
        rows.append(("other (start-up, assembly)", f"{other:.2f}", percent(other / wall), ""))
    return table(("stage", "seconds", "share", ""), rows, ("numeric",))


def coverage_html(rows: Sequence[CoverageRow], total: int, has_targets: bool) -> str:
    header = ["tag", "frames", "fraction", ""] + (["target", "achieved - target"] if has_targets else [])
    cells = []
    for row in rows:
        warn = row.off_target(total)
        line = [html.escape(row.tag), str(row.frames), percent(row.fraction), meter(row.fraction, warn, row.target)]
        if has_targets:
            delta = "" if row.target is None else f"{100 * (row.fraction - row.target):+.1f} pp"
            line += ["" if row.target is None else percent(row.target),
                     f'<span class="warn-text">{delta}</span>' if warn else delta]
        cells.append(line)
    text = ("Targets come from the scenario's <code>conditions</code>; the black tick marks the target; red: further "
            "from it than two binomial standard deviations." if has_targets else
            "The scenario sets no <code>conditions</code> targets, so only the achieved coverage is shown.")
    if len(rows) == 1:
        text = "No frame carries a condition tag. " + text
    return table(header, cells, ("numeric",)) + note(text)


def note(text: str) -> str:
    """A muted paragraph under a plot or table; ``text`` is HTML."""
    return f'<p class="note">{text}</p>'


def stats_line(values: Sequence[float], what: str) -> str:
    """'n, mean, median, min-max' in words, under a plot, for those who read numbers rather than bars."""
    if not values:
        return note(f"No {html.escape(what)}.")
    return note(f"{len(values)} {html.escape(what)}: mean {number(statistics.fmean(values))}, median "
                f"{number(statistics.median(values))}, range {number(min(values))} to {number(max(values))}.")


def number(value: float) -> str:
    """As many decimals as the magnitude deserves: 0.94, 6.25, 16.5, 165."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def visibility_note(annotations: Sequence[dict[str, Any]]) -> str:
    """The two counts that matter for occlusion and border cases, in words."""
    total = len(annotations)
    if not total:
        return note("No labels.")
    full = sum(1 for a in annotations if a.get("visibility") == 1.0)
    truncated = sum(1 for a in annotations if a.get("truncated"))
    return note(f"{full} of {total} labels ({percent(full / total)}) are fully visible; "
                f"{truncated} ({percent(truncated / total)}) are cut by the image border.")


def thumbnails_html(out: Path, coco: Coco, figures: Figures, count: int) -> str:
    """The first ``count`` images with masks, boxes and names drawn, as 'simgen sheet' draws them."""
    from simgen.tools.sheet import sheet_png

    if not coco["images"]:
        return note("No finished image yet.")
    png = sheet_png(out, coco, n=count, cols=4, tile_width=240)
    shown = min(count, len(coco["images"]))
    return (figures.embed("thumbnails", png, "first images with their labels")
            + note(f"The first {shown} of {len(coco['images'])} image(s); masks tinted, boxes and class names drawn, "
                   "condition tags in brackets."))


def section_bodies(out: Path, coco: Coco, manifest: dict[str, Any] | None, figures: Figures,
                   thumbnails: int) -> dict[str, str]:
    """HTML body of every section in SECTIONS, keyed by section id."""
    import matplotlib

    images, annotations = coco["images"], coco["annotations"]
    per_image = annotations_per_image(coco)
    params = numeric_params(images)
    targets = condition_targets(manifest)
    unlabeled = note(f"{per_image.count(0)} image(s) have no label.") if 0 in per_image else ""
    size_limits = note("Dashed lines: COCO's small/medium (32 px) and medium/large (96 px) limits; COCO applies "
                       "them to the mask area, so a thin object can be small with a large box.")
    with matplotlib.rc_context(PLOT_STYLE):
        return {
            "summary": summary_html(out, coco, manifest),
            "classes": figures.plot("classes", plot_class_counts(coco), "instances and images per class"),
            "instances": figures.plot("instances", plot_instances_per_image(per_image), "objects per image")
            + stats_line(per_image, "images") + unlabeled,
            "boxes": figures.plot("boxes", plot_boxes(annotations), "box size and aspect ratio")
            + stats_line([a["area"] for a in annotations], "labels, visible area in px") + size_limits,
            "visibility": figures.plot("visibility", plot_visibility(annotations), "visibility and truncation")
            + visibility_note(annotations),
            "conditions": coverage_html(condition_coverage(images, targets), len(images), bool(targets)),
            "parameters": (figures.plot("parameters", plot_numeric_params(params), "sampled parameter histograms")
                           if params else note("No numeric sampled parameter found in params."))
            + figures.plot("world", plot_world_counts(world_counts(images)), "frames per world HDRI or type"),
            "thumbnails": thumbnails_html(out, coco, figures, thumbnails),
        }


CSS = """
body{margin:0;background:#f3f5f8;color:#1f2733;font:15px/1.5 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",
Arial,sans-serif}
header{background:#1f2a3a;color:#fff;padding:22px 0 16px}
header h1{margin:0;font-size:24px;font-weight:600}
header p{margin:4px 0 0;color:#b9c3d1;font-size:13px}
nav{margin-top:12px;display:flex;flex-wrap:wrap;gap:6px 16px;font-size:13px}
nav a{color:#d6e2f3;text-decoration:none;border-bottom:1px dotted #6f87a8}
.wrap{max-width:1080px;margin:0 auto;padding:0 24px}
section{background:#fff;border:1px solid #e1e5ec;border-radius:8px;margin:18px 0;padding:6px 22px 16px}
h2{font-size:18px;margin:14px 0 10px;color:#1f2a3a}
img{max-width:100%;height:auto;display:block;margin:6px auto}
table{border-collapse:collapse;font-size:13.5px;margin:6px 0}
th,td{padding:4px 12px 4px 0;border-bottom:1px solid #eef0f4;text-align:left;vertical-align:middle}
th{color:#5b6677;font-weight:600;border-bottom:1px solid #d5dae2}
table.facts td:first-child{color:#5b6677;white-space:nowrap}
table.numeric td:nth-child(n+2){text-align:right;font-variant-numeric:tabular-nums}
.columns{display:flex;flex-wrap:wrap;gap:8px 48px}
.meter{display:inline-block;position:relative;width:140px;height:9px;background:#e8ecf2;border-radius:5px}
.meter i{position:absolute;top:-3px;width:2px;height:15px;background:#1f2a3a;margin-left:-1px}
.meter span{display:block;height:100%;background:#3b6ea5;border-radius:5px}
.meter.warn span{background:#c0392b}
.warn-text{color:#c0392b;font-weight:600}
.note{color:#5b6677;font-size:13px;margin:6px 0}
code{background:#eef1f5;padding:0 4px;border-radius:3px}
footer{color:#8a94a6;font-size:12px;padding:4px 0 24px}
"""


def page(title: str, subtitle: str, bodies: dict[str, str]) -> str:
    nav = "".join(f'<a href="#{sid}">{html.escape(name)}</a>' for sid, name in SECTIONS)
    sections = "".join(f'<section><h2 id="{sid}">{html.escape(name)}</h2>{bodies[sid]}</section>'
                       for sid, name in SECTIONS)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            f'<header><div class="wrap"><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p>'
            f'<nav>{nav}</nav></div></header><main class="wrap">{sections}</main>'
            f'<footer class="wrap">Written by simgen report.</footer></body></html>\n')


def build_report(out: Path, dest: Path | None = None, thumbnails: int = 24) -> Path:
    """Write the report of the dataset in OUT to ``dest`` (default OUT/report.html), its PNGs to DEST_STEM_files/."""
    from simgen.tools.evaluate import load_dataset

    coco = load_dataset(out)
    manifest = read_manifest(out)
    dest = dest or out / "report.html"
    figures = Figures(dest.parent / f"{dest.stem}_files")
    bodies = section_bodies(out, coco, manifest, figures, thumbnails)
    name = dig(manifest, "scenario", "name") or dig(coco, "info", "description") or out.name
    subtitle = f"{out}  ·  {len(coco['images'])} images, {len(coco['annotations'])} labeled objects"
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(dest, page(f"simgen report: {name}", subtitle, bodies).encode("utf-8"))
    return dest


# --- the command line -----------------------------------------------------------------------------



def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``report`` to the ``simgen`` subcommands."""
    parser = subparsers.add_parser(
        "report", help="write a self-contained HTML report of a dataset (stats, coverage, thumbnails)",
        description="Write one HTML file about the dataset in OUT: counts, versions, device and seconds per stage; "
                    "class counts; objects per image; box sizes and aspect ratios; visibility and truncation; "
                    "condition-tag coverage against the scenario's targets; distributions of the sampled camera, "
                    "sun and world parameters; and the first images with masks and boxes drawn. Images are "
                    "embedded, so the file opens anywhere with no network; the plots are also written as PNGs "
                    "into a folder next to it (report_files/ for report.html).")
    parser.add_argument("out", metavar="OUT", help="dataset folder written by 'simgen render -o OUT'")
    parser.add_argument("-o", "--dest", metavar="HTML", help="where to write the report (default: OUT/report.html)")
    parser.add_argument("--thumbnails", type=positive_int, default=24, metavar="N",
                        help="number of images in the thumbnail grid (default: 24)")
    parser.set_defaults(handler=_report_command)


def _report_command(args: argparse.Namespace) -> int:
    out = Path(args.out)
    path = build_report(out, Path(args.dest) if args.dest else None, args.thumbnails)
    print(f"Wrote the report of {out} to {path}.")
    return 0
