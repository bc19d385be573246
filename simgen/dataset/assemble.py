"""Build ``annotations.json`` (COCO) from the journal: valid after any run ends, resumed or not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simgen.dataset.writer import atomic_write_json, read_journal


def assemble_coco(out: Path, info: dict[str, Any], categories: list[dict[str, Any]],
                  licenses: list[dict[str, Any]], frames: int | None = None) -> dict[str, Any]:
    """Gather finished frames (last record wins per frame) into one COCO dict and write it atomically.

    Annotation ids follow (frame, instance) order, so the file is identical however the
    frames were scheduled, resumed or sharded.
    """
    records: dict[int, dict[str, Any]] = {}
    for record in read_journal(out):
        index = int(record["image"]["frame_index"])
        if frames is None or index < frames:
            records[index] = record
    images, annotations = [], []
    for index in sorted(records):
        images.append(records[index]["image"])
        for annotation in sorted(records[index]["annotations"], key=lambda a: a["instance_id"]):
            annotations.append({"id": len(annotations) + 1, **annotation})
    coco = {"info": info, "licenses": licenses, "categories": categories, "images": images,
            "annotations": annotations}
    atomic_write_json(out / "annotations.json", coco)
    return coco
