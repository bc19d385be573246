"""KITTI and Pascal VOC exports, checked against their specs (KITTI: the devkit's 3D box and projection;
VOC: 1-based inclusive boxes) and loaded with torchvision's VOC reader where it is installed."""

from __future__ import annotations

import math
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest

from simgen.cli import main
from simgen.tools.exports.kitti import KITTI_OBJECT_FROM_SIMGEN, level_frame


def devkit_box_corners(h: float, w: float, l: float, location: np.ndarray, rotation_y: float) -> np.ndarray:
    """The KITTI object devkit's compute_box_3d, written from its definition."""
    c, s = math.cos(rotation_y), math.sin(rotation_y)
    rotation = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    corners = np.array([[l / 2, l / 2, -l / 2, -l / 2, l / 2, l / 2, -l / 2, -l / 2],
                        [0, 0, 0, 0, -h, -h, -h, -h],
                        [w / 2, -w / 2, -w / 2, w / 2, w / 2, -w / 2, -w / 2, w / 2]])
    return (rotation @ corners).T + location


def read_calib(path: Path) -> dict[str, np.ndarray]:
    return {key: np.array(values.split(), float) for key, values in
            (line.split(":", 1) for line in path.read_text().splitlines())}


def test_kitti_labels_reproject_onto_the_3d_boxes(quickstart: Path, quickstart_coco: dict, tmp_path: Path) -> None:
    dest = tmp_path / "kitti"
    assert main(["export", str(quickstart), "--format", "kitti", "-o", str(dest), "--split", "0.5,0.25,0.25"]) == 0
    by_image = {image["file_name"].split("/")[-1].split(".")[0]: image for image in quickstart_coco["images"]}
    listed = sorted(line for split in ("train", "val", "test")
                    for line in (dest / "ImageSets" / f"{split}.txt").read_text().split())
    assert listed == sorted(by_image)
    checked = 0
    for stem, image in by_image.items():
        annotations = [a for a in quickstart_coco["annotations"] if a["image_id"] == image["id"]]
        lines = (dest / "training" / "label_2" / f"{stem}.txt").read_text().splitlines()
        assert len(lines) == len(annotations) and (dest / "training" / "image_2" / f"{stem}.png").is_file()
        p2 = read_calib(dest / "training" / "calib" / f"{stem}.txt")["P2"].reshape(3, 4)
        r_cl = level_frame(np.array(image["camera"]["world_to_camera"]))
        for line, annotation in zip(lines, annotations):
            fields = line.split()
            assert len(fields) == 15 and fields[0] == quickstart_coco["categories"][annotation["category_id"] - 1]["name"]
            left, top, right, bottom = map(float, fields[4:8])
            x, y, w, h = annotation["bbox"]
            assert (left, top, right, bottom) == (x, y, x + w, y + h)
            height, width, length, *location, rotation_y = map(float, fields[8:])
            upright = r_cl.T @ np.array(annotation["rotation"]) @ KITTI_OBJECT_FROM_SIMGEN
            if annotation["box3d_projected"] is None or abs(upright[1, 1] - 1) > 1e-4:
                continue  # a tumbled object: KITTI's box turns about the vertical only
            corners = devkit_box_corners(height, width, length, np.array(location), rotation_y)
            uvw = (p2 @ np.hstack([corners, np.ones((8, 1))]).T).T
            projected = uvw[:, :2] / uvw[:, 2:]
            ours = np.array(annotation["box3d_projected"])
            gaps = np.linalg.norm(ours[:, None, :] - projected[None, :, :], axis=2).min(axis=1)
            assert gaps.max() < 0.05, (stem, gaps.max())
            checked += 1
    assert checked >= 6, "upright objects were checked"


