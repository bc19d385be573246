"""Asset packs: real categories out of the box, fetched once into the cache through ordinary package clients.

A pack is downloaded with the client a user already trusts (apt, npm, pip), never at render time and
never in tests, then turned into files simgen reads directly: a ``catalog.yaml`` for meshes, plain
.exr files for HDRIs, and a ``pack.json`` record of what came from where under which licence.
Where a client cannot run (no apt, no network) the error names the command to run elsewhere and
how to hand its download over with ``--from``.
"""

from __future__ import annotations

import base64
import glob
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from simgen.errors import AssetError

PACK_RECORD = "pack.json"
PACK_CATALOG = "catalog.yaml"  # a pack's catalog is named after the pack's folder, not the file


def cache_dir() -> Path:
    """Where fetched packs live: $SIMGEN_CACHE, else ~/.cache/simgen."""
    return Path(os.environ.get("SIMGEN_CACHE") or Path.home() / ".cache" / "simgen").expanduser()


def packs_dir(cache: Path | None = None) -> Path:
    """Where fetched packs live: in the given cache folder, else in simgen's cache."""
    return (cache or cache_dir()) / "packs"


@dataclass(frozen=True)
class Pack:
    """A fetchable pack: where it comes from and how its download becomes simgen files."""

    name: str
    summary: str
    download_command: tuple[str, ...]  # run inside the download folder
    build: Callable[[Path, Path], dict]  # (downloaded archive, pack folder) -> record for pack.json


# ----------------------------------------------------------------- furniture (Debian's sweethome3d-furniture)
FURNITURE_DEB = "sweethome3d-furniture"
FURNITURE_ROOT = "usr/share/sweethome3d/furniture"
# Licences per Sweet Home 3D library, from the package's debian/copyright.
FURNITURE_LICENSES = {"BlendSwap-CC-0": "CC0 1.0", "BlendSwap-CC-BY": "CC BY 3.0", "Scopia": "CC BY 3.0",
                      "KatorLegaz": "CC BY 3.0 US", "Reallusion": "CC BY 3.0 US"}


@dataclass(frozen=True)
class ClassRule:
    """Which catalog items become one class: a name pattern, exceptions, and optionally their categories."""

    include: str
    exclude: str | None = None
    categories: tuple[str, ...] = ()

    def matches(self, name: str, category: str) -> bool:
        name = name.lower()
        return (re.search(self.include, name) is not None
                and (self.exclude is None or re.search(self.exclude, name) is None)
                and (not self.categories or category in self.categories))


