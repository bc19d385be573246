"""``simgen eval OUT PREDICTIONS.json``: COCO AP/AR of a detector on a simgen dataset, overall and per slice.

A synthetic dataset knows why each frame and object is hard (condition tags, visibility), so the
score is broken down along those lines as well as by object size and class:

  all                       every image and every ground-truth (GT) object
  condition=TAG             only the images tagged TAG; condition=clear: the images with no tag
  visibility=[lo,hi)        every image, but only GT whose visible fraction is in the band counts
  fog_transmittance=[lo,hi) likewise by the share of the object's light that reaches the camera through fog,
  illuminance_lux=[lo,hi)   the lux around the object, and rain_coverage=[lo,hi) the share of its pixels'
                            exposure that rain drops covered (each only where the dataset's values vary)
  size=small|medium|large   COCO's own area ranges (32^2 and 96^2 px)
  class=NAME                one category

Image slices (conditions) restrict COCOeval's ``imgIds``: GT and predictions of other images are not
looked at. Object slices (visibility bands) keep every image and mark the GT outside the band
*ignored*, the way COCOeval treats GT outside an area range: a prediction that matches an ignored GT
is neither a true nor a false positive, and an ignored GT that is missed is not a false negative.
pycocotools offers no public switch for that: ``_prepare`` overwrites any ``ignore`` flag on the GT
with ``iscrowd``. Setting ``iscrowd=1`` instead would be wrong: a crowd GT is matched by intersection
over the *prediction's* area and absorbs any number of predictions, so duplicates and sloppy boxes
near an out-of-band object would vanish from the score. So ``_evaluator`` re-applies the band after
``_prepare`` and leaves ``iscrowd`` and the IoU alone. A prediction that matches no GT at all is a
false positive in every band: for size ranges COCOeval can ignore an unmatched prediction of another
size, since a prediction has an area, but it has no visibility. So a band with few objects gets a
pessimistic AP: every stray prediction in the dataset counts against it. Size and class slices are
read out of the overall evaluation's precision and recall arrays, which are already indexed by area
range and category.

Everything here is pure Python + pycocotools: no Blender, importable from a notebook.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from simgen.errors import OutputError

if TYPE_CHECKING:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

IOU_TYPES = ("bbox", "segm")
GEOMETRY_KEY = {"bbox": "bbox", "segm": "segmentation"}  # what a prediction must carry per --iou-type
CLEAR = "clear"
SIZES = ("small", "medium", "large")  # COCOeval's areaRngLbl after "all"
MAX_DETECTIONS = 100


@dataclass(frozen=True)
class SliceResult:
    """Scores of one slice. AP, AP50 and AR100 are None where the slice holds no GT to score against."""

    kind: str  # all, condition, visibility, fog_transmittance, illuminance_lux, rain_coverage, size, class
    name: str
    images: int  # images whose predictions count in this slice
    gt: int  # GT objects that count (not ignored)
    ap: float | None
    ap50: float | None
    ar100: float | None

    @property
    def label(self) -> str:
        return self.name if self.kind == "all" else f"{self.kind}={self.name}"


@dataclass(frozen=True)
class _Band:
    """An interval [low, high) of an annotation field, or [low, high] for the last band so that its top
    value falls in one."""

    low: float
    high: float
    closed: bool = False
    field: str = "visibility"

    @property
    def name(self) -> str:
        return f"[{self.low:g},{self.high:g}{']' if self.closed else ')'}"

    def contains(self, annotation: dict[str, Any]) -> bool:
        """GT without the field (datasets from before it existed) is in no band."""
        value = annotation.get(self.field)
        if not isinstance(value, (int, float)):
            return False
        return self.low <= value and (value <= self.high if self.closed else value < self.high)


VISIBILITY_BANDS = (_Band(0.0, 0.25), _Band(0.25, 0.5), _Band(0.5, 0.75), _Band(0.75, 1.0, closed=True))
# Severity labels, sliced where the dataset has them at all (clear air and dry frames add no rows):
# fog transmittance along the object's ray, lux around it, and the share of its pixels rain covered.
SEVERITY_BANDS = {
    "fog_transmittance": (_Band(0.0, 0.1, field="fog_transmittance"), _Band(0.1, 0.3, field="fog_transmittance"),
                          _Band(0.3, 0.7, field="fog_transmittance"),
                          _Band(0.7, 1.0, closed=True, field="fog_transmittance")),
    "illuminance_lux": (_Band(0.0, 10.0, field="illuminance_lux"), _Band(10.0, 100.0, field="illuminance_lux"),
                        _Band(100.0, 1000.0, field="illuminance_lux"),
                        _Band(1000.0, math.inf, closed=True, field="illuminance_lux")),
    "rain_coverage": (_Band(0.0, 0.01, field="rain_coverage"), _Band(0.01, 0.05, field="rain_coverage"),
                      _Band(0.05, 1.0, closed=True, field="rain_coverage")),
}
CLEAR_VALUES = {"fog_transmittance": 1.0, "illuminance_lux": None, "rain_coverage": 0.0}


# --- inputs ---------------------------------------------------------------------------------------


def load_dataset(out: Path) -> dict[str, Any]:
    """OUT's annotations.json with the three lists every tool indexes, or an error that says what is wrong."""
    from simgen.dataset.reader import read_coco

    return read_coco(out)


