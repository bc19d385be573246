"""COCO records for one frame (pure): the image entry, and each object's 3D pose in camera space."""

from __future__ import annotations

from typing import Any

import numpy as np

from simgen.outputs import file_paths
from simgen.sampling.frame_spec import AssetBounds, FrameSpec, ObjectSpec
from simgen.sampling.geometry import euler_xyz_matrix


def frame_name(index: int) -> str:
    return f"{index:06d}"


def image_id(index: int) -> int:
    """COCO image ids start at 1 (some tools treat 0 as 'none')."""
    return index + 1


TRACKS_PER_VIDEO = 100_000  # track ids: video id x this + the object's mask id, unique over the dataset


def track_id(video: int, mask: int) -> int:
    """An object's id over its whole clip (video ``video``, counted from 0), unique in the dataset."""
    return (video + 1) * TRACKS_PER_VIDEO + mask


def object_pose_in_camera(obj: ObjectSpec, bounds: AssetBounds, world_to_camera: np.ndarray) -> dict[str, Any]:
    """3D box of the object in OpenCV camera coordinates: centre, rotation matrix, size."""
    rotation_world = euler_xyz_matrix(*obj.rotation_euler)
    local_centre = (np.array(bounds.minimum) + np.array(bounds.maximum)) / 2 * obj.scale
    centre_world = np.array(obj.location) + rotation_world @ local_centre
    r, t = world_to_camera[:3, :3], world_to_camera[:3, 3]
    return {
        "location": (r @ centre_world + t).round(6).tolist(),
        "rotation": (r @ rotation_world).round(6).tolist(),
        "dimensions": (np.array(bounds.size) * obj.scale).round(6).tolist(),
    }


def image_record(frame: FrameSpec, labels: Any) -> dict[str, Any]:
    """COCO ``images[]`` entry with simgen's extra fields (camera, files, seed, conditions, params);
    the files are those of the outputs ``labels`` turns on (simgen.outputs)."""
    width, height = frame.camera.resolution
    files = file_paths(frame.index, labels)
    return {
        "id": image_id(frame.index),
        "file_name": files.pop("file_name"),
        "width": width,
        "height": height,
        **files,
        "seed": frame.seed,
        "frame_index": frame.index,
        "camera": {"K": frame.camera.K, "world_to_camera": frame.camera.world_to_camera},
        **({"camera_right": {"K": frame.camera.K, "world_to_camera": frame.camera.right_camera()[0],
                             "baseline_m": frame.camera.stereo_baseline_m}}
           if frame.camera.stereo_baseline_m is not None else {}),
        **({"video_id": frame.clip.video + 1, "frame_id": frame.clip.frame_id} if frame.clip is not None else {}),
        "conditions": list(frame.conditions),
        "params": frame.params(),
    }
