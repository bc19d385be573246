"""Asset catalogs: units, real sizes, up axes and .blend collections are baked in at load, errors are clear,
and a catalog's licence reaches the dataset (real Blender imports, one tiny render)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, render
from simgen.assets.resolve import YCB_ATTRIBUTION, YCB_LICENSE, resolve_asset
from simgen.cli import main
from simgen.config import load_preset
from simgen.errors import AssetError

MESHES = FIXTURES / "meshes"


def write_catalog(folder: Path, text: str, name: str = "shapes") -> Path:
    """A catalog in ``folder/assets/``, where scenarios in ``folder`` look for it."""
    (folder / "assets").mkdir(exist_ok=True)
    path = folder / "assets" / f"{name}.yaml"
    path.write_text(text)
    return path


CATALOG = f"""
name: Test shapes
license: CC0 1.0
attribution: simgen test fixtures
entries:
  cad_box: {{files: "{MESHES}/cad_box_cm_zup.obj", units: cm, up_axis: Z}}
  scan_box: {{files: "{MESHES}/scan_box_yup.stl", up_axis: Y}}
  tiny_box: {{files: "{MESHES}/box_1x2x3.obj", units: cm}}
  sized_box: {{files: "{MESHES}/box_1x2x3.glb", size_m: 0.3}}
  tables: {{files: "{MESHES}/two_collections.blend#Tables"}}
  chairs: {{files: "{MESHES}/two_collections.blend#Chairs"}}
  table_top: {{files: "{MESHES}/two_collections.blend#TableTop"}}
  mixed:
    units: cm
    files:
      - "{MESHES}/box_1x2x3.ply"
      - {{path: "{MESHES}/box_1x2x3.stl", size_m: 1.5, license: CC BY 4.0, attribution: Jane Doe}}
"""


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("catalog")
    write_catalog(folder, CATALOG)
    return folder


@pytest.fixture(scope="module")
def backend():
    from simgen.blender.backend import BlenderBackend

    instance = BlenderBackend(load_preset(str(FIXTURES / "tiny.yaml")), "cpu")
    yield instance
    instance.close()


def load(backend, catalog_dir: Path, reference: str):
    (ref,) = resolve_asset(reference, catalog_dir)
    return ref, backend.load_assets([ref])[ref.key]


@pytest.mark.parametrize("entry, size", [
    ("cad_box", (1.0, 2.0, 3.0)),      # centimetres and Z up in an OBJ, whose importer assumes Y up
    ("scan_box", (1.0, 2.0, 3.0)),     # Y up in an STL, whose importer assumes Z up
    ("tiny_box", (0.01, 0.02, 0.03)),  # the 1 x 2 x 3 box read as centimetres
    ("sized_box", (0.1, 0.2, 0.3)),    # longest side scaled to size_m, proportions kept
    ("tables", (2.0, 1.0, 0.1)),       # one collection of a .blend
    ("chairs", (1.0, 0.5, 0.5)),       # a collection of two objects, joined
    ("table_top", (2.0, 1.0, 0.1)),    # one object of a .blend
])
def test_entry_measures_true_size_standing_on_z0(backend, catalog_dir: Path, entry: str, size) -> None:
    ref, bounds = load(backend, catalog_dir, f"catalog:shapes/{entry}")
    assert ref.key == f"catalog:shapes/{entry}"
    assert np.allclose(bounds.size, size, atol=1e-5), bounds.size
    assert abs(bounds.minimum[2]) < 1e-6, "Z is up: the object stands on z = 0"


def test_blend_collection_brings_only_its_own_objects(backend, catalog_dir: Path) -> None:
    ref, _ = load(backend, catalog_dir, "catalog:shapes/chairs")
    assert len(backend._library[ref.key].data.vertices) == 16, "two cubes, and nothing of the 'Tables' collection"


def test_missing_blend_member_names_what_is_there(backend) -> None:
    (ref,) = resolve_asset(f"{MESHES}/two_collections.blend#Tabels", FIXTURES)
    with pytest.raises(AssetError, match="no collection or object 'Tabels'; did you mean 'Tables'"):
        backend.load_assets([ref])


def test_file_settings_override_entry_and_catalog(catalog_dir: Path) -> None:
    ply, stl = resolve_asset("catalog:shapes/mixed", catalog_dir)
    assert (ply.key, stl.key) == ("catalog:shapes/mixed/box_1x2x3.ply", "catalog:shapes/mixed/box_1x2x3.stl")
    assert (ply.scale, ply.size_m, ply.license, ply.attribution) == (0.01, None, "CC0 1.0", "simgen test fixtures")
    assert (stl.size_m, stl.license, stl.attribution) == (1.5, "CC BY 4.0", "Jane Doe")


def test_shipped_ycb_catalog_names_ycb_meshes_with_their_licence() -> None:
    (mug,) = resolve_asset("catalog:ycb/mug", FIXTURES)
    assert mug.key == "catalog:ycb/mug" and mug.path is not None and mug.path.name == "025_mug.stl"
    assert (mug.license, mug.attribution) == (YCB_LICENSE, YCB_ATTRIBUTION)


def scenario_using(folder: Path, asset: str) -> Path:
    path = folder / "scene.yaml"
    path.write_text(f"""
