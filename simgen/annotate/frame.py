"""All labels of one frame, from the rendered passes plus the frame's known geometry (pure).

Two steps, because the second needs renders the first decides on:
  1. ``plan_frame``: project every object's mesh to find its unoccluded screen extent and
     which objects need an isolated (amodal) pass;
  2. ``annotate_frame``: masks, boxes, visibility, truncation, 3D pose and keypoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simgen.annotate.amodal import (
    JITTER_MARGIN_PX, NEAR_PLANE_M, Rect, box_corners_2d, box_corners_world, camera_points, group_window,
    hidden_by_boxes, isolation_groups, pixel_coordinates, projected_extent, truncation, world_points)
from simgen.annotate.coco import image_record, object_pose_in_camera, track_id
from simgen.annotate.instances import depth_to_mm, encode_rle, label_instances, semantic_map
from simgen.annotate.keypoints import keypoint_triplets
from simgen.annotate.stuff import STUFF_BASE, panoptic, stuff_semantic
from simgen.config.scenario import KeypointSpec, LabelSpec
from simgen.postprocess.fog import point_transmittance
from simgen.sampling.photometry import frame_illuminance
from simgen.sampling.snowfall import extinction_per_m
from simgen.sampling.frame_spec import AssetBounds, FrameSpec, all_props
from simgen.sampling.geometry import box_corners


@dataclass
class FramePlan:
    extents: dict[int, Rect | None]  # unclipped amodal box per instance (None: reaches behind the camera)
    isolation_groups: list[list[int]]  # instances to render alone, packed into passes
    size: tuple[int, int]  # the frame's width and height in pixels

    @property
    def hidden(self) -> list[int]:
        """The instances something may hide: their amodal masks need more than their visible pixels."""
        return [i for group in self.isolation_groups for i in group]

    def window(self, instance_id: int) -> tuple[int, int, int, int]:
        """The pixels an instance's amodal mask can reach (x0, y0, x1, y1), end-exclusive."""
        return group_window(self.extents, [instance_id], *self.size)

    def passes(self, left: set[int]) -> tuple[list[list[int]], list[tuple[int, int, int, int]]]:
        """The isolated passes (groups and each one's pixels x0, y0, x1, y1, end-exclusive) for only the
        instances in ``left``."""
        groups = [kept for kept in ([i for i in g if i in left] for g in self.isolation_groups) if kept]
        return groups, [group_window(self.extents, g, *self.size) for g in groups]


@dataclass
class FrameLabels:
    record: dict[str, Any]  # the journal line: COCO image entry + annotations (+ panoptic segments)
    semantic: np.ndarray
    depth_mm: np.ndarray
    instance: np.ndarray  # uint16 mask ids of labeled objects; 0 elsewhere (stuff ids removed)
    panoptic: np.ndarray | None = None  # RGB segment ids (COCO panoptic), when labels.panoptic is on


def plan_frame(frame: FrameSpec, vertices: dict[str, np.ndarray],
               bounds: dict[str, AssetBounds] | None = None) -> FramePlan:
    K, world_to_camera = np.array(frame.camera.K), np.array(frame.camera.world_to_camera)
    width, height = frame.camera.resolution
    hulls = {obj.instance_id: world_points(obj, vertices[obj.asset]) for obj in frame.objects}
    seen = {i: camera_points(points, world_to_camera) for i, points in hulls.items()}
    extents = {i: projected_extent(points, K) for i, points in seen.items()}
    depths = {i: (float(points[:, 2].min()), float(points[:, 2].max())) for i, points in seen.items()}
    occluders = [projected_extent(camera_points(world_points(p, vertices[p.asset]), world_to_camera), K)
                 for p in all_props(frame) if p.hides_labels]
    blocked: set[int] = set()
    if frame.environment is not None and frame.environment.pieces:  # walls, tables, posts: only where they may hide
        pieces = frame.environment.pieces
        corners = box_corners_world(np.array([p.centre for p in pieces]), np.array([p.size for p in pieces]),
                                    np.array([p.yaw_deg for p in pieces]))
        eye = np.array(frame.camera.location, float)
        # only a box whose picture overlaps the object's can hide it (one reaching behind the camera may)
        in_camera = camera_points(corners.reshape(-1, 3), world_to_camera).reshape(-1, 8, 3)
        behind = (in_camera[..., 2] <= NEAR_PLANE_M).any(axis=1)
        uv = pixel_coordinates(in_camera.reshape(-1, 3), K).reshape(-1, 8, 2)
        lo, hi = uv.min(axis=1) - JITTER_MARGIN_PX, uv.max(axis=1) + JITTER_MARGIN_PX
        for obj in frame.objects:
            rect = extents[obj.instance_id]
            near = behind if rect is None else behind | (
                (lo[:, 0] < rect[2]) & (rect[0] < hi[:, 0]) & (lo[:, 1] < rect[3]) & (rect[1] < hi[:, 1]))
            b = bounds[obj.asset] if bounds is not None else None
            box = None if b is None else world_points(obj, box_corners(b.minimum, b.maximum))
            if near.any() and hidden_by_boxes(hulls[obj.instance_id], eye, corners[near], box):
                blocked.add(obj.instance_id)
    groups = isolation_groups(extents, width, height, occluders, blocked, depths)
    return FramePlan(extents, groups, (width, height))