def load_ground_truth(out: Path) -> COCO:
    """OUT's annotations.json as a pycocotools COCO object."""
    from pycocotools.coco import COCO

    gt = COCO()
    gt.dataset = load_dataset(out)
    with _quiet():
        gt.createIndex()
    return gt


def load_predictions(path: Path) -> list[dict[str, Any]]:
    """The parsed results file; its content is checked against the dataset by ``check_predictions``."""
    from simgen.dataset.reader import read_json

    predictions = read_json(path, "predictions file")
    if not isinstance(predictions, list):
        raise OutputError(f"{path}: expected a COCO results list [{{image_id, category_id, bbox, score}}, ...], "
                          f"got a JSON {type(predictions).__name__}")
    return predictions


def check_predictions(predictions: Sequence[Any], gt: COCO, iou_type: str, source: str) -> None:
    """Refuse what pycocotools would crash on or silently mis-score (unknown ids, boxes that are not boxes)."""
    shapes = {image["id"]: (image["height"], image["width"]) for image in gt.dataset["images"]}
    category_ids = set(gt.getCatIds())
    for index, prediction in enumerate(predictions):
        problem = _prediction_problem(prediction, iou_type, shapes, category_ids)
        if problem:
            raise OutputError(f"{source}: prediction {index}: {problem}")


def _prediction_problem(prediction: Any, iou_type: str, shapes: dict[int, tuple[int, int]],
                        category_ids: set[int]) -> str | None:
    if not isinstance(prediction, dict):
        return f"expected an object, got {type(prediction).__name__}"
    missing = [key for key in ("image_id", "category_id", "score", GEOMETRY_KEY[iou_type]) if key not in prediction]
    if missing:
        return f"missing {', '.join(repr(key) for key in missing)} (needed for --iou-type {iou_type})"
    for key in ("image_id", "category_id"):
        if not isinstance(prediction[key], int) or isinstance(prediction[key], bool):
            return f"{key} {prediction[key]!r} is not a whole number"
    if prediction["image_id"] not in shapes:
        return f"image_id {prediction['image_id']!r} is not an image of this dataset"
    if prediction["category_id"] not in category_ids:
        return (f"category_id {prediction['category_id']!r} is not a category of this dataset "
                f"(ids {sorted(category_ids)})")
    if not _is_finite_number(prediction["score"]):
        return f"score {prediction['score']!r} is not a number"
    if iou_type == "bbox":
        return _bbox_problem(prediction["bbox"])
    from simgen.annotate.instances import rle_problem

    return rle_problem(prediction["segmentation"], shapes[prediction["image_id"]])


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _bbox_problem(bbox: Any) -> str | None:
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_finite_number(v) for v in bbox)):
        return f"bbox {bbox!r} is not [x, y, width, height]"
    if bbox[2] < 0 or bbox[3] < 0:
        return f"bbox {bbox!r} has a negative width or height"
    return None


def load_results(gt: COCO, predictions: Sequence[dict[str, Any]]) -> COCO:
    """The predictions as a COCO results object. Copies them, since ``loadRes`` writes into each dict."""
    from pycocotools.coco import COCO

    with _quiet():
        if predictions:
            return gt.loadRes([dict(p) for p in predictions])
        empty = COCO()  # loadRes cannot take an empty list (it looks at the first entry)
        empty.dataset = {"images": gt.dataset["images"], "categories": gt.dataset["categories"], "annotations": []}
        empty.createIndex()
        return empty


