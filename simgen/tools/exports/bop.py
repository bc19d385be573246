"""BOP (the 6D object pose benchmark's format), by the BOP toolkit's conventions.

    DEST/camera.json                      fx, fy, cx, cy, width, height, depth_scale (of the first image)
    DEST/models/obj_000001.ply            each object model: triangle mesh in millimetres
    DEST/models/models_info.json          per obj_id: diameter, min_x/y/z, size_x/y/z (mm)
    DEST/{train,val,test}/000000/         one scene per split; im_id = simgen's frame index
        rgb/IM.png  depth/IM.png          linked from the dataset (depth: uint16 mm, depth_scale 1)
        mask_visib/IM_GT.png              visible pixels of ground-truth object GT (uint8, 255)
        mask/IM_GT.png                    its full silhouette, occluders ignored (only where the dataset
                                          has amodal masks: labels: {amodal_masks: true})
        scene_camera.json                 per im_id: cam_K, cam_R_w2c, cam_t_w2c (mm), depth_scale
        scene_gt.json                     per im_id: [{obj_id, cam_R_m2c, cam_t_m2c (mm)}], every object
                                          of the frame (also those hidden entirely)
        scene_gt_info.json                per im_id: [{bbox_obj, bbox_visib, px_count_all, px_count_valid,
                                          px_count_visib, visib_fract}]
    DEST/test_targets_bop19.json          the test split's targets: [{scene_id, im_id, obj_id, inst_count}]

BOP models are rigid, while simgen scales each instance: a model is one asset at one scale, so an
asset drawn at N scales gives N obj_ids (a class with a constant scale, the usual 6D-pose set-up,
gives one). Poses are those of the model's own origin, in OpenCV camera axes; cam_K is OpenCV's
(pixel centres at integers), like simgen's K. bbox_obj is the box of the whole projected object
(simgen's amodal box, which may reach past the image), px_count_all its pixels inside the image.
An object with no label (hidden entirely, or dropped by the label filter) gets its full silhouette
and box from its posed model; test targets are the objects at least 10 % visible, as the toolkit's
visib_gt_min counts them.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from simgen.annotate.instances import decode_rle
from simgen.api import load_scenario
from simgen.dataset.layout import SPLITS
from simgen.dataset.manifest import asset_digests
from simgen.dataset.ownership import Layout
from simgen.dataset.reader import camera_of, dig, frame_index, member, read_json
from simgen.dataset.writer import atomic_write_bytes, atomic_write_json
from simgen.errors import OutputError, SimgenError
from simgen.plugins import EXPORTERS
from simgen.sampling.geometry import euler_xyz_matrix
from simgen.tools.export import ExportJob, Exporter, annotations_by_image, place

SCENE = "000000"
IMAGE = re.compile(r"\d{6,}\.png")
MASK = re.compile(r"\d{6,}_\d{6}\.png")
SCENE_FILES = re.compile(r"scene_(camera|gt|gt_info)\.json")
LAYOUT = Layout("export:bop", frozenset({"camera.json", "test_targets_bop19.json"}), {
    "models": re.compile(r"obj_\d{6}\.ply|models_info\.json"),
    **{f"{split}/{SCENE}": SCENE_FILES for split in SPLITS},
    **{f"{split}/{SCENE}/{sub}": IMAGE for split in SPLITS for sub in ("rgb", "depth")},
    **{f"{split}/{SCENE}/{sub}": MASK for split in SPLITS for sub in ("mask", "mask_visib")}})

Model = tuple[str, float]  # (asset key, scale)
MIN_TARGET_VISIBILITY = 0.1  # the BOP toolkit's visib_gt_min: less visible objects are no test targets


def frame_objects(image: dict) -> list[dict]:
    """The labeled objects a frame's params record, checked: BOP poses come from them, not from the labels."""
    objects = dig(image, "params", "objects")
    fields = {"asset": str, "scale": (int, float), "instance_id": int, "location": list, "rotation_euler": list}
    if not isinstance(objects, list) or not all(
            isinstance(o, dict) and all(isinstance(o.get(k), t) and not isinstance(o.get(k), bool)
                                        for k, t in fields.items())
            and len(o["location"]) == 3 and len(o["rotation_euler"]) == 3 for o in objects):
        raise OutputError(f"bop: image {image.get('id')}: params.objects is missing or malformed (each needs asset, "
                          f"scale, instance_id, location and rotation_euler); BOP poses come from it")
    return objects


