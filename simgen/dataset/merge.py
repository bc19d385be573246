"""Merge shard folders into one dataset, and re-assemble a dataset's COCO file from its journal.

Frame indices are global (a shard renders frames K-1, K-1+N, ...), so merging never renames
files: it links them, combines the journals, and assembles, which renumbers annotation ids.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import simgen
from simgen.dataset import manifest as manifest_io
from simgen.dataset.assemble import assemble_coco
from simgen.dataset.writer import DatasetWriter, read_journal
from simgen.errors import OutputError


def _manifest_of(folder: Path) -> dict[str, Any]:
    manifest = manifest_io.read_manifest(folder)
    if manifest is None:
        raise OutputError(f"{folder} holds no simgen dataset (no readable manifest.json)")
    return manifest


def assemble(out: Path) -> dict[str, Any]:
    """Rewrite ``annotations.json`` from the journal, e.g. while a long run is still going."""
    manifest = _manifest_of(out)
    return assemble_coco(out, info={"description": manifest["scenario"]["name"], "version": simgen.__version__,
                                    "year": time.gmtime().tm_year, "contributor": "simgen",
                                    "date_created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                         categories=manifest["categories"], licenses=manifest.get("asset_licenses", manifest["licenses"]),
                         frames=manifest.get("frames"))


def _link(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another filesystem, or links not allowed
        shutil.copy2(source, target)


def merge(shards: list[Path], out: Path) -> dict[str, Any]:
    """One dataset from shards of the same scenario, seed and preset; refuses anything else."""
    manifests = [_manifest_of(folder) for folder in shards]
    identities = {m["identity"] for m in manifests}
    if len(identities) != 1:
        raise OutputError("these folders hold different datasets (scenario, seed or preset differ); "
                          "only shards of one run can be merged")
    if any(m["categories"] != manifests[0]["categories"] for m in manifests):
        raise OutputError("the shards disagree on categories")
    existing = manifest_io.read_manifest(out) if out.exists() else None
    if out.exists() and any(out.iterdir()) and (existing is None or existing.get("identity") not in identities):
        raise OutputError(f"{out} is not empty and holds another dataset; choose another -o folder")
    writer = DatasetWriter(out)
    seen = writer.finished_frames()
    for folder in shards:
        for record in read_journal(folder):
            index = int(record["image"]["frame_index"])
            if index in seen:
                continue
            image = record["image"]
            for key in ("file_name", "depth_file", "instance_file", "semantic_file"):
                _link(folder / image[key], out / image[key])
            writer.append_journal(record)
            seen.add(index)
    merged = dict(manifests[0])
    merged.update(frames=max(m["frames"] for m in manifests), shard="merged", status="merged",
                  merged_from=[str(folder) for folder in shards],
                  timing={"stage_seconds": {stage: round(sum(m.get("timing", {}).get("stage_seconds", {}).get(stage, 0)
                                                             for m in manifests), 4)
                                            for stage in manifests[0].get("timing", {}).get("stage_seconds", {})}})
    manifest_io.write_manifest(out, merged)
    coco = assemble(out)
    merged.update(images=len(coco["images"]), annotations=len(coco["annotations"]), licenses=coco["licenses"])
    manifest_io.write_manifest(out, merged)
    return coco

