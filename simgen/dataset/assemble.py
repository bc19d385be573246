"""Build ``annotations.json`` (COCO) from the journal: valid after any run ends, resumed or not."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from simgen.dataset.manifest import write_attribution
from simgen.annotate.stuff import panoptic_categories, stuff_categories
from simgen.annotate.tracks import videos_and_tracks
from simgen.dataset.reader import ANNOTATIONS, CAMERAS, PANOPTIC, mask_id, read_coco, view_folder
from simgen.dataset.writer import atomic_write_json, read_journal


def assemble_coco(out: Path, info: dict[str, Any], categories: list[dict[str, Any]],
                  licenses: list[dict[str, Any]], frames: int | None = None) -> dict[str, Any]:
    """Gather finished frames (last record wins per frame) into one COCO dict and write it atomically;
    each rig camera's share of them into ``cameras/NAME/annotations.json`` the same way.

    Annotation ids follow (frame, instance) order, so the file is identical however the
    frames were scheduled, resumed or sharded. A rig camera's images keep the main image's id:
    one id is one instant, in every camera's file.
    """
    records: dict[int, dict[str, Any]] = {}
    for record in read_journal(out):
        index = int(record["image"]["frame_index"])
        if frames is None or index < frames:
            records[index] = record
    kept = used_licenses(licenses, [records[i]["image"] for i in records])
    coco = _write_coco(out, [records[i] for i in sorted(records)], info, categories, kept)
    cameras = dict.fromkeys(name for i in sorted(records) for name in (records[i].get("views") or {}))
    for name in cameras:
        views = [records[i]["views"][name] for i in sorted(records) if name in (records[i].get("views") or {})]
        (out / view_folder(name)).mkdir(parents=True, exist_ok=True)
        _write_coco(out / view_folder(name), views, {**info, "camera": name}, categories, kept)
    write_attribution(out, kept)
    return coco


def rig_counts(out: Path) -> dict[str, dict[str, int]]:
    """Images and labeled instances of each rig camera's COCO file (cameras/NAME/annotations.json)."""
    counts = {}
    for path in sorted((out / CAMERAS).glob(f"*/{ANNOTATIONS}")):
        coco = read_coco(path.parent)
        counts[path.parent.name] = {"images": len(coco["images"]), "annotations": len(coco["annotations"])}
    return counts


def _write_coco(folder: Path, records: list[dict[str, Any]], info: dict[str, Any], categories: list[dict[str, Any]],
                licenses: list[dict[str, Any]]) -> dict[str, Any]:
    """``folder``'s annotations.json (and panoptic.json) from one camera's frame records, in frame order."""
    images, annotations = [], []
    for record in records:
        images.append(record["image"])
        for annotation in sorted(record["annotations"], key=mask_id):
            annotations.append({"id": len(annotations) + 1, **annotation})
    coco = {"info": info, "licenses": licenses, "categories": categories, "images": images,
            "annotations": annotations}
    if any("video_id" in image for image in images):  # sequence: the clips, their tracks and events
        coco["videos"], coco["tracks"] = videos_and_tracks(images, annotations)
    segments = [(record["image"], record["panoptic"]) for record in records if "panoptic" in record]
    if segments or any((image.get("params") or {}).get("environment") for image in images):
        coco["stuff_categories"] = stuff_categories(len(categories))  # the semantic maps' ids after the things
    if segments:
        atomic_write_json(folder / PANOPTIC, {
            "info": info, "licenses": licenses, "categories": panoptic_categories(categories),
            "images": [{key: image[key] for key in ("id", "file_name", "width", "height")} for image, _ in segments],
            "annotations": [{"image_id": image["id"], "file_name": Path(image["panoptic_file"]).name,
                             "segments_info": panoptic["segments_info"]} for image, panoptic in segments]},
            compact=True)
    atomic_write_json(folder / ANNOTATIONS, coco, compact=True)
    return coco


def _things(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every object a frame's params show: labeled ones, distractors, the placement surface and the backdrop."""
    singles = [params[key] for key in ("surface", "backdrop") if isinstance(params.get(key), dict)]
    return [*params.get("objects", []), *params.get("distractors", []), *singles]


def used_licenses(licenses: list[dict[str, Any]], images: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only the license entries, and assets within them, that some finished frame actually shows."""
    used = {thing["asset"] for image in images for thing in _things(image.get("params", {}))}
    kept = []
    for entry in licenses:
        assets = [a for a in entry.get("assets", []) if a in used]
        if assets:
            kept.append({**entry, "id": len(kept) + 1, "assets": assets})
    return kept


def coverage(images: Sequence[dict[str, Any]], targets: dict[str, float],
             every_tag: bool = False) -> dict[str, dict[str, Any]]:
    """Per condition: the target fraction, and the frames and fraction the dataset really holds. The one
    count of condition tags (manifest, run summary, report, diff); ``every_tag`` adds the tags found
    without a target (their target is None)."""
    total = max(len(images), 1)
    counts = Counter(tag for image in images for tag in set(image.get("conditions") or ()))
    names = list(targets) + (sorted(set(counts) - set(targets)) if every_tag else [])
    return {name: {"target": round(targets[name], 4) if name in targets else None, "frames": counts[name],
                   "achieved": round(counts[name] / total, 4)} for name in names}
