"""The one reader of a dataset's COCO file, and the one rule for paths found inside a dataset.

Every tool (export, eval, sheet, report, diff, merge) reads ``annotations.json`` through
``read_coco``, so a malformed file gives the same one-line error everywhere instead of a
traceback from whichever tool touched it first. Paths written in a dataset's own files are
data, not instructions: ``member`` refuses any that would lead outside the dataset folder.
"""

from __future__ import annotations

import json
import math
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from simgen.config.limits import MAX_FRAMES
from simgen.errors import DatasetError

ANNOTATIONS = "annotations.json"
PANOPTIC = "panoptic.json"  # COCO panoptic segments, beside panoptic/*.png
LISTS = ("images", "annotations", "categories")
MAX_PROBLEMS = 3


def member(root: Path, relative: Any, where: str) -> Path:
    """``root/relative``, refusing absolute paths, ``..`` and links that lead out of ``root``."""
    if not isinstance(relative, str) or not relative or "\x00" in relative:
        raise DatasetError(f"{where}: expected a file path relative to the dataset, got {relative!r}")
    path = PurePosixPath(relative.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise DatasetError(f"{where}: path {relative!r} leads outside the dataset folder; refusing to follow it")
    full = root / path
    try:
        inside = full.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a loop of links
        inside = False
    if not inside:
        raise DatasetError(f"{where}: path {relative!r} is a link out of the dataset folder; refusing to follow it")
    return full


CAMERAS = "cameras"  # camera.rig: cameras/NAME/ holds that camera's files and COCO, laid out as the dataset is


def view_folder(name: str) -> str:
    """A rig camera's folder, relative to the dataset; its own image records' paths are relative to it."""
    return f"{CAMERAS}/{name}"


def frame_files(image: dict[str, Any]) -> list[str]:
    """Every file an image record points at (file_name and each *_file key), relative to its COCO file's folder."""
    return [value for key, value in image.items() if key == "file_name" or key.endswith("_file")]


def record_files(record: dict[str, Any]) -> list[str]:
    """Every file a journal record vouches for, relative to the dataset: the main camera's and each rig camera's."""
    files = frame_files(record["image"])
    views = record.get("views")
    for name, view in (views.items() if isinstance(views, dict) else ()):
        image = view.get("image") if isinstance(view, dict) else None
        if not isinstance(name, str) or not isinstance(image, dict):
            raise DatasetError(f"journal: frame {record['image'].get('frame_index')}: views.{name} is not a rig "
                               f"camera's record")
        files += [f"{view_folder(name)}/{relative}" for relative in frame_files(image)]
    return files


def dig(record: Any, *keys: str) -> Any:
    """``record[k1][k2]...``, or None where any level is missing (older datasets, a disabled sun)."""
    for key in keys:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def mask_id(annotation: dict[str, Any]) -> Any:
    """The value of an annotation's pixels in instance/*.png: ``mask_id``, or ``instance_id`` in datasets
    written before it was renamed (FiftyOne reserves that name on its detections)."""
    return annotation.get("mask_id", annotation.get("instance_id"))


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _image_problem(image: dict[str, Any]) -> str | None:
    if not _whole(image.get("id")):
        return f"id: expected a whole number, got {image.get('id')!r}"
    if not isinstance(image.get("file_name"), str) or not image["file_name"]:
        return f"file_name: expected a path, got {image.get('file_name')!r}"
    for key in ("width", "height"):
        if not (_whole(image.get(key)) and image[key] > 0):
            return f"{key}: expected a positive whole number, got {image.get(key)!r}"
    if "frame_index" in image and not (_whole(image["frame_index"]) and 0 <= image["frame_index"] < MAX_FRAMES):
        return f"frame_index: expected a whole number from 0, got {image['frame_index']!r}"
    for key, value in image.items():
        if key.endswith("_file") and not isinstance(value, str):
            return f"{key}: expected a path, got {value!r}"
    if "conditions" in image and not (isinstance(image["conditions"], list)
                                      and all(isinstance(c, str) for c in image["conditions"])):
        return f"conditions: expected a list of names, got {image['conditions']!r}"
    return None


def _annotation_problem(annotation: dict[str, Any]) -> str | None:
    for key in ("id", "image_id", "category_id"):
        if not _whole(annotation.get(key)):
            return f"{key}: expected a whole number, got {annotation.get(key)!r}"
    bbox = annotation.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_finite(v) for v in bbox) and min(bbox[2:]) >= 0):
        return f"bbox: expected [x, y, width, height] with width, height >= 0, got {bbox!r}"
    if "area" in annotation and not _finite(annotation["area"]):
        return f"area: expected a number, got {annotation['area']!r}"
    segmentation = annotation.get("segmentation")
    if segmentation is not None and not isinstance(segmentation, (dict, list)):
        return f"segmentation: expected an RLE or polygons, got {type(segmentation).__name__}"
    return None


