"""``simgen export``: turn a rendered dataset into the layouts training code expects.

Formats
  yolo        Ultralytics detection: DEST/images/{train,val,test}/NAME.png, DEST/labels/{split}/NAME.txt
              with one ``class x_center y_center width height`` line per object (normalized to [0, 1],
              class = category index from 0 in category order), and DEST/data.yaml.
  yolo-seg    The same layout, each line ``class x1 y1 x2 y2 ...``: the outer contour of the mask,
              normalized. YOLO wants one polygon per object, so a mask in several parts (an object
              split by an occluder) keeps its largest part; parts too small to give 3 points are dropped.
  coco-split  DEST/annotations_{train,val,test}.json: subsets of annotations.json, unchanged otherwise.
              Every path in an image record (file_name, depth_file, ...) stays as it is and is relative
              to DEST, so all three files share one image root, which is what torchvision, Detectron2 and
              MMDetection take. With DEST = OUT the split files land next to annotations.json and no
              image is touched; elsewhere every such file is linked into DEST at the same relative path.
  kitti, voc, bop, cityscapes, mot   one module each in simgen/tools/exports/ (its docstring gives the layout).

Images are hard-linked (no extra disk, and still valid if OUT is later deleted), copied where a hard
link is impossible (another file system), or symlinked with --link (then DEST breaks if OUT moves).

The split is stratified by the images' ``conditions`` tags: each group of images with the same tags is
cut by the ratios on its own, so a condition reaches every split it owes at least half an image to. It is
a pure function of the seed and the image set.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import yaml

from simgen.annotate.instances import decode_rle
from simgen.annotate.polygons import pixel_outline
from simgen.dataset.layout import DATASET, SPLIT_FILES, SPLITS
from simgen.dataset.ownership import FRAME_FILE, Layout, claim, clear, marked_kind
from simgen.dataset.reader import frame_files, member, read_coco
from simgen.dataset.writer import SUBDIRS, atomic_write_bytes, atomic_write_json
from simgen.errors import OutputError
from simgen.plugins import EXPORTERS

DEFAULT_SPLIT = "0.8,0.1,0.1"

Coco = dict[str, Any]
Ratios = tuple[float, float, float]


def parse_ratios(text: str) -> Ratios:
    """TRAIN,VAL,TEST fractions from --split; they must be three non-negative numbers summing to 1."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or not all(math.isfinite(v) and v >= 0 for v in values):
        raise OutputError(f"--split {text!r}: expected three non-negative fractions TRAIN,VAL,TEST, "
                          f"e.g. {DEFAULT_SPLIT}")
    if abs(sum(values) - 1.0) > 1e-6:
        raise OutputError(f"--split {text!r}: the fractions sum to {sum(values):g}; they must sum to 1, "
                          f"e.g. {DEFAULT_SPLIT}")
    return values  # type: ignore[return-value]


def apportion(n: int, ratios: Sequence[float], behind: Sequence[float]) -> list[int]:
    """Split n items by ratios. Each split first gets the whole items it is owed; the leftovers go
    first to empty splits owed at least half an item (so 6 images at 0.8,0.1,0.1 give 4/1/1, not
    5/1/0), then by largest remainder nudged towards splits that are ``behind`` their share overall,
    so that many small groups still add up to the requested ratios."""
    quotas = [n * r for r in ratios]
    counts = [math.floor(q + 1e-9) for q in quotas]
    eligible = sorted((i for i, r in enumerate(ratios) if r > 0),
                      key=lambda i: (counts[i] > 0 or quotas[i] < 0.5, -(quotas[i] - counts[i] + behind[i]), i))
    for i in eligible[:n - sum(counts)]:
        counts[i] += 1
    return counts


