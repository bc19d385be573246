"""Cityscapes-style labels: what semantic and instance segmentation code written for Cityscapes reads.

    DEST/leftImg8bit/{split}/simgen/simgen_000000_FFFFFF_leftImg8bit.png     the RGB (linked)
    DEST/gtFine/{split}/simgen/simgen_000000_FFFFFF_gtFine_labelIds.png      uint8 Cityscapes label id
                                                      ..._gtFine_labelTrainIds.png  uint8 train id, 255 = ignore
                                                      ..._gtFine_instanceIds.png    uint16: id * 1000 + k for
                                                            each instance k of a class with instances, else id
                                                      ..._gtFine_color.png          the label colours (RGB)

The "city" is ``simgen`` and FFFFFF the frame index. Cityscapes has a fixed table of 34 labels
(``LABELS``); each simgen class is written as the label of the same name (``pedestrian`` and a few
other common names are understood), or as ``--class-map CLASS=LABEL`` says. Pixels simgen does not
label (background, distractors) are ``unlabeled``; ignore regions (iscrowd) keep their class but get no
instance number, as Cityscapes' own group regions do.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import cv2
import numpy as np

from simgen.dataset.layout import SPLITS
from simgen.dataset.ownership import Layout
from simgen.dataset.reader import frame_index, member
from simgen.dataset.writer import atomic_write_bytes
from simgen.errors import OutputError
from simgen.plugins import EXPORTERS
from simgen.tools.export import ExportJob, Exporter, annotations_by_image, place


class Label(NamedTuple):
    name: str
    id: int
    train_id: int  # 255: not trained on (ignored)
    has_instances: bool
    color: tuple[int, int, int]


LABELS = [Label(*row) for row in (  # the Cityscapes benchmark's label definitions
    ("unlabeled", 0, 255, False, (0, 0, 0)), ("ego vehicle", 1, 255, False, (0, 0, 0)),
    ("rectification border", 2, 255, False, (0, 0, 0)), ("out of roi", 3, 255, False, (0, 0, 0)),
    ("static", 4, 255, False, (0, 0, 0)), ("dynamic", 5, 255, False, (111, 74, 0)),
    ("ground", 6, 255, False, (81, 0, 81)), ("road", 7, 0, False, (128, 64, 128)),
    ("sidewalk", 8, 1, False, (244, 35, 232)), ("parking", 9, 255, False, (250, 170, 160)),
    ("rail track", 10, 255, False, (230, 150, 140)), ("building", 11, 2, False, (70, 70, 70)),
    ("wall", 12, 3, False, (102, 102, 156)), ("fence", 13, 4, False, (190, 153, 153)),
    ("guard rail", 14, 255, False, (180, 165, 180)), ("bridge", 15, 255, False, (150, 100, 100)),
    ("tunnel", 16, 255, False, (150, 120, 90)), ("pole", 17, 5, False, (153, 153, 153)),
    ("polegroup", 18, 255, False, (153, 153, 153)), ("traffic light", 19, 6, False, (250, 170, 30)),
    ("traffic sign", 20, 7, False, (220, 220, 0)), ("vegetation", 21, 8, False, (107, 142, 35)),
    ("terrain", 22, 9, False, (152, 251, 152)), ("sky", 23, 10, False, (70, 130, 180)),
    ("person", 24, 11, True, (220, 20, 60)), ("rider", 25, 12, True, (255, 0, 0)),
    ("car", 26, 13, True, (0, 0, 142)), ("truck", 27, 14, True, (0, 0, 70)),
    ("bus", 28, 15, True, (0, 60, 100)), ("caravan", 29, 255, True, (0, 0, 90)),
    ("trailer", 30, 255, True, (0, 0, 110)), ("train", 31, 16, True, (0, 80, 100)),
    ("motorcycle", 32, 17, True, (0, 0, 230)), ("bicycle", 33, 18, True, (119, 11, 32)))]
BY_NAME = {label.name: label for label in LABELS}
SYNONYMS = {"pedestrian": "person", "people": "person", "cyclist": "rider", "bike": "bicycle",
            "motorbike": "motorcycle", "vehicle": "car", "tree": "vegetation", "plant": "vegetation",
            "sign": "traffic sign", "traffic_sign": "traffic sign", "traffic_light": "traffic light",
            "stop_sign": "traffic sign", "lamp": "pole", "street_lamp": "pole", "rail_track": "rail track",
            "guard_rail": "guard rail"}

CITY = "simgen"
NAME = re.compile(rf"{CITY}_\d{{6}}_\d{{6,}}_(leftImg8bit|gtFine_(labelIds|labelTrainIds|instanceIds|color))\.png")
LAYOUT = Layout("export:cityscapes", frozenset(),
                {f"{kind}/{split}/{CITY}": NAME for kind in ("leftImg8bit", "gtFine") for split in SPLITS})


def _label_name(name: str, class_map: dict[str, str]) -> str | None:
    if name in class_map:
        return class_map[name].lower()
    for candidate in (name.lower(), name.lower().replace("_", " ")):
        if candidate in BY_NAME:
            return candidate
    return SYNONYMS.get(name.lower())


def class_labels(categories: list[dict], class_map: dict[str, str]) -> dict[int, Label]:
    """Each simgen category id's Cityscapes label: --class-map first, then the same name, then a synonym."""
    unknown = sorted(set(class_map) - {c["name"] for c in categories})
    if unknown:
        raise OutputError(f"--class-map {unknown[0]}=...: the dataset has no class {unknown[0]!r}; its classes: "
                          f"{', '.join(c['name'] for c in categories)}")
    result, unmapped = {}, []
    for category in categories:
        name = category["name"]
        wanted = _label_name(name, class_map)
        if not wanted:
            unmapped.append(name)
        elif wanted not in BY_NAME:
            raise OutputError(f"--class-map {name}={wanted}: {wanted!r} is not a Cityscapes label; use one of "
                              f"{', '.join(label.name for label in LABELS)}")
        else:
            result[category["id"]] = BY_NAME[wanted]
    if unmapped:
        raise OutputError(f"cityscapes: class(es) {', '.join(unmapped)} have no Cityscapes label of that name; "
                          f"map each with --class-map CLASS=LABEL (LABEL: a Cityscapes label such as car, person, "
                          f"vegetation, or unlabeled to leave it out)")
    return result


