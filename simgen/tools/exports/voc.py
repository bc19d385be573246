"""Pascal VOC detection: ``VOCdevkit/VOC2012/{JPEGImages,Annotations,ImageSets/Main}``.

The layout torchvision's ``VOCDetection(root=DEST, year="2012", image_set=...)`` and the VOC
devkit read, plus a ``labelmap.txt`` of simgen's classes (Datumaro reads it; tools that assume VOC's
20 classes ignore it). Images are JPEG (quality 95), as VOC's loaders expect ``.jpg``. Boxes are VOC's
1-based inclusive pixel coordinates: xmin = x + 1, xmax = x + width. ``difficult`` marks simgen's
ignore regions (iscrowd), ``truncated`` its truncated flag, ``occluded`` a visibility under 0.5.
"""

from __future__ import annotations

import re
from xml.etree import ElementTree

import cv2

from simgen.dataset.layout import SPLITS
from simgen.dataset.ownership import Layout
from simgen.dataset.reader import member
from simgen.dataset.writer import atomic_write_bytes
from simgen.errors import OutputError
from simgen.plugins import EXPORTERS
from simgen.tools.export import ExportJob, Exporter, annotations_by_image

ROOT = "VOCdevkit/VOC2012"
LAYOUT = Layout("export:voc", frozenset(), {ROOT: re.compile(r"labelmap\.txt"),
                                           f"{ROOT}/JPEGImages": re.compile(r"\d{6,}\.jpg"),
                                           f"{ROOT}/Annotations": re.compile(r"\d{6,}\.xml"),
                                           f"{ROOT}/ImageSets/Main": re.compile(r"(train|val|test|trainval)\.txt")})


def _element(parent: ElementTree.Element, tag: str, text: object = None) -> ElementTree.Element:
    child = ElementTree.SubElement(parent, tag)
    if text is not None:
        child.text = str(text)
    return child


def annotation_xml(image: dict, stem: str, annotations: list[dict], names: dict[int, str]) -> bytes:
    root = ElementTree.Element("annotation")
    _element(root, "folder", "VOC2012")
    _element(root, "filename", f"{stem}.jpg")
    source = _element(root, "source")
    _element(source, "database", "simgen")
    size = _element(root, "size")
    for tag, value in (("width", image["width"]), ("height", image["height"]), ("depth", 3)):
        _element(size, tag, value)
    _element(root, "segmented", 0)
    for annotation in annotations:
        x, y, w, h = annotation["bbox"]
        obj = _element(root, "object")
        _element(obj, "name", names[annotation["category_id"]])
        _element(obj, "pose", "Unspecified")
        _element(obj, "truncated", int(bool(annotation.get("truncated"))))
        _element(obj, "occluded", int((annotation.get("visibility") or 1.0) < 0.5))
        _element(obj, "difficult", int(bool(annotation.get("iscrowd"))))
        box = _element(obj, "bndbox")
        for tag, value in (("xmin", x + 1), ("ymin", y + 1), ("xmax", x + w), ("ymax", y + h)):
            _element(box, tag, int(round(value)))
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n"


def export_voc(job: ExportJob) -> None:
    names = {c["id"]: c["name"] for c in job.coco["categories"]}
    by_image = annotations_by_image(job.coco)
    base = job.dest / ROOT
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    lists = {}
    for split in SPLITS:
        stems = []
        for image in job.splits[split]:
            source = member(job.out, image["file_name"], f"image {image['id']}: file_name")
            pixels = cv2.imread(str(source), cv2.IMREAD_COLOR)
            if pixels is None:
                raise OutputError(f"{source} is missing or unreadable; rerun 'simgen render' to complete the dataset")
            ok, jpeg = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 95])
            atomic_write_bytes(base / "JPEGImages" / f"{source.stem}.jpg", jpeg.tobytes())
            job.summary.placed["converted to JPEG"] += 1
            annotations = by_image[image["id"]]
            job.summary.labels += len(annotations)
            atomic_write_bytes(base / "Annotations" / f"{source.stem}.xml",
                               annotation_xml(image, source.stem, annotations, names))
            stems.append(source.stem)
        lists[split] = stems
    lists["trainval"] = lists["train"] + lists["val"]
    # The class list, for loaders that do not assume VOC's own 20 classes (Datumaro reads this file)
    labelmap = "# label:color_rgb:parts:actions\nbackground:0,0,0::\n" + "".join(
        f"{c['name']}:{(37 * c['id']) % 256},{(91 * c['id']) % 256},{(151 * c['id']) % 256}::\n"
        for c in job.coco["categories"])
    atomic_write_bytes(base / "labelmap.txt", labelmap.encode())
    for name, stems in lists.items():
        atomic_write_bytes(base / "ImageSets" / "Main" / f"{name}.txt", "".join(f"{s}\n" for s in stems).encode())


EXPORTERS.register("voc", Exporter(export_voc, LAYOUT, "Pascal VOC detection XML (VOCdevkit/VOC2012, JPEG images)"))