def condition_groups(images: list[dict]) -> dict[tuple[str, ...], list[dict]]:
    """Images grouped by their sorted condition tags, each group in image-id order."""
    groups: dict[tuple[str, ...], list[dict]] = {}
    for image in sorted(images, key=lambda im: im["id"]):
        groups.setdefault(tuple(sorted(image.get("conditions") or ())), []).append(image)
    return groups


def split_images(images: list[dict], ratios: Sequence[float], seed: int) -> dict[str, list[dict]]:
    """Deterministic stratified split: each condition group is shuffled with its own seed (so adding
    a new condition does not reshuffle the others) and cut by the ratios. A clip's frames stay
    together: clips are split as units, so none is seen in two splits."""
    if any("video_id" in image for image in images):
        clips: dict[Any, list[dict]] = {}
        for image in images:
            clips.setdefault(image.get("video_id", ("frame", image["id"])), []).append(image)
        units = [{"id": min(im["id"] for im in members), "conditions": members[0].get("conditions"), "frames": members}
                 for members in clips.values()]
        return {name: sorted((im for unit in chosen for im in unit["frames"]), key=lambda im: im["id"])
                for name, chosen in _split(units, ratios, seed).items()}
    return _split(images, ratios, seed)


def _split(images: list[dict], ratios: Sequence[float], seed: int) -> dict[str, list[dict]]:
    splits: dict[str, list[dict]] = {name: [] for name in SPLITS}
    for key, members in sorted(condition_groups(images).items()):
        total = sum(len(v) for v in splits.values())
        behind = [total * r - len(splits[name]) for name, r in zip(SPLITS, ratios)]
        random.Random(f"{seed}:{json.dumps(key)}").shuffle(members)
        start = 0
        for name, count in zip(SPLITS, apportion(len(members), ratios, behind)):
            splits[name].extend(members[start:start + count])
            start += count
    return {name: sorted(members, key=lambda im: im["id"]) for name, members in splits.items()}


def place(src: Path, dst: Path, symlink: bool) -> str:
    """Put src at dst without duplicating bytes where possible; returns how ("hard-linked", ...)."""
    if not src.is_file():
        raise OutputError(f"{src} is missing; rerun the same 'simgen render' command to complete the dataset")
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    try:
        if symlink:
            os.symlink(src.resolve(), dst)
            return "symlinked"
        try:
            os.link(src, dst)
            return "hard-linked"
        except OSError:
            shutil.copyfile(src, dst)
            return "copied"
    except OSError as exc:
        raise OutputError(f"cannot write {dst}: {exc.strerror}") from None


YOLO_LAYOUT = Layout("export:yolo", frozenset({"data.yaml"}),
                     {f"{kind}/{split}": FRAME_FILE for kind in ("images", "labels") for split in SPLITS})
COCO_SPLIT_LAYOUT = Layout("export:coco-split", frozenset(SPLIT_FILES), {sub: FRAME_FILE for sub in SUBDIRS})


@dataclass
class ExportJob:
    """What an exporter is handed: the checked COCO of OUT, the split, and where to write."""

    coco: Coco
    out: Path
    dest: Path
    splits: dict[str, list[dict]]
    summary: "ExportSummary"
    symlink: bool
    class_map: dict[str, str] = field(default_factory=dict)  # --class-map CLASS=LABEL, for formats with fixed labels


@dataclass(frozen=True)
class Exporter:
    """An export format: ``write`` fills DEST; ``layout`` names what it writes there, which is all a later
    export of the same kind may delete; ``in_place`` formats may write next to the dataset (DEST = OUT)."""

    write: Callable[[ExportJob], None]
    layout: Layout
    help: str
    in_place: bool = False
    class_map: bool = False  # reads --class-map (a format with its own fixed label set)