@contextlib.contextmanager
def _quiet():
    """pycocotools prints progress on stdout; keep the table (and --json) clean."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


# --- evaluation -----------------------------------------------------------------------------------


def evaluate(out: Path | str, predictions: Path | str | Sequence[dict[str, Any]],
             iou_type: str = "bbox") -> list[SliceResult]:
    """Every slice's scores: overall, per condition tag, per visibility band, per size, per class.

    ``predictions`` is a COCO results file or the already loaded list. Raises OutputError for a missing
    dataset or file and for predictions that do not fit the dataset.
    """
    if iou_type not in IOU_TYPES:
        raise OutputError(f"--iou-type must be one of {', '.join(IOU_TYPES)}, not {iou_type!r}")
    gt = load_ground_truth(Path(out))
    if isinstance(predictions, (str, Path)):
        source, predictions = str(predictions), load_predictions(Path(predictions))
    else:
        source = "predictions"
    check_predictions(predictions, gt, iou_type, source)
    dt = load_results(gt, predictions)
    overall = _run(gt, dt, iou_type)
    return ([_result(overall, "all", "all", gt.anns.values())]
            + _condition_slices(gt, dt, iou_type)
            + _band_slices(gt, dt, iou_type, "visibility", VISIBILITY_BANDS)
            + [row for field, bands in SEVERITY_BANDS.items() if _varies(gt, field)
               for row in _band_slices(gt, dt, iou_type, field, bands)]
            + _size_slices(overall, gt)
            + _class_slices(overall, gt))


def _run(gt: COCO, dt: COCO, iou_type: str, image_ids: Sequence[int] | None = None,
         ignored: Callable[[dict[str, Any]], bool] | None = None) -> COCOeval:
    """An accumulated COCOeval over ``image_ids`` (default all) with the GT that ``ignored`` names ignored."""
    evaluator = _evaluator(gt, dt, iou_type, ignored)
    if image_ids is not None:
        evaluator.params.imgIds = sorted(image_ids)
    with _quiet():
        evaluator.evaluate()
        evaluator.accumulate()
    return evaluator


def _evaluator(gt: COCO, dt: COCO, iou_type: str, ignored: Callable[[dict[str, Any]], bool] | None) -> COCOeval:
    """COCOeval, or one whose ``_prepare`` also ignores GT after it reset every flag to iscrowd (module doc)."""
    from pycocotools.cocoeval import COCOeval

    if ignored is None:
        return COCOeval(gt, dt, iou_type)

    class SliceEval(COCOeval):
        def _prepare(self) -> None:
            super()._prepare()
            for group in self._gts.values():
                for annotation in group:
                    annotation["ignore"] = bool(annotation["ignore"]) or ignored(annotation)

    return SliceEval(gt, dt, iou_type)


def _counted(annotations: Any, keep: Callable[[dict[str, Any]], bool] = lambda a: True) -> int:
    return sum(1 for a in annotations if not a.get("iscrowd") and keep(a))


def _result(evaluator: COCOeval, kind: str, name: str, annotations: Any,
            keep: Callable[[dict[str, Any]], bool] = lambda a: True, category: int | slice = slice(None),
            area: int = 0) -> SliceResult:
    """Scores at area range index ``area`` and category index ``category`` of an accumulated evaluation."""
    import numpy as np

    params = evaluator.params
    gt = _counted(annotations, keep)
    m = params.maxDets.index(MAX_DETECTIONS)
    precision = evaluator.eval["precision"][:, :, category, area, m]  # [iou, recall, (category)]
    recall = evaluator.eval["recall"][:, category, area, m]  # [iou, (category)]
    at_50 = int(np.flatnonzero(np.isclose(params.iouThrs, 0.5))[0])
    scores = [_mean_defined(x) if gt else None for x in (precision, precision[at_50], recall)]
    return SliceResult(kind, name, len(params.imgIds), gt, *scores)


def _mean_defined(values: Any) -> float | None:
    """Mean over the entries COCOeval filled in; -1 marks categories without GT in the slice."""
    defined = values[values > -1]
    return float(defined.mean()) if defined.size else None


def _condition_slices(gt: COCO, dt: COCO, iou_type: str) -> list[SliceResult]:
    """One slice per tag (sorted), then 'clear': the images that carry no tag at all."""
    by_tag: dict[str, list[int]] = {}
    for image in gt.dataset["images"]:
        for tag in image.get("conditions") or [CLEAR]:
            by_tag.setdefault(tag, []).append(image["id"])
    tags = sorted(tag for tag in by_tag if tag != CLEAR) + [CLEAR]
    return [_image_slice(gt, dt, iou_type, tag, by_tag.get(tag, [])) for tag in tags]


def _image_slice(gt: COCO, dt: COCO, iou_type: str, tag: str, image_ids: list[int]) -> SliceResult:
    annotations = [a for image_id in image_ids for a in gt.imgToAnns[image_id]]
    if not _counted(annotations):
        return SliceResult("condition", tag, len(image_ids), 0, None, None, None)
    return _result(_run(gt, dt, iou_type, image_ids), "condition", tag, annotations)


def _varies(gt: COCO, field: str) -> bool:
    """Whether some GT has the field at a value other than clear conditions' (a band slice would then say more)."""
    values = {a.get(field) for a in gt.anns.values() if isinstance(a.get(field), (int, float))}
    clear = CLEAR_VALUES[field]
    return bool(values) and (clear is None or values != {clear})


