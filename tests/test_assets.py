"""Every supported mesh format imports once, in metres, Z up, as one object (real Blender import)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, render
from simgen.assets.resolve import resolve_asset
from simgen.config import load_preset

MESHES = FIXTURES / "meshes"
FORMATS = ["box_1x2x3.obj", "box_1x2x3.ply", "box_1x2x3.stl", "box_1x2x3.glb", "box_1x2x3.fbx", "box_1x2x3.usda",
           "box_two_parts.blend"]


@pytest.fixture(scope="module")
def backend():
    from simgen.blender.backend import BlenderBackend

    instance = BlenderBackend(load_preset(str(FIXTURES / "tiny.yaml")), "cpu")
    yield instance
    instance.close()


@pytest.mark.parametrize("name", FORMATS)
def test_format_imports_with_true_size_and_up_axis(backend, name: str) -> None:
    (ref,) = resolve_asset(str(MESHES / name), FIXTURES)
    bounds = backend.load_assets([ref])[ref.key]
    assert np.allclose(bounds.size, (1.0, 2.0, 3.0), atol=1e-4), bounds.size
    assert abs(bounds.minimum[2]) < 1e-4, "Z is up: the box stands on z = 0"
    assert ref.license.startswith("CC0")


def test_glob_resolves_every_format() -> None:
    refs = resolve_asset("meshes/box_*", FIXTURES)
    assert [Path(r.key).name for r in refs] == sorted(FORMATS)


def test_file_assets_render_and_are_labeled(tmp_path: Path) -> None:
    scenario = tmp_path / "boxes.yaml"
    scenario.write_text(f"""
name: boxes
frames: 2
classes:
  - name: box
    asset: "{MESHES}/box_*"
    count: 2
    scale: 0.2
camera: {{orbit: {{distance: 3, elevation_deg: 40}}}}
""")
    out = tmp_path / "out"
    assert render(scenario, out) == 0
    coco = json.loads((out / "annotations.json").read_text())
    assert len(coco["annotations"]) == 4
    for annotation in coco["annotations"]:
        assert np.allclose(sorted(annotation["dimensions"]), [0.2, 0.4, 0.6], atol=1e-4)
    assert any("CC0" in entry["name"] for entry in coco["licenses"])


def test_urdf_visuals_are_posed_by_origins_joints_and_scale(backend) -> None:
    """A <box> plate plus, on a joint yawed 90 degrees, the 1 x 2 x 3 box at half scale (package:// path)."""
    (ref,) = resolve_asset(str(MESHES / "arm_on_plate.urdf"), FIXTURES)
    bounds = backend.load_assets([ref])[ref.key]
    assert np.allclose(bounds.minimum, (-1.5, -1.0, 0.0), atol=1e-4), bounds.minimum
    assert np.allclose(bounds.maximum, (1.0, 1.0, 1.2), atol=1e-4), bounds.maximum
    assert ref.license.startswith("CC0")
    assert len(backend.library_object(ref.key).users_collection) == 0, "joined into one hidden library object"


def test_urdf_errors_name_the_file_and_what_is_wrong(tmp_path: Path) -> None:
    from simgen.assets.urdf import urdf_visuals
    from simgen.errors import AssetError

    urdf = tmp_path / "bad.urdf"
    urdf.write_text('<robot name="r"><link name="a"><visual><geometry><mesh filename="package://p/gone.stl"/>'
                    '</geometry></visual></link></robot>')
    with pytest.raises(AssetError, match="mesh 'package://p/gone.stl' not found"):
        urdf_visuals(urdf)
    urdf.write_text('<robot name="r"><link name="a"/></robot>')
    with pytest.raises(AssetError, match="no link has a <visual>"):
        urdf_visuals(urdf)


@pytest.mark.parametrize("name", FORMATS)
def test_format_measures_true_size_in_the_render(tmp_path: Path, name: str) -> None:
    """The 1 x 2 x 3 m box of every format covers exactly the pixels its true geometry projects to."""
    from simgen.sampling.geometry import box_corners, project_points

    scenario = tmp_path / "one.yaml"
    scenario.write_text(f"""
name: one
frames: 1
render: {FIXTURES / 'tiny.yaml'}
classes:
  - {{name: box, asset: "{MESHES / name}", count: 1, position: {{x: 0, y: 0, z: 0}}, rotation_deg: {{x: 0, y: 0, z: 0}},
     material: {{mode: sampled}}}}
camera: {{focal_length_mm: 30, fixed: {{location: [9.0, -11.0, 7.0], look_at: [0, 0, 1.5]}}}}
""")
    out = tmp_path / "out"
    assert render(scenario, out) == 0
    coco = json.loads((out / "annotations.json").read_text())
    image, (annotation,) = coco["images"][0], coco["annotations"]
    corners = box_corners([-0.5, -1.0, 0.0], [0.5, 1.0, 3.0])
    uv = project_points(corners, np.array(image["camera"]["K"]), np.array(image["camera"]["world_to_camera"])) + 0.5
    x, y, w, h = annotation["bbox"]
    assert np.allclose([x, y, x + w, y + h], [uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()], atol=1.0)