def model_ids(images: list[dict]) -> dict[Model, int]:
    """obj_id of every (asset, scale) a frame shows, numbered from 1 in sorted order (stable across splits)."""
    models = {(o["asset"], float(o["scale"])) for image in images for o in frame_objects(image)}
    return {model: index for index, model in enumerate(sorted(models), start=1)}


def model_pose(obj: dict, world_to_camera: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R_m2c, t_m2c in mm): the model's origin frame in OpenCV camera axes."""
    rotation = world_to_camera[:3, :3] @ euler_xyz_matrix(*obj["rotation_euler"])
    translation = world_to_camera[:3, :3] @ np.asarray(obj["location"], float) + world_to_camera[:3, 3]
    return rotation, translation * 1000.0


def ply_bytes(vertices_mm: np.ndarray, triangles: np.ndarray) -> bytes:
    """A binary little-endian PLY of a triangle mesh (what the BOP toolkit's inout.load_ply reads)."""
    header = ("ply\nformat binary_little_endian 1.0\ncomment simgen object model, millimetres\n"
              f"element vertex {len(vertices_mm)}\nproperty float x\nproperty float y\nproperty float z\n"
              f"element face {len(triangles)}\nproperty list uchar int vertex_indices\nend_header\n").encode()
    faces = np.zeros(len(triangles), dtype=[("n", "u1"), ("v", "<i4", (3,))])
    faces["n"], faces["v"] = 3, triangles
    return header + np.ascontiguousarray(vertices_mm, dtype="<f4").tobytes() + faces.tobytes()


def diameter(hull: np.ndarray) -> float:
    """The largest distance between two points of a shape, from its convex hull's vertices (where it is
    reached), in blocks so that a hull of thousands of points stays small in memory."""
    best = 0.0
    for start in range(0, len(hull), 512):
        block = hull[start:start + 512]
        best = max(best, float(np.sqrt(((block[:, None, :] - hull[None, :, :]) ** 2).sum(-1).max())))
    return best


def model_info(vertices_mm: np.ndarray, diameter_mm: float) -> dict[str, float]:
    """BOP's models_info entry: the diameter and the axis-aligned bounds, in mm."""
    lo, hi = vertices_mm.min(0), vertices_mm.max(0)
    return {"diameter": diameter_mm, "min_x": float(lo[0]), "min_y": float(lo[1]), "min_z": float(lo[2]),
            "size_x": float(hi[0] - lo[0]), "size_y": float(hi[1] - lo[1]), "size_z": float(hi[2] - lo[2])}


def _dataset_assets(job: ExportJob, keys: set[str]) -> dict[str, Any]:
    """The asset refs of the dataset's scenario, checked to be the files the frames were rendered from."""
    manifest = read_json(job.out / "manifest.json", "manifest")
    source = manifest.get("scenario_file")
    try:
        from simgen.run.batch import resolve_assets

        base = Path(source).parent if isinstance(source, str) else job.out
        refs = {ref.key: ref for ref in resolve_assets(load_scenario(manifest["scenario"], base)).all()}
    except (SimgenError, KeyError, TypeError) as exc:
        raise OutputError(f"bop: the object models need the dataset's asset files, which do not resolve here "
                          f"({exc}); export where the dataset was rendered") from None
    missing = sorted(keys - set(refs))
    if missing:
        raise OutputError(f"bop: asset {missing[0]} of the frames is not in the dataset's scenario")
    wanted = [refs[key] for key in sorted(keys)]
    now, then = asset_digests(wanted), manifest.get("asset_digests", {})
    changed = [key for key in sorted(keys) if key in then and now[key] != then[key]]
    if changed:
        raise OutputError(f"bop: asset {changed[0]} changed since the dataset was rendered; its model would "
                          f"not match the frames")
    return {ref.key: ref for ref in wanted}