name: catalog
frames: 1
classes:
  - name: thing
    asset: "{asset}"
    count: 1
    scale: 0.3
    position: {{x: 0, y: 0, z: 0}}
camera: {{fixed: {{location: [0, -2.5, 1.2], look_at: [0, 0, 0.3]}}}}
""")
    return path


@pytest.mark.parametrize("catalog, asset, message", [
    ("entries:\n  box: {files: missing.obj}\n", "catalog:shapes/box",
     "shapes.yaml: entry 'box': asset 'missing.obj' matches no file"),
    ("entries:\n  box:\n    files: x.obj\n    units: feet\n", "catalog:shapes/box",
     "shapes.yaml:4: entries.box.units: Input should be 'm', 'cm', 'mm' or 'in'"),
    ("entries:\n  box:\n    file: x.obj\n", "catalog:shapes/box",
     "shapes.yaml:3: entries.box.file: unknown key 'file'; did you mean 'files'?"),
    ("entries:\n  box: {files: x.obj, units: cm, size_m: 1}\n", "catalog:shapes/box",
     "shapes.yaml:2: entries.box: give units or size_m, not both"),
    ("entries:\n  box: {files: x.obj}\n", "catalog:shapes/bx", "has no entry 'bx'; did you mean box?"),
    ("entries:\n  box: {files: x.obj}\n", "catalog:shapez/box", "unknown asset catalog 'shapez'; did you mean 'shapes'?"),
])
def test_catalog_errors_stop_the_run_with_file_and_line(tmp_path: Path, capsys, catalog: str, asset: str,
                                                        message: str) -> None:
    write_catalog(tmp_path, catalog)
    assert render(scenario_using(tmp_path, asset), tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_catalog_licence_reaches_coco_and_attribution(tmp_path: Path, catalog_dir: Path) -> None:
    write_catalog(tmp_path, CATALOG)
    out = tmp_path / "out"
    assert render(scenario_using(tmp_path, "catalog:shapes/cad_box"), out) == 0
    coco = json.loads((out / "annotations.json").read_text())
    (entry,) = [e for e in coco["licenses"] if "catalog:shapes/cad_box" in e["assets"]]
    assert (entry["name"], entry["attribution"]) == ("CC0 1.0", "simgen test fixtures")
    assert "simgen test fixtures" in (out / "ATTRIBUTION.txt").read_text()
    assert np.allclose(sorted(coco["annotations"][0]["dimensions"]), [0.3, 0.6, 0.9], atol=1e-4)
