"""``simgen validate OUT``: check a rendered dataset against its output contract before training on it.

Errors are contract breaks that would make a loader fail or a metric lie (missing files, masks
that are not their instance pixels, boxes that do not fit their masks). Warnings flag frames that
are legal but probably useless (black, unlabeled, tiny labels). Each PNG is read once and every
pixel check is one numpy operation.

numpy, OpenCV and pycocotools are imported inside the functions that need them, so that
registering this subcommand keeps ``simgen --help`` as fast as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from simgen.dataset.reader import CAMERAS, mask_id
from simgen.errors import OutputError
from simgen.outputs import OUTPUTS, PixelSpec, always_keys

if TYPE_CHECKING:
    import numpy as np

ANNOTATIONS = "annotations.json"
DARK_MEAN, BRIGHT_MEAN = 3, 252
IMAGE_FIELDS = ("id", "width", "height", *always_keys())
ANNOTATION_FIELDS = ("id", "image_id", "category_id", "bbox", "area", "segmentation")


@dataclass(frozen=True)
class Finding:
    """One problem: a stable code to grep or filter on, the file or entry it concerns, and what is wrong."""

    code: str
    where: str
    message: str


@dataclass
class ValidationReport:
    images: int = 0
    annotations: int = 0
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    def error(self, code: str, where: str, message: str) -> None:
        self.errors.append(Finding(code, where, message))

    def warn(self, code: str, where: str, message: str) -> None:
        self.warnings.append(Finding(code, where, message))

    def summary(self, out: Path | str) -> str:
        return (f"{out}: {_count(self.images, 'image')}, {_count(self.annotations, 'annotation')}: "
                f"{_count(len(self.errors), 'error')}, {_count(len(self.warnings), 'warning')}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PNG_SPECS = {output.key: output.pixels for output in OUTPUTS.values() if output.pixels is not None}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --- the checks -----------------------------------------------------------------------------------


def validate_dataset(out: Path, min_area_px: int = 4) -> ValidationReport:
    """Every check on OUT. Raises OutputError only when OUT is not a dataset folder at all."""
    coco_path = _annotations_path(out)
    report = ValidationReport()
    coco = _load_coco(coco_path, report)
    if coco is None:
        return report
    from simgen.dataset.reader import coco_problems

    problems = coco_problems(coco, limit=20, relations=False)  # the checks below report ids and references
    for problem in problems:
        report.error("coco-structure", ANNOTATIONS, problem)
    if problems:
        return report
    report.images, report.annotations = len(coco["images"]), len(coco["annotations"])
    for entries, what in ((coco["images"], "image"), (coco["annotations"], "annotation"),
                          (coco["categories"], "category")):
        _check_unique_ids(entries, what, report)
    images = _complete(coco["images"], IMAGE_FIELDS, _image_where, report)
    annotations = _complete(coco["annotations"], ANNOTATION_FIELDS, _annotation_where, report)
    for annotation in [a for a in annotations if mask_id(a) is None]:
        report.error("missing-field", _annotation_where(annotation), "missing mask_id")
        annotations.remove(annotation)
    by_image = _annotations_by_image(annotations, coco["images"], coco["categories"], report)
    from simgen.annotate.stuff import STUFF

    stuff = (len(coco["categories"]) + 1, len(coco["categories"]) + len(STUFF))  # ids after the things
    segments = _panoptic_segments(out, report)
    for image in images:
        _check_frame(out, image, by_image.get(image["id"], []), min_area_px, report, stuff)
        if "panoptic_file" in image:
            _check_panoptic(out, image, segments.get(image["id"]), by_image.get(image["id"], []), report)
    for folder in sorted((out / CAMERAS).glob(f"*/{ANNOTATIONS}")):  # camera.rig: each camera as a dataset
        _add_camera(report, folder.parent, validate_dataset(folder.parent, min_area_px), images)
    return report


def _add_camera(report: ValidationReport, folder: Path, camera: ValidationReport, images: list[dict[str, Any]]) -> None:
    """A rig camera's findings, named by its folder, and a check that it has the main camera's instants."""
    where = f"{CAMERAS}/{folder.name}"
    report.images += camera.images
    report.annotations += camera.annotations
    report.errors += [Finding(f.code, f"{where}/{f.where}", f.message) for f in camera.errors]
    report.warnings += [Finding(f.code, f"{where}/{f.where}", f.message) for f in camera.warnings]
    if camera.images != len(images):
        report.error("rig-frames", f"{where}/{ANNOTATIONS}", f"{camera.images} images; the main camera has "
                                                             f"{len(images)}: every camera shoots every frame")


def _panoptic_segments(out: Path, report: ValidationReport) -> dict[Any, list[dict[str, Any]]]:
    """panoptic.json's segments_info per image id (empty when the dataset has no panoptic output)."""
    from simgen.dataset.reader import PANOPTIC

    path = out / PANOPTIC
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        return {entry["image_id"]: entry["segments_info"] for entry in data["annotations"]}
    except (ValueError, KeyError, TypeError) as exc:
        report.error("panoptic-json", PANOPTIC, f"not a COCO panoptic file: {exc}")
        return {}


