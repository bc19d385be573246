"""COCO's own layout: ``DEST/annotations/instances_{train,val,test}.json`` and ``DEST/images/{split}/``,
and for a dataset with panoptic output ``annotations/panoptic_{split}.json`` beside the PNG folder
``annotations/panoptic_{split}/`` (as COCO ships ``panoptic_train2017``).

This is how the COCO dataset itself ships (``instances_train2017.json`` beside ``train2017/``), and what
Datumaro's ``coco_instances`` importer and tools that take "a COCO folder" look for. Each split's JSON
is annotations.json cut to that split, with ``file_name`` relative to the split's image folder; the
per-frame depth and mask PNGs stay in the dataset (their keys are left out here; ``coco-split`` keeps
them).
"""

from __future__ import annotations

import json
import re

from simgen.dataset.layout import SPLITS
from simgen.dataset.ownership import FRAME_FILE, Layout
from simgen.dataset.reader import PANOPTIC, member
from simgen.dataset.writer import atomic_write_json
from simgen.plugins import EXPORTERS
from simgen.tools.export import ExportJob, Exporter, place

LAYOUT = Layout("export:coco", frozenset(), {
    "annotations": re.compile(r"(instances|panoptic)_(train|val|test)\.json"),
    **{f"images/{split}": FRAME_FILE for split in SPLITS},
    **{f"annotations/panoptic_{split}": FRAME_FILE for split in SPLITS}})


def export_coco(job: ExportJob) -> None:
    (job.dest / "annotations").mkdir(parents=True, exist_ok=True)
    path = job.out / PANOPTIC
    panoptic = json.loads(path.read_text()) if path.is_file() else None
    for split in SPLITS:
        images = []
        for image in job.splits[split]:
            source = member(job.out, image["file_name"], f"image {image['id']}: file_name")
            job.summary.placed[place(source, job.dest / "images" / split / source.name, job.symlink)] += 1
            images.append({key: value for key, value in image.items() if not key.endswith("_file")}
                          | {"file_name": source.name})  # the depth and mask files stay in OUT
        ids = {image["id"] for image in images}
        annotations = [a for a in job.coco["annotations"] if a["image_id"] in ids]
        job.summary.labels += len(annotations)
        info = {**job.coco.get("info", {}), "split": split}
        atomic_write_json(job.dest / "annotations" / f"instances_{split}.json",
                          {**job.coco, "info": info, "images": images, "annotations": annotations}, compact=True)
        if panoptic is not None:
            _panoptic_split(job, panoptic, split, images, info)


def _panoptic_split(job: ExportJob, panoptic: dict, split: str, images: list[dict], info: dict) -> None:
    """panoptic.json cut to the split, its PNGs placed in annotations/panoptic_{split}/."""
    by_id = {entry["image_id"]: entry for entry in panoptic["annotations"]}
    folder = job.dest / "annotations" / f"panoptic_{split}"
    entries = []
    for image in job.splits[split]:
        entry = by_id.get(image["id"])
        if entry is None or "panoptic_file" not in image:
            continue
        source = member(job.out, image["panoptic_file"], f"image {image['id']}: panoptic_file")
        job.summary.placed[place(source, folder / source.name, job.symlink)] += 1
        entries.append({**entry, "file_name": source.name})
    ids = {entry["image_id"] for entry in entries}
    atomic_write_json(job.dest / "annotations" / f"panoptic_{split}.json",
                      {**panoptic, "info": info, "images": [i for i in images if i["id"] in ids], "annotations": entries},
                      compact=True)


EXPORTERS.register("coco", Exporter(export_coco, LAYOUT,
                                    "COCO's own layout: annotations/instances_{split}.json, images/{split}/"))
