"""Merge shard folders into one dataset, and re-assemble a dataset's COCO file from its journal.

Frame indices are global (a shard renders frames K-1, K-1+N, ...), so merging never renames
files: it links them, combines the journals, and assembles, which renumbers annotation ids.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import simgen
from simgen.dataset import manifest as manifest_io
from simgen.dataset.assemble import assemble_coco, rig_counts
from simgen.dataset.layout import DATASET
from simgen.dataset.ownership import FolderLock, claim
from simgen.dataset.reader import dig, member, record_files
from simgen.dataset.writer import JOURNAL, DatasetWriter, as_output_error, intact, read_journal
from simgen.errors import DatasetError, OutputError


def _manifest_of(folder: Path) -> dict[str, Any]:
    manifest = manifest_io.read_manifest(folder)
    if manifest is None:
        raise OutputError(f"{folder} holds no simgen dataset (no readable manifest.json)")
    expected = {"identity": str, "categories": list, "frames": int, "scenario": dict}
    wrong = [key for key, kind in expected.items() if not isinstance(manifest.get(key), kind)]
    if wrong or not isinstance(manifest["scenario"].get("name"), str):
        raise DatasetError(f"{folder / manifest_io.MANIFEST}: {', '.join(wrong) or 'scenario.name'} missing or "
                           f"malformed; it is not a manifest simgen wrote")
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
    """``target`` (inside the merged dataset) becomes ``source``'s bytes, hard-linked where possible."""
    if not source.is_file():
        raise OutputError(f"{source} is missing; rerun that shard's 'simgen render' command to complete it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)  # an output's folder exists once it has files
        target.unlink(missing_ok=True)
        try:
            os.link(source, target)
        except OSError:  # another filesystem, or links not allowed
            shutil.copy2(source, target)
    except OSError as exc:
        raise as_output_error(exc, target) from None


def merge(shards: list[Path], out: Path) -> dict[str, Any]:
    """One dataset from shards of the same scenario, seed and preset; refuses anything else."""
    manifests = [_manifest_of(folder) for folder in shards]
    identities = {m["identity"] for m in manifests}
    if len(identities) != 1:
        raise OutputError("these folders hold different datasets (scenario, seed or preset differ); "
                          "only shards of one run can be merged")
    if any(m["categories"] != manifests[0]["categories"] for m in manifests):
        raise OutputError("the shards disagree on categories")
    if any(out.resolve() == folder.resolve() for folder in shards):
        raise OutputError(f"-o {out} is one of the shards; merge into a new folder")
    claim(out, DATASET)
    with FolderLock(out):
        existing = manifest_io.read_manifest(out)
        if existing is not None and existing.get("identity") not in identities:
            raise OutputError(f"{out} holds another dataset; choose another -o folder")
        _merge_journals(shards, out)
        return _write_merged(shards, manifests, out)


def _merge_journals(shards: list[Path], out: Path) -> None:
    writer = DatasetWriter(out)
    seen = writer.finished_frames(writer.repair().records)
    for folder in shards:
        for record in read_journal(folder):
            index = int(record["image"]["frame_index"])
            if index in seen:
                continue
            if not intact(folder, record):
                print(f"simgen: warning: frame {index} of {folder} is damaged or incomplete and is left out; "
                      f"rerun that shard to repair it", file=sys.stderr)
                continue
            for relative in record_files(record):
                where = f"{folder / JOURNAL}: frame {index}"
                _link(member(folder, relative, where), member(out, relative, where))
            writer.append_journal(record)
            seen.add(index)


def _summed_stages(manifests: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds per stage over all shards (a shard with no or odd timing adds nothing)."""
    totals: dict[str, float] = {}
    for manifest in manifests:
        stages = dig(manifest, "timing", "stage_seconds")
        for stage, seconds in (stages.items() if isinstance(stages, dict) else ()):
            if isinstance(seconds, (int, float)) and math.isfinite(seconds):
                totals[stage] = round(totals.get(stage, 0.0) + seconds, 4)
    return totals


def _write_merged(shards: list[Path], manifests: list[dict[str, Any]], out: Path) -> dict[str, Any]:
    merged = dict(manifests[0])
    merged.update(frames=max(m["frames"] for m in manifests), shard="merged", status="merged",
                  merged_from=[str(folder) for folder in shards],
                  timing={"stage_seconds": _summed_stages(manifests)})
    manifest_io.write_manifest(out, merged)
    coco = assemble(out)
    merged.update(images=len(coco["images"]), annotations=len(coco["annotations"]), licenses=coco["licenses"])
    if "cameras" in merged:  # camera.rig: the merged counts, not the first shard's
        merged["cameras"] = rig_counts(out)
    manifest_io.write_manifest(out, merged)
    return coco