def _check_panoptic(out: Path, image: dict[str, Any], segments: list[dict[str, Any]] | None,
                    annotations: list[dict[str, Any]], report: ValidationReport) -> None:
    """Each segment's area equals its pixels in the PNG; ids are unique; things match their masks."""
    import numpy as np

    from simgen.annotate.stuff import panoptic_ids

    where = image["panoptic_file"]
    if segments is None:
        report.error("panoptic-missing", where, "no entry in panoptic.json")
        return
    array = _read_png(out, where, (image["height"], image["width"]), PNG_SPECS["panoptic_file"], report)
    if array is None:
        return
    ids = panoptic_ids(array[..., ::-1])
    listed = [segment["id"] for segment in segments]
    if len(set(listed)) != len(listed):
        report.error("panoptic-ids", where, "segment ids repeat")
    present = set(np.unique(ids).tolist()) - {0}
    if present != set(listed):
        report.error("panoptic-ids", where, f"ids in the PNG {sorted(present - set(listed))[:5]} and in "
                                            f"segments_info {sorted(set(listed) - present)[:5]} differ")
    areas = np.bincount(ids.ravel() % (1 << 20), minlength=1)
    masks = {mask_id(a): a for a in annotations}
    for segment in segments:
        sid = int(segment["id"])
        area = int(areas[sid % (1 << 20)]) if sid % (1 << 20) < len(areas) else 0
        if area != segment.get("area"):
            report.error("panoptic-area", where, f"segment {sid}: area {segment.get('area')}, {area} px in the PNG")
        thing = masks.get(sid)
        if thing is not None and thing["area"] != area:
            report.error("panoptic-area", where, f"segment {sid}: {area} px, its annotation's mask {thing['area']}")


def _annotations_path(out: Path) -> Path:
    if not out.is_dir():
        raise OutputError(f"{out} is not a folder; pass the OUT folder of a 'simgen render' run")
    path = out / ANNOTATIONS
    if not path.is_file():
        raise OutputError(f"{out} has no {ANNOTATIONS}; is it the OUT folder of a 'simgen render' run?")
    return path


def _load_coco(path: Path, report: ValidationReport) -> dict[str, Any] | None:
    """The dataset exactly as pycocotools reads it, or None after reporting why a COCO loader would fail."""
    from pycocotools.coco import COCO

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # COCO() prints progress; keep --json output clean
            dataset = COCO(str(path)).dataset
    except Exception as exc:  # bad JSON, its own assert, or KeyError/TypeError from createIndex
        report.error("coco-load", ANNOTATIONS, f"pycocotools cannot load it: {type(exc).__name__}: {exc}")
        return None
    missing = [key for key in ("images", "annotations", "categories") if not isinstance(dataset.get(key), list)]
    if missing:
        report.error("coco-load", ANNOTATIONS, f"no {', '.join(repr(key) for key in missing)} list")
        return None
    return dataset


def _image_where(image: dict[str, Any]) -> str:
    return str(image.get("file_name") or f"image {image.get('id')}")


def _annotation_where(annotation: dict[str, Any]) -> str:
    return f"annotation {annotation.get('id')}"


def _check_unique_ids(entries: Iterable[dict[str, Any]], what: str, report: ValidationReport) -> None:
    """pycocotools indexes by id and silently keeps the last duplicate, so duplicates lose labels."""
    for value, count in Counter(entry["id"] for entry in entries).items():
        if count > 1:
            report.error(f"duplicate-{what}-id", f"{what} {value}", f"id {value} is used by {count} {what} entries")


def _complete(entries: Iterable[dict[str, Any]], fields: tuple[str, ...], where: Callable[[dict[str, Any]], str],
              report: ValidationReport) -> list[dict[str, Any]]:
    """Entries that have every field the checks read; the others are reported once and skipped."""
    complete = []
    for entry in entries:
        missing = [name for name in fields if name not in entry]
        if missing:
            report.error("missing-field", where(entry), f"missing {', '.join(missing)}")
        else:
            complete.append(entry)
    return complete


