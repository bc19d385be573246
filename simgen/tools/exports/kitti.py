"""KITTI object labels: ``training/{image_2,label_2,calib}`` and ``ImageSets/{train,val,test}.txt``.

A KITTI label line is ``type truncated occluded alpha left top right bottom h w l x y z rotation_y``:
a 2D box and a 3D box that stands upright, turned by ``rotation_y`` about the vertical. KITTI's
cameras are level; simgen's are often pitched and rolled. So labels are written in a *level* frame
L (same origin as the camera, y pointing down along gravity, z the camera's heading on the
horizontal) and the calibration's P2 = K [R_CL | 0] projects L into the image, exactly as the
devkit projects its rectified frame with P2. Upright objects are then represented exactly; for
tumbled ones (``rotation: free``) rotation_y is the heading of their length axis.

occluded follows simgen's measured visibility: 0 at 0.95 or more, 1 at 0.5 or more, 2 below.
Boxes and P2 share COCO's continuous pixel coordinates (the left edge of the image is x = 0).
"""

from __future__ import annotations

import math
import re

import numpy as np

from simgen.dataset.layout import SPLITS
from simgen.dataset.ownership import FRAME_FILE, Layout
from simgen.dataset.reader import camera_of, member
from simgen.plugins import EXPORTERS
from simgen.tools.export import ExportJob, Exporter, annotations_by_image, place

KITTI_OBJECT_FROM_SIMGEN = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])  # columns: KITTI x, y, z in ours
LAYOUT = Layout("export:kitti", frozenset(),
                {**{f"training/{sub}": FRAME_FILE for sub in ("image_2", "label_2", "calib")},
                 "ImageSets": re.compile(r"(train|val|test)\.txt")})


def level_frame(world_to_camera: np.ndarray) -> np.ndarray:
    """R_CL: the level frame's axes (columns) in camera coordinates: y down along gravity, z the heading."""
    down = world_to_camera[:3, :3] @ np.array([0.0, 0.0, -1.0])
    forward = np.array([0.0, 0.0, 1.0]) - down[2] * down
    if np.linalg.norm(forward) < 1e-6:  # looking straight down or up: keep the camera's own up as heading
        forward = np.array([0.0, -1.0, 0.0]) - down[1] * down
    forward /= np.linalg.norm(forward)
    return np.column_stack([np.cross(down, forward), down, forward])


def occlusion_level(visibility: float | None) -> int:
    if visibility is None:
        return 3
    return 0 if visibility >= 0.95 else 1 if visibility >= 0.5 else 2


def label_line(annotation: dict, name: str, r_cl: np.ndarray) -> str:
    x, y, w, h = annotation["bbox"]
    rotation = r_cl.T @ np.array(annotation["rotation"]) @ KITTI_OBJECT_FROM_SIMGEN  # KITTI object -> level
    length, width, height = annotation["dimensions"]
    centre = r_cl.T @ np.array(annotation["location"])
    bottom = centre + rotation[:, 1] * (height / 2)  # KITTI's object y points down: the base is at +h/2
    heading = rotation[:, 0]
    rotation_y = math.atan2(-heading[2], heading[0])
    alpha = (rotation_y - math.atan2(bottom[0], bottom[2]) + math.pi) % (2 * math.pi) - math.pi
    fields = [name.replace(" ", "_"), f"{annotation.get('truncation', 0.0):.2f}",
              str(occlusion_level(annotation.get("visibility"))), f"{alpha:.4f}",
              *(f"{v:.2f}" for v in (x, y, x + w, y + h)), *(f"{v:.4f}" for v in (height, width, length)),
              *(f"{v:.4f}" for v in bottom), f"{rotation_y:.4f}"]
    return " ".join(fields)


def calibration(K: np.ndarray, r_cl: np.ndarray) -> str:
    """P0-P3 (all the one camera), in the pixel coordinates of the 2D boxes: COCO's, where pixel i spans
    [i, i+1], so the principal point is K's + 0.5 (simgen's K puts pixel centres at integers)."""
    edges = np.array([[1.0, 0, 0.5], [0, 1.0, 0.5], [0, 0, 1.0]])
    p2 = edges @ K @ np.hstack([r_cl, np.zeros((3, 1))])
    eye = np.hstack([np.eye(3), np.zeros((3, 1))])
    rows = {"P0": p2, "P1": p2, "P2": p2, "P3": p2, "R0_rect": np.eye(3), "Tr_velo_to_cam": eye, "Tr_imu_to_velo": eye}
    return "".join(f"{key}: {' '.join(f'{v:.12e}' for v in np.asarray(m).ravel())}\n" for key, m in rows.items())


def export_kitti(job: ExportJob) -> None:
    names = {c["id"]: c["name"] for c in job.coco["categories"]}
    by_image = annotations_by_image(job.coco)
    training = job.dest / "training"
    for sub in ("image_2", "label_2", "calib"):
        (training / sub).mkdir(parents=True, exist_ok=True)
    (job.dest / "ImageSets").mkdir(exist_ok=True)
    for split in SPLITS:
        stems = []
        for image in job.splits[split]:
            source = member(job.out, image["file_name"], f"image {image['id']}: file_name")
            stems.append(source.stem)
            job.summary.placed[place(source, training / "image_2" / source.name, job.symlink)] += 1
            K, world_to_camera = camera_of(image)
            r_cl = level_frame(world_to_camera)
            lines = [label_line(a, names[a["category_id"]], r_cl) for a in by_image[image["id"]] if not a.get("iscrowd")]
            job.summary.labels += len(lines)
            (training / "label_2" / f"{source.stem}.txt").write_text("".join(f"{line}\n" for line in lines))
            (training / "calib" / f"{source.stem}.txt").write_text(calibration(K, r_cl))
        (job.dest / "ImageSets" / f"{split}.txt").write_text("".join(f"{stem}\n" for stem in stems))


EXPORTERS.register("kitti", Exporter(export_kitti, LAYOUT, "KITTI object labels (2D and 3D boxes) with calib"))