# Curated so that each class holds things a detector should call by that name (COCO names where they exist).
FURNITURE_CLASSES = {
    "chair": ClassRule(r"chair\b", r"wheel|high chair|class seat"),
    "stool": ClassRule(r"\bstool\b"),
    "sofa": ClassRule(r"sofa|couch", r"opened"),
    "bed": ClassRule(r"\bbed\b|\bcrib\b|futon$", r"sofa|bedside|mattress|sleeping"),
    "table": ClassRule(r"\btable\b", r"tennis|football|pool|changing|bedside|dressing|fan|tray|lamp|desk table"),
    "desk": ClassRule(r"\bdesk\b|desk table", r"lamp"),
    "cabinet": ClassRule(r"cabinet|cupboard|wardrobe|dresser|chest$|drawers", r"television|sink"),
    "bookcase": ClassRule(r"bookcase|shelves", r"cabinet"),
    "lamp": ClassRule(r"lamp\b", r"street|wall|ceiling|pendant|hanging|camping|post|artwork|park|chandelier|outdoor"),
    "potted_plant": ClassRule(r"plant|ficus|yucca|bonsai|cactus|orchid|tulip|spathiphyllum|lily|flowers$|bamboo",
                              r"box", ("Living room", "Kitchen", "Bedroom", "Office", "Miscellaneous")),
    "tree": ClassRule(r"tree|pine|palm|maple|acacia|poplar|cypress|beech|blossom", r"christmas",
                      ("Exterior",)),
    "tv": ClassRule(r"^tv\b|wall flat tv", r"stand|remote|cabinet"),
    "laptop": ClassRule(r"laptop|ibook"),
    "refrigerator": ClassRule(r"fridge|refrigerator"),
    "microwave": ClassRule(r"microwave"),
    "oven": ClassRule(r"oven|cooker$|stove", r"induction"),
    "sink": ClassRule(r"\bsink$|washbasin"),
    "toilet": ClassRule(r"^toilets?( unit)?$|^wc$"),
    "bottle": ClassRule(r"bottle", r"spray"),
    "cup": ClassRule(r"\bcup\b|\bmug\b|glass$", r"cake|table"),
    "bowl": ClassRule(r"\bbowl\b"),
    "vase": ClassRule(r"\bvase$"),
    "clock": ClassRule(r"clock"),
    "book": ClassRule(r"^book$"),
    "teddy_bear": ClassRule(r"teddy"),
    "umbrella": ClassRule(r"umbrella"),
    "suitcase": ClassRule(r"suitcase"),
    "backpack": ClassRule(r"backpack"),
    "bench": ClassRule(r"\bbench\b|\bbank\b", r"abdominal|piano|work"),
    "car": ClassRule(r"sedan|chevrolet|ford|peugeot|renault|seat leon|smart car|suv|beetle", None, ("Vehicles",)),
    "bus": ClassRule(r"\bbus\b", None, ("Vehicles",)),
    "truck": ClassRule(r"truck|\bvan\b", None, ("Vehicles",)),
    "motorcycle": ClassRule(r"motorbike|yamaha"),
    "bicycle": ClassRule(r"bicycle|^bike$", None, ("Vehicles",)),
    "person": ClassRule(r"\bmale|female|\bboy\b|\bgirl\b", r"mannequin", ("Characters",)),
    "dog": ClassRule(r"\bdog\b|bulldog", None, ("Characters",)),
    "cat": ClassRule(r"\bcat\b", None, ("Characters",)),
    "horse": ClassRule(r"^horse$", None, ("Characters",)),
}


def parse_properties(text: str) -> dict[str, str]:
    """Java .properties (as Sweet Home 3D writes them): key=value lines with \\uXXXX escapes."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), value.strip())
    return values


def furniture_items(properties: dict[str, str]) -> list[dict[str, str]]:
    """One dict per catalog piece (``name#3=Bed`` -> item 3's ``name``), in catalog order."""
    items: dict[int, dict[str, str]] = {}
    for key, value in properties.items():
        field, sep, index = key.partition("#")
        if sep and index.isdigit():
            items.setdefault(int(index), {})[field] = value
    return [items[i] for i in sorted(items)]


def furniture_class(item: dict[str, str]) -> str | None:
    """The curated class of a piece, or None for pieces left out (doors, windows, pieces needing a rotation)."""
    if item.get("doorOrWindow") == "true" or item.get("modelRotation") or not item.get("model", "").endswith(".obj"):
        return None
    return next((cls for cls, rule in FURNITURE_CLASSES.items()
                 if rule.matches(item.get("name", ""), item.get("category", ""))), None)


def _size_m(item: dict[str, str]) -> float:
    """Longest side in metres; Sweet Home 3D gives width, depth and height in centimetres."""
    return round(max(float(item[k]) for k in ("width", "depth", "height")) / 100.0, 4)


def _extract_model(archive: zipfile.ZipFile, model: str, dest: Path) -> Path:
    """Unpack the folder holding one model (OBJ or URDF, MTL, textures) and return the model's path."""
    model = model.lstrip("/")
    folder = model.rsplit("/", 1)[0] + "/"
    for member in archive.namelist():
        if member.startswith(folder) and not member.endswith("/") and ".." not in member:
            target = dest / member
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(member))
    for mtl in (dest / folder).glob("*.mtl"):
        _drop_missing_maps(mtl)
    return dest / model


def _drop_missing_maps(mtl: Path) -> None:
    """Remove texture lines naming files the library does not ship (Sweet Home 3D ignores them; Blender
    would render them magenta)."""
    lines = mtl.read_text(encoding="latin-1").splitlines(keepends=True)
    kept = [line for line in lines if not (re.match(r"\s*(map_\w+|bump|disp|decal|refl)\s", line)
                                           and not (mtl.parent / line.split()[-1]).is_file())]
    if len(kept) != len(lines):
        mtl.write_text("".join(kept), encoding="latin-1")