def _annotations_by_image(annotations: list[dict[str, Any]], images: list[dict[str, Any]],
                          categories: list[dict[str, Any]], report: ValidationReport) -> dict[Any, list[dict[str, Any]]]:
    """Annotations grouped by image id. Those of an unknown image have no pixels to check and are dropped."""
    image_ids = {image["id"] for image in images}
    category_ids = {category["id"] for category in categories}
    by_image: dict[Any, list[dict[str, Any]]] = {}
    for annotation in annotations:
        where = _annotation_where(annotation)
        if annotation["category_id"] not in category_ids:
            report.error("unknown-category", where, f"category_id {annotation['category_id']} is not in categories")
        if annotation["image_id"] not in image_ids:
            report.error("unknown-image", where, f"image_id {annotation['image_id']} is not in images")
            continue
        by_image.setdefault(annotation["image_id"], []).append(annotation)
    return by_image


def _check_frame(out: Path, image: dict[str, Any], annotations: list[dict[str, Any]], min_area_px: int,
                 report: ValidationReport, stuff: tuple[int, int] = (0, -1)) -> None:
    """The four files of one frame, then each of its annotations against the instance and semantic maps."""
    shape = (image["height"], image["width"])
    pngs = {key: _read_png(out, image[key], shape, spec, report) for key, spec in PNG_SPECS.items() if key in image}
    rgb, depth, instance, semantic = (pngs.get(key) for key in ("file_name", "depth_file", "instance_file",
                                                                 "semantic_file"))
    if rgb is not None:
        _check_exposure(rgb, image["file_name"], report)
    if depth is not None and not depth.any():
        report.warn("depth-empty", image["depth_file"], "depth is 0 (no surface) everywhere")
    if not annotations:
        report.warn("no-labels", image["file_name"], "frame has no annotations")
    for annotation in annotations:
        _check_annotation(annotation, image, instance, semantic, min_area_px, report)
    if instance is not None:
        _check_unlabeled(instance, annotations, image["instance_file"], report)
        if semantic is not None:
            everywhere = (image.get("params") or {}).get("environment") is not None
            _check_semantic_background(instance, semantic, image["semantic_file"], report, stuff if everywhere else None)


def _read_png(out: Path, relative: str, shape: tuple[int, int], spec: PixelSpec,
              report: ValidationReport) -> np.ndarray | None:
    """The file as stored (read once), or None after reporting why the pixel checks cannot use it."""
    import cv2

    from simgen.dataset.reader import member
    from simgen.errors import DatasetError

    try:
        path = member(out, relative, "path")
    except DatasetError as exc:
        report.error("path-outside", str(relative), str(exc).removeprefix("path: "))
        return None
    if not path.is_file():
        report.error("file-missing", relative, "file is missing")
        return None
    array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if array is None:
        report.error("file-unreadable", relative, "OpenCV cannot decode it as an image")
        return None
    if array.shape[:2] != shape:
        report.error("size-mismatch", relative, f"{array.shape[1]}x{array.shape[0]} px, but the image entry says "
                                                f"{shape[1]}x{shape[0]}")
        return None
    channels = 1 if array.ndim == 2 else array.shape[2]
    if channels != spec.channels or array.dtype.name not in spec.dtypes:
        report.error("bad-format", relative, f"{channels}-channel {array.dtype.name}, expected {spec}")
        return None
    return array


def _check_exposure(rgb: np.ndarray, where: str, report: ValidationReport) -> None:
    mean = float(rgb.mean())
    if mean < DARK_MEAN:
        report.warn("black-image", where, f"mean value {mean:.1f} < {DARK_MEAN}: nothing visible")
    elif mean > BRIGHT_MEAN:
        report.warn("blown-out-image", where, f"mean value {mean:.1f} > {BRIGHT_MEAN}: overexposed")


def _check_annotation(annotation: dict[str, Any], image: dict[str, Any], instance: np.ndarray | None,
                      semantic: np.ndarray | None, min_area_px: int, report: ValidationReport) -> None:
    """Box and area against the annotation's own mask, then the mask against the instance and semantic maps."""
    where = _annotation_where(annotation)
    mask = _decode_mask(annotation["segmentation"], (image["height"], image["width"]), where, report)
    if mask is None:
        return
    area = int(mask.sum())
    if annotation["area"] != area:
        report.error("area-mismatch", where, f"area {annotation['area']}, but the mask has {area} px")
    bbox = _mask_bbox(mask)
    if annotation["bbox"] != bbox:
        report.error("bbox-mismatch", where, f"bbox {annotation['bbox']}, but the mask spans {bbox}")
    if area < min_area_px:
        report.warn("small-label", where, f"{area} px, below the {min_area_px} px minimum")
    if instance is not None:
        differ = int((mask != (instance == mask_id(annotation))).sum())
        if differ:
            report.error("mask-mismatch", where, f"mask differs from {image['instance_file']} == "
                                                 f"{mask_id(annotation)} at {differ} px")
    if semantic is not None:
        wrong = int((semantic[mask] != annotation["category_id"]).sum())
        if wrong:
            report.error("semantic-mismatch", where, f"{wrong} of {area} mask px are not category "
                                                     f"{annotation['category_id']} in {image['semantic_file']}")