def prepare_dest(out: Path, dest: Path, fmt: str) -> None:
    """Refuse a DEST that is (or holds) the dataset or is somebody else's folder, and clear what an
    earlier export of this kind left there (its own files only), so no image can sit in two splits
    after re-exporting with another seed."""
    out_r, dest_r = out.resolve(), dest.resolve()
    if dest_r == out_r or dest_r in out_r.parents:
        raise OutputError(f"-o {dest} is the dataset folder or contains it; choose another folder, e.g. {out}-{fmt}")
    layout = EXPORTERS.get(fmt).layout
    if dest.is_dir() and marked_kind(dest) == layout.kind:
        clear(dest, layout)
    claim(dest, layout)


def annotations_by_image(coco: Coco) -> dict[int, list[dict]]:
    grouped: dict[int, list[dict]] = {image["id"]: [] for image in coco["images"]}
    for annotation in coco["annotations"]:
        grouped.setdefault(annotation["image_id"], []).append(annotation)
    return grouped


def _label_line(cls: int, values: np.ndarray | Sequence[float], digits: int = 6) -> str:
    return " ".join([str(cls), *(f"{min(max(float(v), 0.0), 1.0):.{digits}f}" for v in values)])


def yolo_box_line(cls: int, bbox: Sequence[float], width: int, height: int) -> str:
    """COCO [x, y, w, h] in pixels to YOLO's normalized centre and size."""
    x, y, w, h = bbox
    return _label_line(cls, [(x + w / 2) / width, (y + h / 2) / height, w / width, h / height])


def yolo_polygon_line(cls: int, segmentation: dict, width: int, height: int) -> str | None:
    """The mask as one normalized polygon along its pixel edges (every part, joined), so the box a trainer
    derives from it is the COCO box and Ultralytics' own rasterization (scale back, truncate, cv2.fillPoly)
    gives the mask back. None only for an empty mask."""
    outline = pixel_outline(decode_rle(segmentation))
    if outline is None:
        return None
    # 9 decimals keep the EDGE_EPS pull-in of right and bottom edges at any image size up to 16k
    return _label_line(cls, (outline / np.array([width, height], dtype=float)).ravel(), digits=9)


@dataclass
class ExportSummary:
    """What an export did, for the one-line report."""

    fmt: str
    out: Path
    dest: Path
    ratios: Ratios
    counts: dict[str, int]
    labels: int = 0
    skipped: int = 0
    placed: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)  # what the format could not hold, said once

    def text(self) -> str:
        splits = ", ".join(f"{name} {count}" for name, count in self.counts.items())
        kind = "annotation(s) in split files" if self.fmt == "coco-split" else "label line(s)"
        parts = [f"Exported {sum(self.counts.values())} image(s) from {self.out} as {self.fmt} into {self.dest}: "
                 f"{splits}; {self.labels} {kind}"]
        if self.skipped:
            parts.append(f"{self.skipped} mask(s) skipped (no part with 3+ contour points)")
        parts.append(", ".join(f"{n} file(s) {how}" for how, n in sorted(self.placed.items()))
                     or "no file copied or linked")
        parts.extend(self.notes)
        return "; ".join(parts) + "."

    def empty_splits(self) -> list[str]:
        """Splits that were asked for (ratio > 0) but got no image: too few images for the ratios."""
        return [name for name, r in zip(SPLITS, self.ratios) if r > 0 and self.counts[name] == 0]


def write_data_yaml(dest: Path, categories: list[dict]) -> None:
    # No 'path:' key: Ultralytics then takes the folder of this file as the dataset root, so a moved or
    # copied export still trains (an absolute path would point at the old place; a relative one is read
    # against Ultralytics' own datasets folder).
    payload = {"train": "images/train", "val": "images/val", "test": "images/test",
               "names": {i: c["name"] for i, c in enumerate(categories)}}
    header = ("# Ultralytics dataset written by 'simgen export'; train with: yolo train data=<this file>\n"
              "# Paths are relative to this file's folder, so the export can be moved or copied.\n")
    atomic_write_bytes(dest / "data.yaml", (header + yaml.safe_dump(payload, sort_keys=False)).encode("utf-8"))