def _library_files(library: Path, dest: Path, version: str) -> dict[str, list[dict]]:
    """The catalog file items, by class, of one Sweet Home 3D library (.sh3f), unpacking what they need."""
    license = FURNITURE_LICENSES.get(library.stem, "CC BY 3.0")
    by_class: dict[str, list[dict]] = {}
    with zipfile.ZipFile(library) as archive:
        properties = parse_properties(archive.read("PluginFurnitureCatalog.properties").decode("latin-1"))
        for item in furniture_items(properties):
            cls = furniture_class(item)
            if cls is None:
                continue
            obj = _extract_model(archive, item["model"], dest)
            credit = (f"\"{item.get('name', obj.stem)}\" by {item.get('creator', 'unknown')} ({license}), Sweet Home "
                      f"3D library {library.stem} (sweethome3d.com), Debian package {FURNITURE_DEB} {version}")
            by_class.setdefault(cls, []).append({
                "path": glob.escape(obj.relative_to(dest.parent).as_posix()), "size_m": _size_m(item),
                "license": license, "attribution": credit})
    return by_class


def _deb_version(deb: Path) -> str:
    match = re.match(rf"{FURNITURE_DEB}_([^_]+)_", deb.name)
    return match.group(1) if match else "unknown version"


def build_furniture(deb: Path, pack: Path) -> dict:
    """Unpack the .deb's Sweet Home 3D libraries and write a catalog of the curated classes."""
    import yaml

    version = _deb_version(deb)
    with tempfile.TemporaryDirectory(dir=pack) as tmp:
        extract_deb(deb, Path(tmp))
        libraries = sorted((Path(tmp) / FURNITURE_ROOT).glob("*.sh3f"))
        if not libraries:
            raise AssetError(f"{deb} holds no Sweet Home 3D libraries under /{FURNITURE_ROOT}; is it {FURNITURE_DEB}?")
        by_class: dict[str, list[dict]] = {}
        for library in libraries:
            for cls, files in _library_files(library, pack / "models", version).items():
                by_class.setdefault(cls, []).extend(files)
    catalog = {"name": "Sweet Home 3D furniture", "source": f"Debian package {FURNITURE_DEB} {version}",
               "up_axis": "Y", "material": "keep",
               "entries": {cls: {"files": by_class[cls]} for cls in FURNITURE_CLASSES if cls in by_class}}
    header = (f"# Generated by `simgen assets fetch furniture` from {deb.name}: do not edit, refetch instead.\n"
              f"# Sizes are the real sizes Sweet Home 3D gives each model; licences and credits are per file.\n")
    (pack / PACK_CATALOG).write_text(header + yaml.safe_dump(catalog, sort_keys=False, allow_unicode=True, width=120))
    licenses = sorted({f["license"] for files in by_class.values() for f in files})
    return {"classes": {cls: len(by_class[cls]) for cls in catalog["entries"]}, "license": ", ".join(licenses),
            "files": sum(len(files) for files in by_class.values()), "version": version}


def extract_deb(deb: Path, dest: Path) -> None:
    """Unpack a .deb's files: dpkg-deb where there is one, else read the ar archive directly."""
    if shutil.which("dpkg-deb"):
        _run(("dpkg-deb", "-x", str(deb), str(dest)), dest, f"is {deb} a complete .deb file?")
    else:
        _extract_deb_data(deb, dest)


def _extract_deb_data(deb: Path, dest: Path) -> None:
    """A .deb is an ar archive; its ``data.tar.*`` member holds the files (for hosts without dpkg-deb)."""
    data = deb.read_bytes()
    if not data.startswith(b"!<arch>\n"):
        raise AssetError(f"{deb} is not a .deb archive")
    offset = 8
    while offset + 60 <= len(data):
        name, size = data[offset:offset + 16].decode().strip().rstrip("/"), int(data[offset + 48:offset + 58])
        if name.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(data[offset + 60:offset + 60 + size])) as tar:
                tar.extractall(dest, filter="data")
            return
        offset += 60 + size + (size % 2)
    raise AssetError(f"{deb} has no data.tar member")


# ----------------------------------------------------------------- hdri-extra (npm @pmndrs/assets)
HDRI_NPM = "@pmndrs/assets"
EXR_MAGIC = b"v/1\x01"