def _category_problem(category: dict[str, Any]) -> str | None:
    if not _whole(category.get("id")):
        return f"id: expected a whole number, got {category.get('id')!r}"
    if not isinstance(category.get("name"), str):
        return f"name: expected a name, got {category.get('name')!r}"
    return None


CHECKS = {"images": _image_problem, "annotations": _annotation_problem, "categories": _category_problem}


def frame_index(image: dict[str, Any]) -> int:
    """The simgen frame an image record is (exports name their files after it); read_coco checked its type."""
    if "frame_index" not in image:
        raise DatasetError(f"image {image.get('id')}: no frame_index (not a dataset simgen rendered)")
    return int(image["frame_index"])


def camera_of(image: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """An image's (K 3x3, world_to_camera 4x4) as simgen records them, or one DatasetError saying what is wrong."""
    camera = image.get("camera")
    try:
        K = np.array(camera["K"], float)
        world_to_camera = np.array(camera["world_to_camera"], float)
    except (TypeError, KeyError, ValueError):
        K = world_to_camera = None
    if K is None or K.shape != (3, 3) or world_to_camera.shape != (4, 4) or not (
            np.isfinite(K).all() and np.isfinite(world_to_camera).all()):
        raise DatasetError(f"image {image.get('id')}: camera: expected K (3x3) and world_to_camera (4x4) numbers, "
                           f"as simgen records them")
    return K, world_to_camera


def coco_problems(coco: Any, limit: int = MAX_PROBLEMS, relations: bool = True) -> list[str]:
    """What makes ``coco`` unusable as a COCO dataset (structure and types; with ``relations`` also
    duplicate ids and references to missing images or categories); empty if nothing."""
    if not isinstance(coco, dict):
        return [f"expected a JSON object with images, annotations and categories, got a JSON {type(coco).__name__}"]
    problems = [f"{key}: expected a list, got {type(coco.get(key)).__name__ if key in coco else 'nothing'}"
                for key in LISTS if not isinstance(coco.get(key), list)]
    if problems:
        return problems
    ids: dict[str, set[int]] = {}
    for key in LISTS:
        seen: set[int] = set()
        for index, entry in enumerate(coco[key]):
            problem = CHECKS[key](entry) if isinstance(entry, dict) else f"expected an object, got {entry!r}"
            if problem is None and relations and entry["id"] in seen:
                problem = f"id {entry['id']} is used twice"
            if problem is not None:
                problems.append(f"{key}[{index}].{problem}" if isinstance(entry, dict) else f"{key}[{index}]: {problem}")
                if len(problems) >= limit:
                    return problems
                continue
            seen.add(entry["id"])
        ids[key] = seen
    if not relations:
        return problems
    for index, annotation in enumerate(coco["annotations"]):
        if not isinstance(annotation, dict) or not _whole(annotation.get("image_id")):
            continue
        for key, pool in (("image_id", "images"), ("category_id", "categories")):
            if annotation[key] not in ids[pool]:
                problems.append(f"annotations[{index}].{key}: {annotation[key]} is not an id in {pool}")
                if len(problems) >= limit:
                    return problems
    return problems


def read_json(path: Path, what: str = "file") -> Any:
    """Parsed JSON, or one DatasetError that names the file and what is wrong with it."""
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise DatasetError(f"{path} is a folder, not a {what}") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise DatasetError(f"{path} is not valid JSON ({str(exc)[:120]})") from None


def read_coco(out: Path) -> dict[str, Any]:
    """OUT's annotations.json, checked: every tool may then index its lists without further tests."""
    if not out.is_dir():
        raise DatasetError(f"{out} is not a folder; pass the OUT folder of a 'simgen render' run")
    path = out / ANNOTATIONS
    if not path.is_file():
        raise DatasetError(f"{out} holds no {ANNOTATIONS}; give the folder written by 'simgen render'")
    coco = read_json(path, "COCO file")
    problems = coco_problems(coco)
    if problems:
        raise DatasetError(f"{path}: {'; '.join(problems)}. If simgen wrote this dataset, "
                           f"'simgen assemble {out}' rebuilds the file from frames.jsonl")
    return coco


def read_any_coco(path: Path) -> tuple[dict[str, Any], Path]:
    """A COCO dataset that need not be simgen's: a folder with annotations.json, or a COCO JSON file
    (its images' file_name then relative to the file's folder, or to an images/ folder beside it).
    Returns the checked COCO dict and the folder image paths are relative to."""
    if path.is_dir():
        return read_coco(path), path
    coco = read_json(path, "COCO file")
    problems = coco_problems(coco)
    if problems:
        raise DatasetError(f"{path}: {'; '.join(problems)}")
    root = path.parent
    first = next((image["file_name"] for image in coco["images"]), None)
    if first is not None and not (root / first).exists() and (root / "images" / first).exists():
        root = root / "images"
    return coco, root