def export_yolo(job: ExportJob, segment: bool) -> None:
    """Images and one label file per image (empty for an image without objects: a background example)."""
    coco, out, dest, splits, summary, symlink = job.coco, job.out, job.dest, job.splits, job.summary, job.symlink
    cls_of = {c["id"]: i for i, c in enumerate(coco["categories"])}
    by_image = annotations_by_image(coco)
    for name in SPLITS:
        (dest / "images" / name).mkdir(parents=True, exist_ok=True)
        (dest / "labels" / name).mkdir(parents=True, exist_ok=True)
    for split, images in splits.items():
        for image in images:
            source = member(out, image["file_name"], f"image {image['id']}: file_name")
            summary.placed[place(source, dest / "images" / split / source.name, symlink)] += 1
            lines = []
            for annotation in by_image[image["id"]]:
                if annotation.get("iscrowd"):
                    continue
                cls = cls_of[annotation["category_id"]]
                line = (yolo_polygon_line(cls, annotation["segmentation"], image["width"], image["height"]) if segment
                        else yolo_box_line(cls, annotation["bbox"], image["width"], image["height"]))
                if line is None:
                    summary.skipped += 1
                else:
                    lines.append(line + "\n")
            summary.labels += len(lines)
            atomic_write_bytes(dest / "labels" / split / f"{source.stem}.txt", "".join(lines).encode("ascii"))
    write_data_yaml(dest, coco["categories"])


def export_coco_split(job: ExportJob) -> None:
    """annotations_{split}.json whose relative paths resolve against DEST (linking files there unless DEST is OUT)."""
    coco, out, dest, splits, summary, symlink = job.coco, job.out, job.dest, job.splits, job.summary, job.symlink
    in_place = dest.resolve() == out.resolve()
    for split, images in splits.items():
        if not in_place:
            for image in images:
                for relative in frame_files(image):
                    where = f"image {image['id']}: file"
                    summary.placed[place(member(out, relative, where), member(dest, relative, where), symlink)] += 1
        ids = {image["id"] for image in images}
        annotations = [a for a in coco["annotations"] if a["image_id"] in ids]
        summary.labels += len(annotations)
        info = {**coco.get("info", {}), "split": split}
        atomic_write_json(dest / f"annotations_{split}.json",
                          {**coco, "info": info, "images": images, "annotations": annotations}, compact=True)


EXPORTERS.register("yolo", Exporter(lambda job: export_yolo(job, segment=False), YOLO_LAYOUT,
                                    "Ultralytics boxes: images/ and labels/ per split, data.yaml"))
EXPORTERS.register("yolo-seg", Exporter(lambda job: export_yolo(job, segment=True), YOLO_LAYOUT,
                                        "Ultralytics segments: one polygon per object (the largest part of its mask)"))
EXPORTERS.register("coco-split", Exporter(lambda job: export_coco_split(job), COCO_SPLIT_LAYOUT,
                                          "annotations_{train,val,test}.json (next to annotations.json if DEST = OUT)",
                                          in_place=True))


def export_dataset(out: Path, dest: Path, fmt: str, ratios: Ratios = (0.8, 0.1, 0.1), seed: int = 0,
                   symlink: bool = False, class_map: dict[str, str] | None = None) -> ExportSummary:
    """Split OUT's images and write them to DEST in the given format (any registered exporter)."""
    if fmt not in EXPORTERS:
        raise OutputError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORTERS.names())}")
    exporter = EXPORTERS.get(fmt)
    if class_map and not exporter.class_map:
        takes = [name for name in EXPORTERS.names() if EXPORTERS.get(name).class_map]
        raise OutputError(f"--class-map is for formats with a fixed label set ({', '.join(takes)}), not {fmt}")
    coco = read_coco(out)
    splits = split_images(coco["images"], ratios, seed)
    summary = ExportSummary(fmt, out, dest, ratios, {name: len(images) for name, images in splits.items()})
    if not (exporter.in_place and dest.resolve() == out.resolve()):
        prepare_dest(out, dest, fmt)
    elif marked_kind(out) != DATASET.kind:
        claim(out, DATASET)  # writing next to annotations.json: only into a dataset simgen made (or refuse)
    exporter.write(ExportJob(coco, out, dest, splits, summary, symlink, dict(class_map or {})))
    return summary