def build_hdri_extra(tgz: Path, pack: Path) -> dict:
    """Decode the base64 ``hdri/*.exr.js`` modules of the npm tarball into plain .exr files."""
    out = pack / "hdri"
    out.mkdir(parents=True, exist_ok=True)
    names = []
    with tarfile.open(tgz) as tar:
        for member in tar.getmembers():
            match = re.fullmatch(r"package/hdri/([\w-]+)\.exr\.js", member.name)
            if match and member.isfile():
                (out / f"{match.group(1)}.exr").write_bytes(_decode_exr_module(tar.extractfile(member).read()))
                names.append(match.group(1))
        version = json.loads(tar.extractfile("package/package.json").read()).get("version", "?")
    if not names:
        raise AssetError(f"{tgz} holds no hdri/*.exr.js; is it the npm package {HDRI_NPM}?")
    (pack / "LICENSE").write_text("CC0 1.0: HDRIs from Poly Haven (polyhaven.com), resized to 512x256 by "
                                  f"pmndrs/assets (npm {HDRI_NPM} {version}).\n")
    return {"hdris": sorted(names), "license": "CC0 1.0", "version": version, "folder": str(out)}


def _decode_exr_module(source: bytes) -> bytes:
    """``export default 'data:application/exr;base64,...'`` -> the EXR bytes."""
    match = re.search(rb"base64,([A-Za-z0-9+/=]+)", source)
    data = base64.b64decode(match.group(1)) if match else b""
    if not data.startswith(EXR_MAGIC):
        raise AssetError("an hdri/*.exr.js module of the npm package does not hold base64 EXR data")
    return data


# ----------------------------------------------------------------- distractors (pybullet's random_urdfs, from its wheel)
PYBULLET = "pybullet==3.2.7"
PYBULLET_SHAPES = "pybullet_data/random_urdfs/"


def build_distractors(wheel: Path, pack: Path) -> dict:
    """Unpack only ``random_urdfs/`` (random convex blobs: URDF, OBJ, MTL) from the pybullet wheel, never installing
    it, and write a catalog with one entry, ``shapes``."""
    import yaml

    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        urdfs = sorted(_extract_model(archive, name, pack) for name in names
                       if name.startswith(PYBULLET_SHAPES) and name.endswith(".urdf"))
        license_file = next((n for n in names if re.fullmatch(r"pybullet-[^/]+\.dist-info/LICENSE(\.txt)?", n)), None)
        notice = archive.read(license_file).decode("utf-8", "replace") if license_file else ""
    if not urdfs:
        raise AssetError(f"{wheel} holds no {PYBULLET_SHAPES}*.urdf; is it a pybullet wheel?")
    match = re.match(r"pybullet-([^-]+)-", wheel.name)
    version = match.group(1) if match else "unknown version"
    # The shapes ship no licence file of their own; the wheel's licence covers them (zlib, per its METADATA).
    license = "zlib" if "zlib license" in notice.lower() else "unspecified (see LICENSE)"
    (pack / "LICENSE").write_text(f"{license}: pybullet {version} {PYBULLET_SHAPES} (github.com/bulletphysics/"
                                  f"bullet3); licence text from the wheel's {license_file}:\n\n{notice}")
    catalog = {"name": "pybullet random shapes", "source": f"pybullet {version} wheel ({wheel.name})",
               "license": license, "attribution": f"random_urdfs from pybullet {version} (Bullet Physics, "
                                                  f"E. Coumans et al., github.com/bulletphysics/bullet3), zlib license",
               "size_m": 1.0,
               "entries": {"shapes": {"files": [glob.escape(u.relative_to(pack).as_posix()) for u in urdfs]}}}
    header = (f"# Generated by `simgen assets fetch distractors` from {wheel.name}: do not edit, refetch instead.\n"
              f"# size_m 1.0: each shape is 1 m across, like primitive: shapes, so distractors.scale means the same.\n")
    (pack / PACK_CATALOG).write_text(header + yaml.safe_dump(catalog, sort_keys=False, width=120))
    return {"classes": {"shapes": len(urdfs)}, "license": license, "files": len(urdfs), "version": version}


