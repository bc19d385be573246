"""COCO's own layout: ``DEST/annotations/instances_{train,val,test}.json`` and ``DEST/images/{split}/``.

This is how the COCO dataset itself ships (``instances_train2017.json`` beside ``train2017/``), and what
Datumaro's ``coco_instances`` importer and tools that take "a COCO folder" look for. Each split's JSON
is annotations.json cut to that split, with ``file_name`` relative to the split's image folder; the
per-frame depth and mask PNGs stay in the dataset (their keys are left out here; ``coco-split`` keeps
them).
"""

from __future__ import annotations

import re

from simgen.dataset.layout import SPLITS
from simgen.dataset.ownership import FRAME_FILE, Layout
from simgen.dataset.reader import member
from simgen.dataset.writer import atomic_write_json
from simgen.plugins import EXPORTERS
from simgen.tools.export import ExportJob, Exporter, place

LAYOUT = Layout("export:coco", frozenset(), {"annotations": re.compile(r"instances_(train|val|test)\.json"),
                                             **{f"images/{split}": FRAME_FILE for split in SPLITS}})


def export_coco(job: ExportJob) -> None:
    (job.dest / "annotations").mkdir(parents=True, exist_ok=True)
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


EXPORTERS.register("coco", Exporter(export_coco, LAYOUT,
                                    "COCO's own layout: annotations/instances_{split}.json, images/{split}/"))