def severity(frame: FrameSpec, centre: np.ndarray, rain_covered: float) -> dict[str, Any]:
    """How hard the condition makes the object to see, in physical terms: the air's transmittance
    along its ray (fog and falling snow; 1 = clear air), the illuminance around it (lux, from the sun,
    sky and lamps, unshadowed) and the share of its pixels' exposure that rain drops covered (falling,
    or on the lens)."""
    fog = frame.fog
    transmittance = 1.0 if fog is None else float(
        point_transmittance(np.array(frame.camera.location), centre, fog.density, fog.height_m)[0])
    if frame.snowfall_mm_h:  # falling snow dims the way as fog does
        transmittance *= float(point_transmittance(np.array(frame.camera.location), centre,
                                                   extinction_per_m(frame.snowfall_mm_h), None)[0])
    lux = frame_illuminance(frame, centre)
    return {"fog_transmittance": round(transmittance, 4), "illuminance_lux": round(lux, 3 if lux < 10 else 1),
            "rain_coverage": round(rain_covered, 5)}


def annotate_frame(frame: FrameSpec, plan: FramePlan, instance_map: np.ndarray, depth: np.ndarray,
                   isolated_masks: dict[int, np.ndarray], bounds: dict[str, AssetBounds],
                   keypoints: dict[str, KeypointSpec | None], spec: LabelSpec,
                   rain: np.ndarray | None = None, things: int = 0) -> FrameLabels:
    """Every label of the frame; ``isolated_masks`` are the amodal masks of the instances that needed a pass,
    ``rain`` the per-pixel drop coverage of analytic rain."""
    K, world_to_camera = np.array(frame.camera.K), np.array(frame.camera.world_to_camera)
    width, height = frame.camera.resolution
    by_id = {o.instance_id: o for o in frame.objects}
    image = image_record(frame, spec)
    annotations = []
    for label in label_instances(instance_map, [o.instance_id for o in frame.objects]):
        obj = by_id[label.instance_id]
        amodal_mask = isolated_masks.get(obj.instance_id)
        amodal_area = int(amodal_mask.sum()) if amodal_mask is not None else label.area
        visibility = label.area / max(amodal_area, label.area)
        extent = plan.extents[obj.instance_id]
        b = bounds[obj.asset]
        corners_camera = camera_points(world_points(obj, box_corners(b.minimum, b.maximum)), world_to_camera)
        annotation: dict[str, Any] = {
            "image_id": image["id"],
            "category_id": obj.category_id,
            "mask_id": obj.instance_id,  # its pixels' value in instance/*.png ('instance_id' is reserved in FiftyOne)
            "bbox": label.bbox,
            "area": label.area,
            "segmentation": label.segmentation,
            "iscrowd": 0,
            "visibility": round(visibility, 4),
            "amodal_area": amodal_area,
            "amodal_bbox": None if extent is None else
            [round(extent[0], 3), round(extent[1], 3), round(extent[2] - extent[0], 3), round(extent[3] - extent[1], 3)],
            "truncated": extent is None or extent[0] < 0 or extent[1] < 0 or extent[2] > width or extent[3] > height,
            "truncation": round(truncation(extent, width, height), 4),
            **object_pose_in_camera(obj, b, world_to_camera),
            "box3d_projected": box_corners_2d(corners_camera, K),
            **severity(frame, world_points(obj, box_corners(b.minimum, b.maximum)).mean(axis=0),
                       float(rain[instance_map == obj.instance_id].mean()) if rain is not None else 0.0),
        }
        if frame.clip is not None:
            annotation["track_id"] = track_id(frame.clip.video, obj.instance_id)
        if spec.amodal_masks:
            annotation["amodal_segmentation"] = encode_rle(amodal_mask if amodal_mask is not None
                                                           else instance_map == obj.instance_id)
        kp = keypoints.get(obj.class_name)
        if kp is not None:
            points = camera_points(world_points(obj, np.array(kp.points)), world_to_camera)
            annotation["keypoints"], annotation["num_keypoints"] = keypoint_triplets(
                points, K, depth, spec.keypoint_depth_tolerance_m)
        if visibility < spec.min_visibility or label.area < spec.min_area_px:
            if spec.filtered == "drop":
                continue
            annotation.update(iscrowd=1, ignore=1)
        annotations.append(annotation)
    if frame.clip is not None:  # which tracks the frame could show (for enter, leave and occlusion events)
        image["in_view"] = sorted(i for i, e in plan.extents.items()
                                  if e is not None and e[0] < width and e[2] > 0 and e[1] < height and e[3] > 0)
    categories = {o.instance_id: o.category_id for o in frame.objects}
    if frame.environment is not None:
        semantic = stuff_semantic(instance_map, depth, categories, things)
    else:
        semantic = semantic_map(instance_map, categories)
    instance = np.where(instance_map >= STUFF_BASE, 0, instance_map).astype(np.uint16)
    record: dict[str, Any] = {"image": image, "annotations": annotations}
    rgb = None
    if spec.panoptic:
        kept = {a["mask_id"]: a["category_id"] for a in annotations}
        crowd = {a["mask_id"] for a in annotations if a.get("iscrowd")}
        rgb, segments = panoptic(semantic, instance, things, kept, crowd)
        record["panoptic"] = {"segments_info": segments}
    return FrameLabels(record, semantic, depth_to_mm(depth), instance, rgb)