def silhouette(vertices_mm: np.ndarray, triangles: np.ndarray, rotation: np.ndarray, translation_mm: np.ndarray,
               K: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The posed model's full silhouette (occluders ignored): the pixels whose centres a triangle covers,
    for objects the render gives no mask of (hidden entirely, or dropped by the scenario's label filter)."""
    points = vertices_mm @ rotation.T + translation_mm
    mask = np.zeros(shape, bool)
    front = points[:, 2] > 1e-3
    faces = triangles[front[triangles].all(axis=1)]  # a triangle reaching behind the camera is left out
    uv = points[:, :2] / np.maximum(points[:, 2:], 1e-3) * [K[0, 0], K[1, 1]] + [K[0, 2], K[1, 2]]
    height, width = shape
    for a, b, c in uv[faces]:
        lo = np.maximum(np.ceil(np.minimum(np.minimum(a, b), c)), 0).astype(int)
        hi = np.minimum(np.floor(np.maximum(np.maximum(a, b), c)), [width - 1, height - 1]).astype(int)
        if (hi < lo).any() or abs((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])) < 1e-12:
            continue  # covers no pixel centre, or has no area (a sliver seen edge-on)
        ys, xs = np.mgrid[lo[1]:hi[1] + 1, lo[0]:hi[0] + 1]
        edges = [(q[0] - p[0]) * (ys - p[1]) - (q[1] - p[1]) * (xs - p[0]) for p, q in ((a, b), (b, c), (c, a))]
        inside = ((edges[0] >= 0) & (edges[1] >= 0) & (edges[2] >= 0)) | \
                 ((edges[0] <= 0) & (edges[1] <= 0) & (edges[2] <= 0))  # either winding
        mask[ys[inside], xs[inside]] = True
    return mask


def _write_models(job: ExportJob, ids: dict[Model, int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    from simgen.blender.models import asset_meshes  # Blender only for the meshes

    refs = _dataset_assets(job, {asset for asset, _ in ids})
    meshes = asset_meshes(list(refs.values()))
    info, models = {}, {}
    diameters = {key: diameter(hull) for key, (_, _, hull) in meshes.items()}  # metres, at scale 1
    for (asset, scale), obj_id in ids.items():
        vertices, triangles, _ = meshes[asset]
        vertices_mm = vertices * scale * 1000.0
        _write(job.dest / "models" / f"obj_{obj_id:06d}.ply", ply_bytes(vertices_mm, triangles))
        info[str(obj_id)] = model_info(vertices_mm, diameters[asset] * scale * 1000.0)
        models[obj_id] = (vertices_mm, triangles)
    _write(job.dest / "models" / "models_info.json", info)
    return models


def _write(path: Path, data: bytes | Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        atomic_write_bytes(path, data)
    else:
        atomic_write_json(path, data)


def _mask_png(mask: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", mask.astype(np.uint8) * 255)
    assert ok
    return encoded.tobytes()


def _pixel_box(box: list[float]) -> list[int]:
    """A continuous COCO box (edges) as BOP's box of the pixels whose centres it covers, as a mask gives it."""
    x0, y0 = math.ceil(box[0] - 0.5), math.ceil(box[1] - 0.5)
    x1, y1 = math.floor(box[0] + box[2] - 0.5), math.floor(box[1] + box[3] - 0.5)
    return [x0, y0, x1 - x0 + 1, y1 - y0 + 1]


def _projected_box(vertices_mm: np.ndarray, rotation: np.ndarray, translation_mm: np.ndarray,
                   K: np.ndarray) -> list[int]:
    """bbox_obj of a model in front of the camera: the pixels whose centres its projection spans."""
    points = vertices_mm @ rotation.T + translation_mm
    points = points[points[:, 2] > 1e-3]
    if not len(points):
        return [-1, -1, -1, -1]
    uv = points[:, :2] / points[:, 2:] * [K[0, 0], K[1, 1]] + [K[0, 2], K[1, 2]]
    (x0, y0), (x1, y1) = np.ceil(uv.min(0)).astype(int), np.floor(uv.max(0)).astype(int)
    return [int(x0), int(y0), int(x1 - x0 + 1), int(y1 - y0 + 1)]


def _box(mask: np.ndarray) -> list[int]:
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return [-1, -1, -1, -1]
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]


def _write_scene(job: ExportJob, split: str, images: list[dict], ids: dict[Model, int],
                 models: dict[int, tuple[np.ndarray, np.ndarray]], by_image: dict[int, list[dict]],
                 full_masks: bool) -> Counter:
    scene = job.dest / split / SCENE
    cameras, gts, infos, targets = {}, {}, {}, Counter()
    for image in images:
        im_id = frame_index(image)
        name = f"{im_id:06d}.png"
        for key, sub in (("file_name", "rgb"), ("depth_file", "depth")):
            if key not in image:
                raise OutputError(f"bop: image {image['id']} has no {key}; BOP needs RGB and depth")
            source = member(job.out, image[key], f"image {image['id']}: {key}")
            job.summary.placed[place(source, scene / sub / name, job.symlink)] += 1
        K, w2c = camera_of(image)
        cameras[str(im_id)] = {"cam_K": K.ravel().tolist(), "cam_R_w2c": w2c[:3, :3].ravel().tolist(),
                               "cam_t_w2c": (w2c[:3, 3] * 1000.0).tolist(), "depth_scale": 1.0}
        instance = cv2.imread(str(member(job.out, image["instance_file"], f"image {image['id']}: instance_file")),
                              cv2.IMREAD_UNCHANGED)
        depth = cv2.imread(str(member(job.out, image["depth_file"], f"image {image['id']}: depth_file")),
                           cv2.IMREAD_UNCHANGED)
        labeled = {a["mask_id"]: a for a in by_image[image["id"]]}
        gt, info = [], []
        for gt_id, obj in enumerate(frame_objects(image)):
            obj_id = ids[(obj["asset"], float(obj["scale"]))]
            rotation, translation = model_pose(obj, w2c)
            gt.append({"cam_R_m2c": rotation.ravel().tolist(), "cam_t_m2c": translation.tolist(), "obj_id": obj_id})
            visible = instance == obj["instance_id"]
            annotation = labeled.get(obj["instance_id"])
            full = None
            if annotation is not None and annotation.get("amodal_segmentation") is not None:
                full = decode_rle(annotation["amodal_segmentation"]).astype(bool)
            elif annotation is None:  # no label of it: its silhouette from the model itself
                full = silhouette(*models[obj_id], rotation, translation, K, visible.shape)
            count_visib = int(visible.sum())
            count_all = int(full.sum()) if full is not None else int(annotation["amodal_area"])
            amodal = annotation.get("amodal_bbox") if annotation else None
            box_obj = _pixel_box(amodal) if amodal else _projected_box(models[obj_id][0], rotation, translation, K)
            info.append({"bbox_obj": box_obj, "bbox_visib": _box(visible), "px_count_all": count_all,
                         "px_count_valid": int((full & (depth > 0)).sum()) if full is not None else count_all,
                         "px_count_visib": count_visib,
                         "visib_fract": float(annotation["visibility"]) if annotation
                         else count_visib / max(count_all, count_visib, 1)})
            stem = f"{im_id:06d}_{gt_id:06d}.png"
            _write(scene / "mask_visib" / stem, _mask_png(visible))
            if full_masks:
                _write(scene / "mask" / stem, _mask_png(full if full is not None else visible))
            if info[-1]["visib_fract"] >= MIN_TARGET_VISIBILITY:
                targets[(im_id, obj_id)] += 1
            job.summary.labels += 1
        gts[str(im_id)], infos[str(im_id)] = gt, info
    for name, payload in (("scene_camera", cameras), ("scene_gt", gts), ("scene_gt_info", infos)):
        _write(scene / f"{name}.json", payload)
    return targets


def export_bop(job: ExportJob) -> None:
    images = job.coco["images"]
    if not images:
        raise OutputError("bop: the dataset has no image")
    ids = model_ids(images)
    models = _write_models(job, ids)
    first = images[0]
    K, _ = camera_of(first)
    _write(job.dest / "camera.json", {"cx": float(K[0, 2]), "cy": float(K[1, 2]), "fx": float(K[0, 0]),
                                      "fy": float(K[1, 1]), "depth_scale": 1.0, "width": first["width"],
                                      "height": first["height"]})
    by_image = annotations_by_image(job.coco)
    full_masks = all(a.get("amodal_segmentation") is not None for a in job.coco["annotations"])
    test_targets = []
    for split in SPLITS:
        if not job.splits[split]:
            continue
        targets = _write_scene(job, split, job.splits[split], ids, models, by_image, full_masks)
        if split == "test":
            test_targets = [{"im_id": im_id, "inst_count": count, "obj_id": obj_id, "scene_id": int(SCENE)}
                            for (im_id, obj_id), count in sorted(targets.items())]
    _write(job.dest / "test_targets_bop19.json", test_targets)
    assets = {asset for asset, _ in ids}
    if len(ids) > len(assets):
        job.summary.notes.append(f"{len(ids)} object models for {len(assets)} asset(s), one per scale drawn "
                                 f"(BOP models are rigid; a constant class scale gives one model per asset)")
    if not full_masks:
        job.summary.notes.append("mask/ (full silhouettes) left out: render with labels: {amodal_masks: true}")


EXPORTERS.register("bop", Exporter(export_bop, LAYOUT, "BOP 6D pose: models, scene_gt, masks, depth"))
