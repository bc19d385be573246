"""A plug-in as a user would write one, outside simgen/: a placement mode, a camera pose sampler, an
export format and a condition, found by simgen through the entry points in
simgen_demo_plugin-0.1.dist-info."""

from __future__ import annotations

import csv
import io

import numpy as np

from pydantic import Field

from simgen.config.strict import StrictModel
from simgen.dataset.ownership import Layout
from simgen.sampling.camera_poses import Pose, PoseRequest, PoseSampler
from simgen.sampling.placement import PlacementRequest, PlacementResult, Placed
from simgen.tools.export import ExportJob, Exporter


def line(request: PlacementRequest) -> PlacementResult:
    """Objects in a row along x through the area's centre, each its footprint's diameter plus min_gap apart."""
    widths = [2 * fp.radius for fp in request.footprints]
    total = sum(widths) + request.spec.min_gap * max(len(widths) - 1, 0)
    x, spots, taken = -total / 2, [], list(request.occupied)
    for fp, width in zip(request.footprints, widths):
        centre = np.array([x + width / 2, 0.0])
        spots.append(np.array([*(centre - fp.centre_offset), fp.lift]))
        taken.append(Placed(centre, fp.radius))
        x += width + request.spec.min_gap
    return PlacementResult(spots, taken)


def _write_csv(job: ExportJob) -> None:
    names = {c["id"]: c["name"] for c in job.coco["categories"]}
    files = {i["id"]: i["file_name"] for i in job.coco["images"]}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["file_name", "category", "x", "y", "width", "height"])
    for a in job.coco["annotations"]:
        writer.writerow([files[a["image_id"]], names[a["category_id"]], *a["bbox"]])
        job.summary.labels += 1
    (job.dest / "boxes.csv").write_text(buffer.getvalue())


CSV = Exporter(_write_csv, Layout("export:csv", frozenset({"boxes.csv"})), "one CSV row per box")
DIM = {"world": {"strength": 0.05}}


class CraneOptions(StrictModel):
    height: float = Field(3.0, gt=0, description="metres above the objects' centre")
    back_m: float = Field(1.0, ge=0, description="metres behind it, along -y")


def _crane(request: PoseRequest) -> Pose:
    """High above the objects and a little behind them, looking down at their centre."""
    target = request.target("objects")
    return Pose(target + np.array([0.0, -request.options.back_m, request.options.height]), target)


CRANE = PoseSampler(_crane, CraneOptions, "high above the objects, looking down")