def _decode_mask(segmentation: Any, shape: tuple[int, int], where: str, report: ValidationReport) -> np.ndarray | None:
    """The boolean mask, or None after reporting it. The size is checked first: a bad one could allocate gigabytes."""
    from simgen.annotate.instances import decode_rle

    from simgen.annotate.instances import rle_problem

    if isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), str) \
            and segmentation.get("size") != [shape[0], shape[1]]:
        report.error("rle-size", where, f"RLE size {segmentation.get('size')} differs from the image's "
                                        f"[{shape[0]}, {shape[1]}]")
        return None
    problem = rle_problem(segmentation, shape)
    if problem is not None:
        report.error("rle-invalid", where, problem)
        return None
    return decode_rle(segmentation)


def _mask_bbox(mask: np.ndarray) -> list[int]:
    """COCO [x, y, w, h] over whole pixels; written here rather than reused so the writer's box is checked
    independently."""
    rows = mask.any(axis=1).nonzero()[0]
    cols = mask.any(axis=0).nonzero()[0]
    if rows.size == 0:
        return [0, 0, 0, 0]
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]


def _check_unlabeled(instance: np.ndarray, annotations: list[dict[str, Any]], where: str,
                     report: ValidationReport) -> None:
    """Visible objects without a label teach a detector that they are background."""
    import numpy as np

    present = set(np.flatnonzero(np.bincount(instance.ravel())).tolist()) - {0}
    unlabeled = sorted(present - {mask_id(annotation) for annotation in annotations})
    if unlabeled:
        report.warn("unlabeled-instance", where, f"instance id(s) {unlabeled} have pixels but no annotation")


def _check_semantic_background(instance: np.ndarray, semantic: np.ndarray, where: str,
                               report: ValidationReport, stuff: tuple[int, int] | None = None) -> None:
    """Unlabeled pixels are 0; in a frame with an environment, a stuff category (sky included) instead."""
    background = semantic[instance == 0]
    if stuff is None:
        stray = int((background != 0).sum())
        if stray:
            report.error("semantic-mismatch", where, f"{stray} background px (instance 0) have a category")
        return
    stray = int(((background < stuff[0]) | (background > stuff[1])).sum())
    if stray:
        report.error("semantic-mismatch", where, f"{stray} px outside labeled objects are not stuff categories "
                                                 f"{stuff[0]}..{stuff[1]}")


# --- the command line -----------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``validate`` to the ``simgen`` subcommands."""
    parser = subparsers.add_parser(
        "validate", help="check a rendered dataset folder for broken or suspicious labels",
        description="Check OUT against the simgen dataset contract: annotations.json loads in pycocotools, every "
                    "referenced file exists with the right size and format, ids are unique and resolve, and each "
                    "mask, bbox, area and semantic label agrees with the instance map. Also warns about black or "
                    "blown-out images, unlabeled frames, tiny labels, empty depth and unlabeled instances. "
                    "Exit status: 0 no errors (warnings allowed), 1 errors found, 2 OUT is not a dataset.")
    parser.add_argument("out", metavar="OUT", help="dataset folder written by 'simgen render -o OUT'")
    parser.add_argument("--min-area", type=int, default=4, metavar="PX",
                        help="warn about labels with fewer visible pixels than this (default: 4)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.set_defaults(handler=_validate_command)


def _validate_command(args: argparse.Namespace) -> int:
    out = Path(args.out)
    report = validate_dataset(out, args.min_area)
    if args.json:
        print(json.dumps({"out": str(out), **report.to_dict()}, indent=2))
    else:
        table = format_findings(report)
        if table:
            print(table)
        print(report.summary(out))
    return 1 if report.errors else 0


def format_findings(report: ValidationReport) -> str:
    """Errors then warnings as aligned columns (level, code, where, message); empty when there are none."""
    rows = [("error", f) for f in report.errors] + [("warning", f) for f in report.warnings]
    if not rows:
        return ""
    table = [("LEVEL", "CODE", "WHERE", "MESSAGE")] + [(level, f.code, f.where, f.message) for level, f in rows]
    widths = [max(len(row[column]) for row in table) for column in range(3)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3]
                     for row in table)