def test_voc_boxes_and_lists_follow_the_spec(quickstart: Path, quickstart_coco: dict, tmp_path: Path) -> None:
    dest = tmp_path / "voc"
    assert main(["export", str(quickstart), "--format", "voc", "-o", str(dest), "--split", "0.5,0.25,0.25"]) == 0
    base = dest / "VOCdevkit" / "VOC2012"
    names = {c["id"]: c["name"] for c in quickstart_coco["categories"]}
    for image in quickstart_coco["images"]:
        stem = Path(image["file_name"]).stem
        root = ElementTree.parse(base / "Annotations" / f"{stem}.xml").getroot()
        assert root.findtext("filename") == f"{stem}.jpg" and (base / "JPEGImages" / f"{stem}.jpg").is_file()
        assert (int(root.findtext("size/width")), int(root.findtext("size/height"))) == (image["width"], image["height"])
        objects = root.findall("object")
        annotations = [a for a in quickstart_coco["annotations"] if a["image_id"] == image["id"]]
        assert [o.findtext("name") for o in objects] == [names[a["category_id"]] for a in annotations]
        for obj, annotation in zip(objects, annotations):
            x, y, w, h = annotation["bbox"]
            box = [int(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")]
            assert box == [x + 1, y + 1, x + w, y + h], "VOC boxes are 1-based and inclusive"
    trainval = (base / "ImageSets" / "Main" / "trainval.txt").read_text().split()
    assert len(trainval) + len((base / "ImageSets" / "Main" / "test.txt").read_text().split()) == 4
    torchvision = pytest.importorskip("torchvision")
    dataset = torchvision.datasets.VOCDetection(str(dest), year="2012", image_set="trainval")
    image, target = dataset[0]
    assert image.size == (quickstart_coco["images"][0]["width"], quickstart_coco["images"][0]["height"])
    assert target["annotation"]["object"], "torchvision reads the objects"


BOP_SCENE = """
name: bop
seed: 3
render: {tiny}
classes:
  - {{name: box, asset: {meshes}/box_1x2x3.obj, count: [1, 2], scale: 0.1, rotation: free}}
  - {{name: cube, asset: 'primitive:cube', count: [1, 2], scale: {{choice: [0.05, 0.08]}}}}
placement: {{area: [0.8, 0.8]}}
camera: {{orbit: {{distance: [1.4, 1.8], elevation_deg: [30, 60]}}}}
distractors: {{count: 2, near_camera: 1.0, scale: [0.05, 0.1]}}
labels: {{amodal_masks: true}}
"""


def test_bop_poses_models_and_masks_agree(tmp_path: Path) -> None:
    """Each model, posed by scene_gt and projected with cam_K, lands on its full mask and its depth."""
    import cv2
    import json
    import trimesh

    from conftest import FIXTURES, TINY
    from simgen.tools.exports.bop import silhouette

    scenario = tmp_path / "bop.yaml"
    scenario.write_text(BOP_SCENE.format(tiny=TINY, meshes=FIXTURES / "meshes"))
    out, dest = tmp_path / "out", tmp_path / "bop"
    assert main(["render", str(scenario), "-o", str(out), "-n", "4", "--no-progress"]) == 0
    assert main(["export", str(out), "--format", "bop", "-o", str(dest), "--split", "0.5,0.25,0.25"]) == 0
    coco = json.loads((out / "annotations.json").read_text())
    info = json.loads((dest / "models" / "models_info.json").read_text())
    assert len(info) == 3, "the box at one scale, the cube at two: three rigid models"
    box_id = next(k for k, v in info.items() if abs(v["size_z"] - v["size_x"]) > 1)
    assert sorted(round(info[box_id][k], 3) for k in ("size_x", "size_y", "size_z")) == [100, 200, 300]
    assert info[box_id]["diameter"] == pytest.approx(math.sqrt(100**2 + 200**2 + 300**2), abs=1e-3)
    meshes = {int(k): trimesh.load(dest / "models" / f"obj_{int(k):06d}.ply", process=False) for k in info}
    models = {k: np.asarray(mesh.vertices) for k, mesh in meshes.items()}
    trimesh_faces = {k: np.asarray(mesh.faces) for k, mesh in meshes.items()}
    by_frame = {image["frame_index"]: image for image in coco["images"]}
    seen, checked = set(), 0
    for split in ("train", "val", "test"):
        scene = dest / split / "000000"
        cameras, gts, infos = (json.loads((scene / f"scene_{name}.json").read_text())
                               for name in ("camera", "gt", "gt_info"))
        for im_id, gt in gts.items():
            seen.add(int(im_id))
            image = by_frame[int(im_id)]
            annotations = {a["mask_id"]: a for a in coco["annotations"] if a["image_id"] == image["id"]}
            K = np.array(cameras[im_id]["cam_K"]).reshape(3, 3)
            assert np.allclose(K, image["camera"]["K"])
            depth = cv2.imread(str(scene / "depth" / f"{int(im_id):06d}.png"), cv2.IMREAD_UNCHANGED)
            assert len(gt) == len(image["params"]["objects"]), "every object of the frame, hidden ones too"
            for gt_id, (entry, gt_info, obj) in enumerate(zip(gt, infos[im_id], image["params"]["objects"])):
                R, t = np.array(entry["cam_R_m2c"]).reshape(3, 3), np.array(entry["cam_t_m2c"])
                points = models[entry["obj_id"]] @ R.T + t  # mm, camera axes
                uv = points @ K.T
                uv = uv[:, :2] / uv[:, 2:]
                stem = f"{int(im_id):06d}_{gt_id:06d}.png"
                visible = cv2.imread(str(scene / "mask_visib" / stem), cv2.IMREAD_UNCHANGED) > 0
                full = cv2.imread(str(scene / "mask" / stem), cv2.IMREAD_UNCHANGED) > 0
                assert not (visible & ~full).any(), "the visible pixels are part of the full silhouette"
                assert gt_info["px_count_visib"] == visible.sum() and gt_info["px_count_all"] == full.sum()
                annotation = annotations.get(obj["instance_id"])
                if annotation is None:
                    assert not visible.any()
                    continue
                assert gt_info["visib_fract"] == annotation["visibility"]
                lo, hi = np.ceil(uv.min(0)), np.floor(uv.max(0))  # the pixels whose centres it covers
                assert np.abs(np.array(gt_info["bbox_obj"]) - [*lo, *(hi - lo + 1)]).max() <= 1, \
                    "the projected model spans bbox_obj"
                px = np.round(uv).astype(int)  # OpenCV: pixel centres at integers
                inside = (px[:, 0] >= 0) & (px[:, 1] >= 0) & (px[:, 0] < full.shape[1]) & (px[:, 1] < full.shape[0])
                grown = cv2.dilate(full.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
                assert grown[px[inside, 1], px[inside, 0]].all(), "every model vertex projects onto the silhouette"
                drawn = silhouette(models[entry["obj_id"]], trimesh_faces[entry["obj_id"]], R, t, K, full.shape)
                assert (drawn & full).sum() / max((drawn | full).sum(), 1) > 0.8, \
                    "the model's own silhouette (used for objects with no label) matches the rendered one"
                z = depth[visible].astype(float)
                assert (z >= points[:, 2].min() - 2).all() and (z <= points[:, 2].max() + 2).all(), \
                    "the depth of its visible pixels lies within the posed model"
                checked += 1
    assert seen == set(by_frame) and checked >= 4
    targets = json.loads((dest / "test_targets_bop19.json").read_text())
    assert targets and all(t["scene_id"] == 0 and t["inst_count"] >= 1 for t in targets)
    assert (dest / ".simgen").is_file()


def test_cityscapes_labels_match_the_benchmark_and_its_evaluation(quickstart: Path, quickstart_coco: dict,
                                                                  tmp_path: Path) -> None:
    """The label table is cityscapesscripts' own; its pixel-level evaluation reads the export and finds
    every class where simgen's instance map puts it."""
    import cv2

    labels = pytest.importorskip("cityscapesscripts.helpers.labels")
    from simgen.tools.exports.cityscapes import LABELS

    official = {l.id: (l.name, l.trainId, l.hasInstances, tuple(l.color)) for l in labels.labels if l.id >= 0}
    assert {l.id: (l.name, l.train_id, l.has_instances, l.color) for l in LABELS} == official

    dest = tmp_path / "cs"
    names = [c["name"] for c in quickstart_coco["categories"]]
    assert main(["export", str(quickstart), "--format", "cityscapes", "-o", str(dest)]) == 2, \
        "quickstart's classes (cube, sphere, monkey) are no Cityscapes labels"
    mapping = dict(zip(names, ["car", "person", "unlabeled"]))
    args = [f"--class-map={name}={label}" for name, label in mapping.items()]
    assert main(["export", str(quickstart), "--format", "cityscapes", "-o", str(dest), *args]) == 0
    ground_truth = sorted(dest.glob("gtFine/*/simgen/*_gtFine_labelIds.png"))
    assert len(ground_truth) == len(quickstart_coco["images"])
    by_frame = {image["frame_index"]: image for image in quickstart_coco["images"]}
    ids = {l.name: l.id for l in LABELS}
    for path in ground_truth:
        image = by_frame[int(path.name.split("_")[2])]
        instance = cv2.imread(str(quickstart / image["instance_file"]), cv2.IMREAD_UNCHANGED)
        label_ids = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        instance_ids = cv2.imread(str(path).replace("labelIds", "instanceIds"), cv2.IMREAD_UNCHANGED)
        train_ids = cv2.imread(str(path).replace("labelIds", "labelTrainIds"), cv2.IMREAD_UNCHANGED)
        annotations = [a for a in quickstart_coco["annotations"] if a["image_id"] == image["id"]]
        for a in annotations:
            label = mapping[names[a["category_id"] - 1]]
            pixels = instance == a["mask_id"]
            assert (label_ids[pixels] == ids[label]).all()
            if label in ("car", "person") and not a["iscrowd"]:
                values = np.unique(instance_ids[pixels])
                assert len(values) == 1 and values[0] // 1000 == ids[label], "one id * 1000 + k per instance"
        assert (label_ids[instance == 0] == 0).all() and (train_ids[label_ids == 0] == 255).all()
        assert (dest / "leftImg8bit" / path.parent.relative_to(dest / "gtFine")
                / path.name.replace("gtFine_labelIds", "leftImg8bit")).is_file()

    evaluation = pytest.importorskip("cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling")
    settings = evaluation.args
    settings.quiet, settings.evalPixelAccuracy, settings.JSONOutput = True, False, False
    settings.exportFile = str(tmp_path / "result.json")
    results = evaluation.evaluateImgLists([str(p) for p in ground_truth], [str(p) for p in ground_truth], settings)
    scores = results["classScores"]
    assert scores["car"] == pytest.approx(1.0) and scores["person"] == pytest.approx(1.0), \
        "its own evaluation reads the export: ground truth against itself is a perfect score"


def test_bop_objects_hidden_entirely_get_their_silhouette_and_are_no_targets(tmp_path: Path) -> None:
    import json

    import cv2

    from conftest import TINY

    scenario = tmp_path / "hidden.yaml"
    scenario.write_text(f"""
name: hidden
seed: 1
frames: 1
render: {TINY}
classes:
  - {{name: big, asset: 'primitive:cube', count: 1, scale: 1.0, position: {{x: 0, y: 0, z: 0.5}}}}
  - {{name: small, asset: 'primitive:cube', count: 1, scale: 0.2, position: {{x: 0, y: 1.5, z: 0.5}}}}
placement: {{area: [4, 4]}}
labels: {{amodal_masks: true}}
camera: {{fov_deg: 50, fixed: {{location: [0, -4, 0.5], look_at: [0, 0, 0.5]}}}}
""")
    out, dest = tmp_path / "out", tmp_path / "bop"
    assert main(["render", str(scenario), "-o", str(out), "--no-progress"]) == 0
    assert main(["export", str(out), "--format", "bop", "-o", str(dest), "--split", "0,0,1"]) == 0
    scene = dest / "test" / "000000"
    (big, small) = json.loads((scene / "scene_gt_info.json").read_text())["0"]
    assert big["visib_fract"] == 1.0 and small["px_count_visib"] == 0 and small["visib_fract"] == 0.0
    full = cv2.imread(str(scene / "mask" / "000000_000001.png"), cv2.IMREAD_UNCHANGED) > 0
    assert small["px_count_all"] == full.sum() > 0, "behind the big cube, but in view: a silhouette of its own"
    x, y, w, h = small["bbox_obj"]
    ys, xs = np.nonzero(full)
    assert abs(x - xs.min()) <= 1 and abs(y - ys.min()) <= 1 and abs(x + w - 1 - xs.max()) <= 1
    targets = json.loads((dest / "test_targets_bop19.json").read_text())
    assert [t["obj_id"] for t in targets] == [json.loads((scene / "scene_gt.json").read_text())["0"][0]["obj_id"]]
