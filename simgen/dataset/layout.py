"""The names simgen writes in a dataset folder, in one place: what --overwrite may delete and nothing else."""

from __future__ import annotations

import re

from simgen.dataset.manifest import MANIFEST
from simgen.dataset.ownership import FRAME_FILE, Layout
from simgen.dataset.reader import ANNOTATIONS, CAMERAS, PANOPTIC
from simgen.dataset.writer import JOURNAL, QUARANTINE, RESERVE, SUBDIRS

SPLITS = ("train", "val", "test")
SPLIT_FILES = tuple(f"annotations_{split}.json" for split in SPLITS)  # coco-split, also in place
REPORT = ("report.html", "report_files")

DATASET = Layout(
    kind="dataset",
    files=frozenset({ANNOTATIONS, PANOPTIC, JOURNAL, QUARANTINE, RESERVE, MANIFEST, "ATTRIBUTION.txt", "simgen.log",
                     *SPLIT_FILES, REPORT[0], *(f"{CAMERAS}/*/{name}" for name in (ANNOTATIONS, PANOPTIC, REPORT[0]))}),
    folders={**{sub: FRAME_FILE for sub in SUBDIRS}, REPORT[1]: re.compile(r"[a-z0-9_]+\.png"),
             **{f"{CAMERAS}/*/{sub}": FRAME_FILE for sub in SUBDIRS},  # camera.rig: each camera's own files
             f"{CAMERAS}/*/{REPORT[1]}": re.compile(r"[a-z0-9_]+\.png")},
    evidence=MANIFEST,
)