def _band_slices(gt: COCO, dt: COCO, iou_type: str, kind: str, bands: Sequence[_Band]) -> list[SliceResult]:
    results = []
    for band in bands:
        if not _counted(gt.anns.values(), band.contains):
            results.append(SliceResult(kind, band.name, len(gt.getImgIds()), 0, None, None, None))
            continue
        evaluator = _run(gt, dt, iou_type, ignored=lambda annotation, band=band: not band.contains(annotation))
        results.append(_result(evaluator, kind, band.name, gt.anns.values(), band.contains))
    return results


def _size_slices(overall: COCOeval, gt: COCO) -> list[SliceResult]:
    """COCO's small/medium/large, by GT area (mask area, as in COCO) with COCOeval's inclusive bounds."""
    results = []
    for name in SIZES:
        index = overall.params.areaRngLbl.index(name)
        low, high = overall.params.areaRng[index]
        results.append(_result(overall, "size", name, gt.anns.values(),
                               lambda a, lo=low, hi=high: lo <= a["area"] <= hi, area=index))
    return results


def _class_slices(overall: COCOeval, gt: COCO) -> list[SliceResult]:
    results = []
    for index, category_id in enumerate(overall.params.catIds):
        name = gt.cats[category_id]["name"]
        results.append(_result(overall, "class", name, gt.anns.values(),
                               lambda a, c=category_id: a["category_id"] == c, category=index))
    return results


# --- the command line -----------------------------------------------------------------------------


def format_table(results: Sequence[SliceResult]) -> str:
    """Aligned columns, a blank line between slice kinds; '-' where a slice has nothing to score."""
    header = ("SLICE", "#IMAGES", "#GT", "AP", "AP50", "AR100")
    rows = [(r.label, str(r.images), str(r.gt), *(_score(v) for v in (r.ap, r.ap50, r.ar100))) for r in results]
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "  ".join([row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])])

    lines = [line(header)]
    for index, (result, row) in enumerate(zip(results, rows)):
        if index and result.kind != results[index - 1].kind:
            lines.append("")
        lines.append(line(row))
    return "\n".join(lines)


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``eval`` to the ``simgen`` subcommands."""
    parser = subparsers.add_parser(
        "eval", help="score detector predictions on a dataset: COCO AP/AR overall and per condition, "
                     "visibility, fog, light, rain, size and class",
        description="Score a detector's predictions (a COCO results JSON: a list of {image_id, category_id, bbox, "
                    "score}, or with an RLE segmentation for --iou-type segm) against OUT's annotations with "
                    "pycocotools. Prints AP (IoU .50:.95), AP50 and AR100 overall, per condition tag (and 'clear' "
                    "for untagged images), per visibility band of the ground truth (objects outside the band are "
                    "ignored, like COCO's size ranges), per band of each severity label the dataset has (fog "
                    "transmittance, illuminance in lux, rain coverage), per COCO size and per class.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  simgen eval out/ycb detections.json --iou-type segm")
    parser.add_argument("out", metavar="OUT", help="dataset folder written by 'simgen render -o OUT'")
    parser.add_argument("predictions", metavar="PREDICTIONS.json", help="COCO results file of the detector")
    parser.add_argument("--iou-type", choices=IOU_TYPES, default="bbox",
                        help="match by box (default) or by mask")
    parser.add_argument("--json", action="store_true", help="print the slices as JSON instead of a table")
    parser.set_defaults(handler=_eval_command)


def _eval_command(args: argparse.Namespace) -> int:
    results = evaluate(Path(args.out), Path(args.predictions), args.iou_type)
    if args.json:
        print(json.dumps([{"slice": r.label, **asdict(r)} for r in results], indent=2))
    else:
        print(format_table(results))
    return 0
