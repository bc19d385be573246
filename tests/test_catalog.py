"""Asset catalogs: units, real sizes, up axes and .blend collections are baked in at load, errors are clear,
and a catalog's licence reaches the dataset (real Blender imports, one tiny render)."""

from __future__ import annotations

import base64
import io
import json
import re
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, render
from simgen.assets.resolve import YCB_ATTRIBUTION, YCB_LICENSE, resolve_asset
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
    assert len(backend.library_object(ref.key).data.vertices) == 16, "two cubes, and nothing of the 'Tables' collection"


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
    ("entries:\n  box: {files: x.obj}\n", "catalog:shapez/box",
     "unknown asset catalog 'shapez'; did you mean 'shapes'?"),
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


# ----------------------------------------------------------------- `simgen assets` (these build their own Blender
# scene, so they come after every test that uses the module's backend)
def assets(*argv: str) -> int:
    """``simgen assets ...`` with the CLI's error handling (message on stderr, exit status 2)."""
    import argparse

    from simgen.errors import SimgenError
    from simgen.tools.assets_cmd import register

    parser = argparse.ArgumentParser(prog="simgen")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["assets", *argv])
    try:
        return args.handler(args)
    except SimgenError as exc:
        print(f"simgen: error: {exc}", file=sys.stderr)
        return exc.exit_code