# ----------------------------------------------------------------- fetching
PACKS = {
    "furniture": Pack("furniture", "Sweet Home 3D furniture: curated classes (chair, table, sofa, bed, lamp, car, "
                      "person, ...) with real sizes; CC0 and CC BY 3.0, credited per model",
                      ("apt-get", "download", FURNITURE_DEB), build_furniture),
    "hdri-extra": Pack("hdri-extra", "18 CC0 HDRIs from Poly Haven via the npm package @pmndrs/assets",
                       ("npm", "pack", HDRI_NPM, "--pack-destination", "."), build_hdri_extra),
    "distractors": Pack("distractors", "1000 random convex shapes (URDF + OBJ) from pybullet's random_urdfs, "
                        "via `pip download` of its wheel (not installed); zlib",
                        (sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", PYBULLET,
                         "-d", "."), build_distractors),
}


def pack_dir(name: str, cache: Path | None = None) -> Path:
    return packs_dir(cache) / name


def fetched_packs(cache: Path | None = None) -> dict[str, dict]:
    """Record of every fetched pack, by name."""
    root = packs_dir(cache)
    if not root.is_dir():
        return {}
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(root.glob(f"*/{PACK_RECORD}"))}


def fetch_pack(name: str, cache: Path | None = None, archive: Path | None = None, force: bool = False) -> dict:
    """Download (or take ``archive``) and build pack ``name``; returns its record. Does nothing if already there."""
    if name not in PACKS:
        raise AssetError(f"unknown pack '{name}'; available: {', '.join(PACKS)}")
    pack, dest = PACKS[name], pack_dir(name, cache)
    if archive is not None and not archive.is_file():
        raise AssetError(f"--from {archive}: no such file")
    if (dest / PACK_RECORD).is_file() and not force:
        return {**json.loads((dest / PACK_RECORD).read_text()), "already_fetched": True}
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    try:
        source = archive.resolve() if archive else download(pack, dest / "download")
        try:
            built = pack.build(source, dest)
        except (tarfile.TarError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            detail = str(exc).splitlines()[0].rstrip(":") if str(exc) else type(exc).__name__
            raise AssetError(f"cannot build pack '{name}' from {source}: {detail}; is it the right download?") from None
        record = {"name": name, "source": source.name,
                  "fetched": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **built}
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)  # a half-built pack must not look fetched
        raise
    shutil.rmtree(dest / "download", ignore_errors=True)
    (dest / PACK_RECORD).write_text(json.dumps(record, indent=2))
    return record


def download(pack: Pack, folder: Path) -> Path:
    """Run the pack's package client in ``folder``; returns the one file it downloaded."""
    folder.mkdir(parents=True, exist_ok=True)
    _run(pack.download_command, folder, _elsewhere_hint(pack))
    files = [p for p in folder.iterdir() if p.is_file()]
    if len(files) != 1:
        raise AssetError(f"`{' '.join(pack.download_command)}` left {len(files)} file(s) in {folder}, expected one")
    return files[0]


def _elsewhere_hint(pack: Pack) -> str:
    command = (" ".join(pack.download_command).replace(" --pack-destination .", "").replace(" -d .", "")
               .replace(f"{sys.executable} -m pip", "pip"))
    return (f"on a machine with network access{' and apt (Debian/Ubuntu)' if command.startswith('apt') else ''} "
            f"run `{command}`, copy the downloaded file here and run "
            f"`simgen assets fetch {pack.name} --from FILE`")


def _run(command: tuple[str, ...], cwd: Path, hint: str) -> None:
    """Run a package client; any failure becomes one message saying what to do instead."""
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise AssetError(f"`{command[0]}` is not available here; {hint}") from None
    if result.returncode != 0:
        detail = _client_error(result.stderr + result.stdout) or f"exit status {result.returncode}"
        update = " (if the package is unknown, run `apt-get update` first)" if command[0] == "apt-get" else ""
        raise AssetError(f"`{' '.join(command)}` failed: {detail}{update}; {hint}")


def _client_error(output: str) -> str:
    """The line of a client's output that says what went wrong (apt's 'E:', npm's error, not its stack)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    telling = [line for line in lines if re.match(r"(E:|ERROR:|npm error (?!code |syscall |errno |A complete log|at ))", line)]
    return (telling or lines or [""])[0]
