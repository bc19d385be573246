"""Normals and albedo on the output registry, checked on a real tiny render of the known cube."""

from __future__ import annotations

import json
import shutil
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from conftest import FIXTURES, render
from simgen.cli import main
from simgen.nir_output import NIR_SCALE
from simgen.sampling.geometry import euler_xyz_matrix


@pytest.fixture(scope="module")
def cube(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("surface")
    spec = yaml.safe_load((FIXTURES / "cube.yaml").read_text())
    spec["render"] = str(FIXTURES / "tiny.yaml")
    spec["labels"] = {"outputs": ["normals", "normals_float", "albedo"]}
    spec["classes"][0]["material"] = {"mode": "sampled", "color": {"hue": 0.6, "saturation": 0.8, "value": 0.7},
                                      "metallic": 0}
    scene = root / "cube.yaml"
    scene.write_text(yaml.safe_dump(spec))
    assert render(scene, root / "out") == 0
    coco = json.loads((root / "out" / "annotations.json").read_text())
    return root / "out", coco


def test_cube_faces_have_their_normals_in_camera_axes(cube) -> None:
    out, coco = cube
    image, = coco["images"]
    w2c = np.array(image["camera"]["world_to_camera"])
    normals = np.load(out / image["normals_float_file"])
    png = cv2.imread(str(out / image["normals_file"]), cv2.IMREAD_UNCHANGED)[..., ::-1].astype(np.float64)
    instance = cv2.imread(str(out / image["instance_file"]), cv2.IMREAD_UNCHANGED)
    inside = cv2.erode((instance == 1).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)  # no edge pixels
    rotation = euler_xyz_matrix(0.0, 0.0, math.radians(30))
    faces = [w2c[:3, :3] @ rotation @ axis for axis in np.vstack([np.eye(3), -np.eye(3)])]
    seen = 0
    for face in faces:
        if face[2] >= 0:
            continue  # facing away from the camera
        near = inside & (np.einsum("hwc,c->hw", np.nan_to_num(normals), face) > math.cos(math.radians(10)))
        if near.sum() < 5:
            continue
        angles = np.degrees(np.arccos(np.clip(normals[near] @ face, -1, 1)))
        assert np.percentile(angles, 95) < 1.0, f"face {face.round(3)}: {np.percentile(angles, 95):.2f} deg"
        decoded = png[near] / 65535 * 2 - 1
        assert np.abs(decoded - normals[near]).max() < 1e-4  # the PNG holds the same vectors
        seen += 1
    assert seen >= 2, "the camera sees at least two faces of the cube"
    ground = (instance == 0) & np.isfinite(normals).all(-1)
    up = w2c[:3, :3] @ np.array([0.0, 0.0, 1.0])
    assert np.percentile(np.degrees(np.arccos(np.clip(normals[ground] @ up, -1, 1))), 95) < 1.0


def test_albedo_is_the_colour_without_light(cube) -> None:
    out, coco = cube
    image, = coco["images"]
    albedo = cv2.imread(str(out / image["albedo_file"]))[..., ::-1].astype(np.float64) / 255
    instance = cv2.imread(str(out / image["instance_file"]), cv2.IMREAD_UNCHANGED)
    inside = cv2.erode((instance == 1).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    linear = np.where(albedo <= 0.04045, albedo / 12.92, ((albedo + 0.055) / 1.055) ** 2.4)
    wanted = np.array(coco["images"][0]["params"]["objects"][0]["material"]["base_color"])
    # every face, lit or in shadow, has about the same albedo: its base colour, less the share the glossy
    # coat reflects (Fresnel, a few per cent, more at grazing angles), while the lit RGB differs by face
    ratio = linear[inside] / wanted
    assert 0.85 < ratio.min() and ratio.max() <= 1.01
    rgb = cv2.imread(str(out / image["file_name"]))[..., ::-1].astype(np.float64)
    brightness, tone = rgb[inside].sum(-1), linear[inside].sum(-1)
    assert tone.max() / tone.min() < 1.1 < brightness.max() / brightness.min()


def test_outputs_are_chosen_by_name_with_one_clear_error(tmp_path, capsys) -> None:
    scene = tmp_path / "bad.yaml"
    scene.write_text("name: x\nclasses: [{name: a, asset: 'primitive:cube'}]\nlabels: {outputs: [normal]}\n")
    assert main(["check", str(scene)]) == 2
    assert "bad.yaml:3: labels.outputs: unknown output 'normal': did you mean 'normals'?" in capsys.readouterr().err


def test_validate_checks_them(cube, tmp_path) -> None:
    out, coco = cube
    assert main(["validate", str(out)]) == 0
    out = Path(shutil.copytree(out, tmp_path / "copy"))
    normals = out / coco["images"][0]["normals_file"]
    cv2.imwrite(str(normals), cv2.imread(str(normals), cv2.IMREAD_UNCHANGED)[..., 0])  # one channel: wrong
    assert main(["validate", str(out)]) == 1


def test_stereo_right_view_is_the_left_shifted_by_the_disparity(tmp_path) -> None:
    """disparity = f B / Z, and the right image shows at (u - d, v) what the left shows at (u, v)."""
    spec = yaml.safe_load((FIXTURES / "cube.yaml").read_text())
    spec["render"] = str(FIXTURES / "tiny.yaml")
    spec["labels"] = {"outputs": ["stereo"]}
    spec["camera"]["stereo_baseline_m"] = 0.3
    spec["classes"][0]["material"] = {"mode": "procedural", "pattern": "checker", "pattern_scale": 4}
    scene = tmp_path / "stereo.yaml"
    scene.write_text(yaml.safe_dump(spec))
    assert render(scene, tmp_path / "out") == 0
    out = tmp_path / "out"
    image, = json.loads((out / "annotations.json").read_text())["images"]
    assert image["camera_right"]["baseline_m"] == 0.3
    depth = cv2.imread(str(out / image["depth_file"]), cv2.IMREAD_UNCHANGED).astype(np.float64) / 1000
    shift = cv2.imread(str(out / image["disparity_file"]), cv2.IMREAD_UNCHANGED).astype(np.float64) / 256
    focal = image["camera"]["K"][0][0]
    surface = depth > 0
    assert np.abs(shift[surface] - focal * 0.3 / depth[surface]).max() < 0.5  # within the mm rounding of depth
    assert np.all(shift[~surface] == 0)
    left = cv2.imread(str(out / image["file_name"])).astype(np.float64)
    right = cv2.imread(str(out / image["right_file"])).astype(np.float64)
    instance = cv2.imread(str(out / image["instance_file"]), cv2.IMREAD_UNCHANGED)
    rows, cols = np.nonzero(cv2.erode((instance == 1).astype(np.uint8), np.ones((3, 3), np.uint8)))
    target = np.rint(cols - shift[rows, cols]).astype(int)
    ok = (target >= 0) & (target < left.shape[1])
    warped = np.abs(left[rows[ok], cols[ok]] - right[rows[ok], target[ok]]).mean()
    unshifted = np.abs(left[rows[ok], cols[ok]] - right[rows[ok], cols[ok]]).mean()
    assert warped < 0.5 * unshifted, (warped, unshifted)


def nir_view(tmp_path: Path, distance: float) -> float:
    """Mean NIR value over the face of a cube (reflectance 0.5) facing the camera, lit only by the
    camera's illuminator (no sun, sky or ground)."""
    scene = tmp_path / f"nir{distance}.yaml"
    scene.write_text(yaml.safe_dump({
        "name": "nir", "seed": 1, "frames": 1, "render": str(FIXTURES / "tiny.yaml"),
        "classes": [{"name": "cube", "asset": "primitive:cube", "count": 1, "position": {"x": 0, "y": 0, "z": 1},
                     "rotation_deg": {"x": 0, "y": 0, "z": 0}, "nir_reflectance": 0.5}],
        "camera": {"focal_length_mm": 50, "fixed": {"location": [0, -distance, 1], "look_at": [0, 0, 1]},
                   "nir": {"illuminator_w": 5, "offset_m": 0, "sun_share": 0, "sky_share": 0}},
        "sun": None, "world": {"type": "color", "color": [0, 0, 0], "strength": 0}, "ground": {"enabled": False},
        "labels": {"outputs": ["nir"]}}))
    out = tmp_path / f"out{distance}"
    assert render(scene, out) == 0
    image, = json.loads((out / "annotations.json").read_text())["images"]
    nir = cv2.imread(str(out / image["nir_file"]), cv2.IMREAD_UNCHANGED).astype(np.float64)
    instance = cv2.imread(str(out / image["instance_file"]), cv2.IMREAD_UNCHANGED)
    face = cv2.erode((instance == 1).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    near_cube = cv2.dilate((instance == 1).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert face.sum() > 20 and np.all(nir[~near_cube] == 0)  # nothing else is lit (edge pixels are partly cube)
    height, width = nir.shape
    centre = nir[height // 2 - 4:height // 2 + 4, width // 2 - 4:width // 2 + 4]  # on the beam's axis
    assert face[height // 2 - 4:height // 2 + 4, width // 2 - 4:width // 2 + 4].all()
    return float(centre.mean())


def test_nir_falls_with_the_square_of_the_illuminators_distance(tmp_path) -> None:
    """A Lambertian face 1.5 m and 2.5 m from the illuminator at the lens: its image brightness (radiance)
    follows the irradiance, 1 / d^2, within 5 %."""
    near, far = nir_view(tmp_path, 2.0), nir_view(tmp_path, 3.0)
    assert near / far == pytest.approx((2.5 / 1.5) ** 2, rel=0.05)
    # and its level: radiance = reflectance x (P / 4 pi) / d^2 / pi, in the PNG's documented scale
    assert near == pytest.approx(0.5 * 5 / (4 * math.pi) / 1.5 ** 2 / math.pi * NIR_SCALE, rel=0.05)


def test_thermal_reads_the_temperatures_it_was_given(tmp_path) -> None:
    """Black bodies (emissivity 1) at 10 C and 60 C on a ground at the air's 25 C in full sun: the
    radiometric image reads each within 0.5 K inside their faces, in that order; the ground is warmer
    than the air (sunlit concrete), the sky colder."""
    scene = tmp_path / "thermal.yaml"
    scene.write_text(yaml.safe_dump({
        "name": "thermal", "seed": 1, "frames": 1, "render": str(FIXTURES / "tiny.yaml"),
        "classes": [{"name": "cold", "asset": "primitive:cube", "count": 1, "position": {"x": -0.8, "y": 0, "z": 0.5},
                     "rotation_deg": {"x": 0, "y": 0, "z": 0}, "temperature_c": 10, "emissivity": 1},
                    {"name": "hot", "asset": "primitive:cube", "count": 1, "position": {"x": 0.8, "y": 0, "z": 0.5},
                     "rotation_deg": {"x": 0, "y": 0, "z": 0}, "temperature_c": 60, "emissivity": 1}],
        "camera": {"focal_length_mm": 30, "fixed": {"location": [0, -6, 2.5], "look_at": [0, 0, 0.8]},
                   "thermal": {"ambient_c": 25, "sky_below_ambient_c": 30, "noise_k": 0.05, "blur_px": 0}},
        "sun": {"elevation_deg": 60, "illuminance_lux": 90000},
        "labels": {"outputs": ["thermal"]}}))
    out = tmp_path / "out"
    assert render(scene, out) == 0
    image, = json.loads((out / "annotations.json").read_text())["images"]
    celsius = cv2.imread(str(out / image["thermal_file"]), cv2.IMREAD_UNCHANGED).astype(np.float64) / 100 - 273.15
    instance = cv2.imread(str(out / image["instance_file"]), cv2.IMREAD_UNCHANGED)
    depth = cv2.imread(str(out / image["depth_file"]), cv2.IMREAD_UNCHANGED)
    inside = {i: cv2.erode((instance == i).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) for i in (1, 2)}
    cold, hot = (float(np.median(celsius[inside[i]])) for i in (1, 2))
    assert cold == pytest.approx(10.0, abs=0.5) and hot == pytest.approx(60.0, abs=0.5)
    ground = cv2.erode(((instance == 0) & (depth > 0)).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    sky = (depth == 0) & (instance == 0)
    assert cold < 25.0 < float(np.median(celsius[ground])) < hot
    assert not sky.any() or float(np.median(celsius[sky])) == pytest.approx(-5.0, abs=0.5)
    display = cv2.imread(str(out / image["thermal_display_file"]))
    assert display.shape == (*celsius.shape, 3)


def dot_pattern(tmp_path: Path, distance: float) -> np.ndarray:
    """The NIR image of a flat wall ``distance`` m straight ahead, lit only by the dot projector
    (7.5 cm left of the lens, 1-degree cells, 256x192 at 50 degrees)."""
    (tmp_path / "preset.yaml").write_text(yaml.safe_dump({
        "name": "dots", "resolution": [256, 192], "samples": 4, "adaptive_threshold": 0, "max_bounces": 1,
        "denoise": True, "view_transform": "Standard", "world_map_resolution": 64}))  # the RGB's denoiser spares dots
    scene = tmp_path / f"dots{distance}.yaml"
    scene.write_text(yaml.safe_dump({
        "name": "dots", "seed": 1, "frames": 1, "render": str(tmp_path / "preset.yaml"),
        "classes": [{"name": "wall", "asset": "primitive:cube", "count": 1, "scale": 6,
                     "position": {"x": 0, "y": 3, "z": 0}, "rotation_deg": {"x": 0, "y": 0, "z": 0},
                     "nir_reflectance": 0.8}],
        "camera": {"fov_deg": 50, "fixed": {"location": [0, -distance, 0], "look_at": [0, 0, 0]},
                   "nir": {"illuminator_w": 0, "sun_share": 0, "sky_share": 0,
                           "projector": {"power_w": 5, "offset_m": -0.075, "dot_spacing_deg": 1.0, "dot_size": 0.4}}},
        "sun": None, "world": {"type": "color", "color": [0, 0, 0], "strength": 0}, "ground": {"enabled": False},
        "labels": {"outputs": ["nir"]}}))
    out = tmp_path / f"dots{distance}"
    assert main(["render", str(scene), "-o", str(out), "--no-progress"]) == 0
    image, = json.loads((out / "annotations.json").read_text())["images"]
    return cv2.imread(str(out / image["nir_file"]), cv2.IMREAD_UNCHANGED).astype(np.float32)


def test_projected_dots_shift_with_depth_by_focal_times_baseline(tmp_path) -> None:
    """Structured light: a dot leaving the projector at angle t lands at u = f (tan t + B / Z) + cx, so the
    pattern on a wall at 1 m and at 2 m is the same pattern moved by f B (1/2 - 1/1) pixels along x (here
    +10.3 px), not at all along y; one dot per cell of the spacing; brightness falls as 1 / Z^2."""
    near, far = dot_pattern(tmp_path, 1.0), dot_pattern(tmp_path, 2.0)
    focal = 128 / math.tan(math.radians(25))
    (dx, dy), _ = cv2.phaseCorrelate(near, far)
    assert dx == pytest.approx(focal * -0.075 * (1 / 2 - 1 / 1), abs=0.3) and abs(dy) < 0.3
    centre = near[48:144, 64:192]  # dots: local maxima, one per cell
    peaks = (centre == cv2.dilate(centre, np.ones((3, 3), np.uint8))) & (centre > 0.2 * centre.max())
    assert peaks.sum() == pytest.approx(centre.size / (focal * math.tan(math.radians(1.0))) ** 2, rel=0.1)
    assert np.percentile(centre, 50) < 0.05 * centre.max()  # dark between the dots
    assert near.mean() / far.mean() == pytest.approx(4.0, rel=0.05)


def two_part_obj(folder: Path) -> Path:
    """One asset of two boxes side by side: the left one painted ('paint'), the right one a tyre's rubber."""
    lines, faces = ["mtllib parts.mtl"], [(1, 2, 3, 4), (5, 8, 7, 6), (1, 5, 6, 2), (2, 6, 7, 3), (3, 7, 8, 4),
                                            (5, 1, 4, 8)]
    for box, (x0, x1, material) in enumerate([(-1.0, -0.1, "paint"), (0.1, 1.0, "Tire_Rubber")]):
        for z in (0.0, 1.0):
            lines += [f"v {x} {y} {z}" for x, y in ((x0, -0.5), (x1, -0.5), (x1, 0.5), (x0, 0.5))]
        lines += [f"usemtl {material}"] + ["f " + " ".join(str(8 * box + i) for i in face) for face in faces]
    (folder / "parts.mtl").write_text("newmtl paint\nKd 0.8 0.1 0.1\nnewmtl Tire_Rubber\nKd 0.05 0.05 0.05\n")
    (folder / "parts.obj").write_text("\n".join(lines) + "\n")
    return folder / "parts.obj"


def test_parts_of_an_asset_have_their_own_temperatures(tmp_path) -> None:
    """A 'car' whose right box is made of a material named like a tyre's: with the body pinned at 20 C and
    the tyres at 45 C, the thermal image reads the body at 20 C and the tyre at 43.9 C: its emissivity
    0.95 emits 95 % of a 45 C black body's radiance and reflects 5 % of the 20 C sky's."""
    from simgen.sampling.thermal import apparent_celsius, part_of, radiance

    assert [part_of(n) for n in ("carPaint", "Tire_Rubber", "GLASS_headlights", "cristales", "wheels")] == \
        [0, 1, 3, 2, 0]
    scene = tmp_path / "parts.yaml"
    scene.write_text(yaml.safe_dump({
        "name": "parts", "seed": 1, "frames": 1, "render": str(FIXTURES / "tiny.yaml"),
        "classes": [{"name": "car", "asset": str(two_part_obj(tmp_path)), "count": 1,
                     "position": {"x": 0, "y": 0, "z": 0}, "rotation_deg": {"x": 0, "y": 0, "z": 0},
                     "temperature_c": 20, "emissivity": 1, "parts_c": {"tyre": 45}}],
        "camera": {"focal_length_mm": 30, "fixed": {"location": [0, -5, 0.5], "look_at": [0, 0, 0.5]},
                   "thermal": {"ambient_c": 20, "sky_below_ambient_c": 0, "noise_k": 0.0, "blur_px": 0}},
        "sun": None, "ground": {"enabled": False}, "labels": {"outputs": ["thermal"]}}))
    out = tmp_path / "out"
    assert render(scene, out) == 0
    image, = json.loads((out / "annotations.json").read_text())["images"]
    assert image["params"]["thermal"]["parts"][0][0] == [45.0, 0.95]
    celsius = cv2.imread(str(out / image["thermal_file"]), cv2.IMREAD_UNCHANGED).astype(np.float64) / 100 - 273.15
    instance = cv2.imread(str(out / image["instance_file"]), cv2.IMREAD_UNCHANGED)
    inside = cv2.erode((instance == 1).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    middle = instance.shape[1] // 2
    body = float(np.median(celsius[:, :middle][inside[:, :middle]]))
    tyre = float(np.median(celsius[:, middle:][inside[:, middle:]]))
    reflecting = apparent_celsius(0.95 * radiance(45.0) + 0.05 * radiance(20.0))  # the sky here is at 20 C
    assert body == pytest.approx(20.0, abs=0.5) and tyre == pytest.approx(reflecting, abs=0.3), (body, tyre)