def test_assets_list_shows_builtins_catalogs_and_licences(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SIMGEN_CACHE", str(tmp_path / "cache"))
    write_catalog(tmp_path, CATALOG)
    assert assets("list", "--dir", str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "primitive:<name>" in out and "ycb:<name>" in out and "CC BY 4.0" in out
    assert "catalog:ycb/mug" in out and "catalog:ycb/can" in out
    assert re.search(r"catalog:shapes/mixed\s+2 files\s+CC BY 4.0, CC0 1.0", out), out
    assert "furniture   not fetched" in out


def test_assets_check_reports_broken_assets_and_writes_a_sheet(tmp_path: Path, capsys) -> None:
    (tmp_path / "zero.obj").write_text("v 0 0 0\nv 0 0 0\nv 0 0 0\nf 1 2 3\n")
    catalog = write_catalog(tmp_path, f"""
entries:
  good: {{files: "{MESHES}/box_1x2x3.glb"}}
  chairs: {{files: "{MESHES}/two_collections.blend#Chairs"}}
  no_units: {{files: "{MESHES}/cad_box_cm_zup.obj", up_axis: Z}}
  zero: {{files: ../zero.obj}}
  gone: {{files: gone.obj}}
""")
    sheet = tmp_path / "sheet.png"
    assert assets("check", str(catalog), "-o", str(sheet)) == 1
    out = capsys.readouterr().out
    assert re.search(r"ok +catalog:shapes/good +1 x 2 x 3 m", out), out
    assert re.search(r"ok +catalog:shapes/chairs +1 x 0.5 x 0.5 m", out), out
    assert "implausible size: longest side 300 m; wrong units? units: cm would make it 3 m" in out
    assert "zero-size mesh" in out and "asset 'gone.obj' matches no file" in out
    assert "3 of 5 assets broken." in out
    import cv2

    image = cv2.imread(str(sheet))
    assert image is not None and image.shape[0] > 128 and image.shape[1] > 5 * 128


def test_invalid_catalog_is_exit_2_for_check(tmp_path: Path, capsys) -> None:
    catalog = write_catalog(tmp_path, "entries:\n  box: {files: x.obj, up_axis: X}\n")
    assert assets("check", str(catalog), "--no-sheet") == 2
    assert "shapes.yaml:2: entries.box.up_axis: Input should be 'Z' or 'Y'" in capsys.readouterr().err


# ----------------------------------------------------------------- packs, built from small stand-in downloads
def _targz(files: dict[str, bytes], path: Path | None = None) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    if path is not None:
        path.write_bytes(data.getvalue())
    return data.getvalue()


def _deb(path: Path, files: dict[str, bytes]) -> Path:
    """A minimal .deb (an ar archive of control and data tarballs), as `apt-get download` leaves it."""
    control = _targz({"./control": b"Package: sweethome3d-furniture\nVersion: 1.8-1\nArchitecture: all\n"})
    data = _targz({f"./{name}": content for name, content in files.items()})
    members = [(b"debian-binary", b"2.0\n"), (b"control.tar.gz", control), (b"data.tar.gz", data)]
    blob = b"!<arch>\n"
    for name, content in members:
        blob += (name + b"/").ljust(16) + b"0".ljust(12) + b"0".ljust(6) * 2 + b"100644".ljust(8)
        blob += str(len(content)).encode().ljust(10) + b"`\n" + content + (b"\n" if len(content) % 2 else b"")
    path.write_bytes(blob)
    return path


def _sh3f() -> bytes:
    """A Sweet Home 3D library with a chair (whose MTL names a texture it lacks) and a door."""
    properties = "\n".join([
        "license=Public domain", "id#1=t#chair", "name#1=Oak chair", "category#1=Living room",
        "model#1=/lib/chair1/chair1.obj", "width#1=45", "depth#1=50", "height#1=90", "doorOrWindow#1=false",
        "creator#1=Jane", "id#2=t#door", "name#2=Door", "category#2=Doors and windows",
        "model#2=/lib/door/door.obj", "width#2=90", "depth#2=10", "height#2=200", "doorOrWindow#2=true"])
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("PluginFurnitureCatalog.properties", properties)
        z.writestr("lib/chair1/chair1.obj", (MESHES / "box_1x2x3.obj").read_text())
        z.writestr("lib/chair1/chair1.mtl", "newmtl wood\nKd 0.5 0.3 0.1\nmap_Kd wood.jpg\nmap_refl gone.jpg\n")
        z.writestr("lib/chair1/wood.jpg", b"not really a jpeg")
        z.writestr("lib/door/door.obj", "v 0 0 0\n")
    return archive.getvalue()


@pytest.mark.parametrize("dpkg", [True, False], ids=["dpkg-deb", "no-dpkg-deb"])
def test_furniture_pack_builds_a_licensed_sized_catalog(tmp_path: Path, monkeypatch, capsys, dpkg: bool) -> None:
    monkeypatch.setenv("SIMGEN_CACHE", str(tmp_path / "cache"))
    if not dpkg:
        monkeypatch.setenv("PATH", str(tmp_path))  # the .deb is then read in Python
    deb = _deb(tmp_path / "sweethome3d-furniture_1.8-1_all.deb",
               {"usr/share/sweethome3d/furniture/BlendSwap-CC-0.sh3f": _sh3f()})
    assert assets("fetch", "furniture", "--from", str(deb)) == 0
    assert "1 model in 1 class: use catalog:furniture/<class> (chair)" in capsys.readouterr().out
    (chair,) = resolve_asset("catalog:furniture/chair", tmp_path)
    assert (chair.key, chair.size_m, chair.up_axis, chair.material) == ("catalog:furniture/chair", 0.9, "Y", "keep")
    assert chair.license == "CC0 1.0" and '"Oak chair" by Jane' in chair.attribution
    assert (chair.path.parent / "chair1.mtl").read_text() == "newmtl wood\nKd 0.5 0.3 0.1\nmap_Kd wood.jpg\n"
    assert not (tmp_path / "cache" / "packs" / "furniture" / "download").exists()


def test_hdri_pack_decodes_exr_modules(tmp_path: Path, capsys) -> None:
    exr = b"v/1\x01" + bytes(range(40))
    tgz = tmp_path / "pmndrs-assets-1.7.0.tgz"
    _targz({"package/package.json": b'{"version": "1.7.0"}',
            "package/hdri/venice.exr.js": b"export default 'data:application/exr;base64," + base64.b64encode(exr)
                                          + b"'\n"}, tgz)
    assert assets("fetch", "hdri-extra", "--cache", str(tmp_path / "c"), "--from", str(tgz)) == 0
    assert (tmp_path / "c" / "packs" / "hdri-extra" / "hdri" / "venice.exr").read_bytes() == exr
    assert "SIMGEN_CACHE=" in capsys.readouterr().out


def test_fetch_without_its_client_says_what_to_run_elsewhere(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get, no npm: nothing is downloaded
    assert assets("fetch", "furniture", "--cache", str(tmp_path / "c")) == 2
    err = capsys.readouterr().err
    assert "`apt-get` is not available here" in err and "apt-get download sweethome3d-furniture" in err
    assert "simgen assets fetch furniture --from FILE" in err
    assert not (tmp_path / "c" / "packs" / "furniture").exists()


def _wheel(path: Path) -> Path:
    """A pybullet wheel stand-in: one random_urdfs shape, a file that must stay behind, and the licence."""
    urdf = ('<robot name="blob000"><link name="l"><visual><geometry><mesh filename="000.obj" scale="0.1 0.1 0.1"/>'
            '</geometry></visual></link></robot>')
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("pybullet_data/random_urdfs/000/000.urdf", urdf)
        z.writestr("pybullet_data/random_urdfs/000/000.obj", (MESHES / "box_1x2x3.obj").read_text())
        z.writestr("pybullet_data/random_urdfs/000/000.mtl", "newmtl None\nKd 0.8 0.8 0.8\n")
        z.writestr("pybullet_data/plane.urdf", "<robot/>")
        z.writestr("pybullet-3.2.7.dist-info/LICENSE.txt", "The files in this repository are licensed under the "
                                                           "zlib license, except ...\n")
    return path


def test_distractors_pack_unpacks_only_random_urdfs_from_the_wheel(tmp_path: Path, monkeypatch, capsys,
                                                                   backend) -> None:
    monkeypatch.setenv("SIMGEN_CACHE", str(tmp_path / "cache"))
    wheel = _wheel(tmp_path / "pybullet-3.2.7-cp311-cp311-manylinux_2_17_x86_64.whl")
    assert assets("fetch", "distractors", "--from", str(wheel)) == 0
    assert "1 model in 1 class: use catalog:distractors/<class> (shapes); licences: zlib" in capsys.readouterr().out
    pack = tmp_path / "cache" / "packs" / "distractors"
    assert not (pack / "pybullet_data" / "plane.urdf").exists()
    assert "zlib license" in (pack / "LICENSE").read_text()
    (shape,) = resolve_asset("catalog:distractors/shapes", tmp_path)
    assert (shape.key, shape.license, shape.size_m) == ("catalog:distractors/shapes", "zlib", 1.0)
    assert "pybullet 3.2.7" in shape.attribution
    bounds = backend.load_assets([shape])[shape.key]
    assert np.allclose(bounds.size, (1 / 3, 1.0, 2 / 3), atol=1e-4), "raw URDF axes, scaled to 1 m across"


def test_distractors_pack_hint_names_plain_pip_download() -> None:
    from simgen.assets.packs import PACKS, _elsewhere_hint

    hint = _elsewhere_hint(PACKS["distractors"])
    assert "run `pip download --no-deps --only-binary=:all: pybullet==3.2.7`" in hint
    assert "simgen assets fetch distractors --from FILE" in hint