def parse_class_map(pairs: list[str] | None) -> dict[str, str]:
    """--class-map CLASS=LABEL, repeated: which of the format's labels each simgen class becomes."""
    result: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, label = pair.partition("=")
        if not sep or not name.strip() or not label.strip():
            raise OutputError(f"--class-map {pair!r}: expected CLASS=LABEL, e.g. pedestrian=person")
        if name.strip() in result:
            raise OutputError(f"--class-map: class {name.strip()!r} is mapped twice")
        result[name.strip()] = label.strip()
    return result


def run_export(args: argparse.Namespace) -> int:
    summary = export_dataset(Path(args.out), Path(args.dest), args.format, parse_ratios(args.split), args.seed,
                             args.link, parse_class_map(args.class_map))
    print(summary.text())
    for name in summary.empty_splits():
        print(f"simgen: warning: the {name} split is empty; {sum(summary.counts.values())} image(s) are too few "
              f"for --split {args.split}", file=sys.stderr)
    return 0


EPILOG = """examples:
  simgen export out/quickstart --format yolo -o out/quickstart-yolo
  simgen export out/ycb --format yolo-seg -o out/ycb-seg --split 0.7,0.2,0.1 --seed 1
  simgen export out/ycb --format coco-split -o out/ycb      # split files next to annotations.json
  simgen export out/street --format kitti -o out/street-kitti
  simgen export out/ycb --format voc -o out/ycb-voc
  simgen export out/ycb --format bop -o out/ycb-bop          # 6D pose: models, scene_gt, masks
  simgen export out/street --format cityscapes -o out/street-cs --class-map plant=vegetation
  simgen export out/clips --format mot -o out/clips-mot            # MOTChallenge, a folder per clip

The split is stratified by each image's condition tags and depends only on --seed and the images.
Re-exporting into the same DEST replaces the earlier export's files; anything else there makes it refuse.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="convert a dataset to YOLO, YOLO-seg, COCO (its own layout or splits), KITTI, Pascal VOC, BOP, "
                       "Cityscapes or MOTChallenge",
        description="Split the images of OUT into train/val/test and write them to DEST in one of the formats "
                    "below (plug-ins add more). Images are hard-linked where the format keeps PNG (copied across "
                    "file systems), so an export costs almost no disk; VOC converts them to JPEG. DEST must be "
                    "new, empty, or an earlier export of the same format, whose files alone are replaced.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", metavar="OUT", help="dataset folder written by 'simgen render'")
    parser.add_argument("--format", required=True, choices=EXPORTERS.names(),
                        help="; ".join(f"{name}: {EXPORTERS.get(name).help}" for name in EXPORTERS.names()))
    parser.add_argument("-o", "--dest", required=True, metavar="DEST",
                        help="output folder (new or empty, or an earlier export of the same format; "
                             "for coco-split it may be OUT itself)")
    parser.add_argument("--split", default=DEFAULT_SPLIT, metavar="TRAIN,VAL,TEST",
                        help=f"fractions of images per split, summing to 1 (default {DEFAULT_SPLIT})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    parser.add_argument("--link", action="store_true",
                        help="symlink images instead of hard-linking them (DEST then breaks if OUT moves)")
    parser.add_argument("--class-map", action="append", metavar="CLASS=LABEL",
                        help="for formats with a fixed label set (cityscapes): write simgen class CLASS as LABEL; "
                             "repeat for each class whose name is not a label of the format")
    parser.set_defaults(handler=run_export)