def label_images(instance: np.ndarray, annotations: list[dict], labels: dict[int, Label]) -> dict[str, np.ndarray]:
    """labelIds, labelTrainIds, instanceIds and color images from simgen's instance map."""
    ids = np.zeros(instance.shape, np.uint8)
    instance_ids = np.zeros(instance.shape, np.uint16)
    counts: dict[int, int] = {}
    for annotation in sorted(annotations, key=lambda a: a["mask_id"]):
        label = labels[annotation["category_id"]]
        pixels = instance == annotation["mask_id"]
        ids[pixels] = label.id
        if label.has_instances and not annotation.get("iscrowd"):
            number = counts.get(label.id, 0)
            counts[label.id] = number + 1
            instance_ids[pixels] = label.id * 1000 + number
        else:
            instance_ids[pixels] = label.id
    train = np.full(256, 255, np.uint8)
    colors = np.zeros((256, 3), np.uint8)
    for label in LABELS:
        train[label.id], colors[label.id] = label.train_id, label.color
    return {"labelIds": ids, "labelTrainIds": train[ids], "instanceIds": instance_ids,
            "color": cv2.cvtColor(colors[ids], cv2.COLOR_RGB2BGR)}


def export_cityscapes(job: ExportJob) -> None:
    labels = class_labels(job.coco["categories"], job.class_map)
    by_image = annotations_by_image(job.coco)
    for split in SPLITS:
        for image in job.splits[split]:
            stem = f"{CITY}_000000_{frame_index(image):06d}"
            source = member(job.out, image["file_name"], f"image {image['id']}: file_name")
            rgb = job.dest / "leftImg8bit" / split / CITY / f"{stem}_leftImg8bit.png"
            job.summary.placed[place(source, rgb, job.symlink)] += 1
            instance = cv2.imread(str(member(job.out, image["instance_file"], f"image {image['id']}: instance_file")),
                                  cv2.IMREAD_UNCHANGED)
            folder = job.dest / "gtFine" / split / CITY
            folder.mkdir(parents=True, exist_ok=True)
            for kind, array in label_images(instance, by_image[image["id"]], labels).items():
                ok, encoded = cv2.imencode(".png", array)
                assert ok
                atomic_write_bytes(folder / f"{stem}_gtFine_{kind}.png", encoded.tobytes())
            job.summary.labels += len(by_image[image["id"]])


EXPORTERS.register("cityscapes", Exporter(export_cityscapes, LAYOUT,
                                          "Cityscapes label, train-id, instance and colour PNGs",
                                          class_map=True))
