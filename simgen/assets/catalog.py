"""Asset catalogs: YAML files that turn a user's (or a pack's) mesh files into named, licensed entries.

A catalog says once what a pile of CAD or scan files cannot say themselves: their units or real
size, which axis is up, how to shade them and under which licence they may be used. Scenarios
refer to an entry as ``catalog:<catalog>/<entry>``; catalogs are found by name in the scenario's
``assets/`` folder, the project's ``assets/`` folder and the pack cache, so a pack fetched once
serves every scenario. This module only reads and finds catalogs; turning entries into
``AssetRef`` objects is :mod:`simgen.assets.resolve`'s job.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, model_validator
from pydantic_core import PydanticCustomError

from simgen.assets.packs import PACK_CATALOG, packs_dir
from simgen.bundle import bundled_dir
from simgen.config.loader import validate_file
from simgen.config.scenario import KeypointSpec
from simgen.config.strict import StrictModel
from simgen.errors import AssetError

UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254}
CATALOG_SUFFIXES = (".yaml", ".yml")


class AssetSettings(StrictModel):
    """What a catalog, an entry or a single file may declare; the most specific level wins."""

    units: Literal["m", "cm", "mm", "in"] | None = Field(
        None, description="length unit of the file's coordinates (default m)")
    size_m: float | None = Field(
        None, gt=0, description="instead of units: scale each mesh so its longest side is this many metres")
    up_axis: Literal["Z", "Y"] | None = Field(
        None, description="up axis of the file's coordinates; default: the format's convention (OBJ Y, PLY/STL/"
                          ".blend Z). glTF, FBX and USD declare their own axes and ignore this")
    material: Literal["sampled", "keep"] | None = Field(
        None, description="sampled: simgen colours the asset; keep: its own materials and textures")
    license: str | None = Field(None, description="e.g. 'CC0 1.0', 'CC BY 4.0'; recorded in every dataset using it")
    attribution: str | None = Field(None, description="credit line the licence asks for")

    @model_validator(mode="after")
    def _units_or_size(self) -> "AssetSettings":
        if self.units is not None and self.size_m is not None:
            raise PydanticCustomError("units_or_size", "give units or size_m, not both", {})
        return self


class FileSpec(AssetSettings):
    """One file (or glob) with settings of its own, e.g. a real size per model."""

    path: str = Field(min_length=1, description="path or glob relative to the catalog, or ycb:/primitive: name; "
                                                "'scene.blend#Name' takes one collection or object")


class CatalogEntry(AssetSettings):
    """One named entry: what ``catalog:<catalog>/<entry>`` stands for."""

    files: str | list[str | FileSpec] = Field(
        description="path, glob or list of them (relative to the catalog file), ycb:/primitive: names, "
                    "or mappings {path: ..., size_m: ...} for per-file settings")
    keypoints: KeypointSpec | None = Field(
        None, description="named 3D points in the imported asset's frame (metres, Z up, after units and axes "
                          "are applied), projected into COCO keypoints for every class using this entry")

    def file_specs(self) -> list[FileSpec]:
        """Every file item as a FileSpec, so callers handle one shape."""
        items = [self.files] if isinstance(self.files, str) else self.files
        return [FileSpec(path=item) if isinstance(item, str) else item for item in items]


class Catalog(AssetSettings):
    """A whole catalog file. Settings given here are defaults for every entry."""

    name: str | None = Field(None, description="display name; scenarios use the file's name (or the pack's)")
    source: str = Field("", description="where the assets come from (URL, package), for the record")
    entries: dict[str, CatalogEntry] = Field(min_length=1)

    _path: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _plain_entry_names(self) -> "Catalog":
        for key in self.entries:
            if not key or any(c in key for c in "/:# "):
                raise PydanticCustomError("entry_name", "entry name '{key}' must not be empty or contain / : # "
                                          "or spaces (it is used as catalog:<catalog>/<entry>)", {"key": key})
        return self

    @property
    def path(self) -> Path:
        assert self._path is not None
        return self._path

    @property
    def id(self) -> str:
        return catalog_id(self.path)


def catalog_id(path: Path) -> str:
    """The name a scenario uses: the file's stem, or its folder's name for a ``catalog.yaml`` (as in packs)."""
    return path.parent.name if path.name == PACK_CATALOG else path.stem


def catalog_dirs(base_dir: Path) -> list[Path]:
    """Folders searched for ``<name>.yaml``, most specific first."""
    return list(dict.fromkeys([(base_dir / "assets").resolve(), bundled_dir("assets").resolve()]))


def catalog_files(base_dir: Path) -> dict[str, Path]:
    """Every catalog visible from a scenario folder, by name; a nearer catalog hides a farther one."""
    found: dict[str, Path] = {}
    candidates = [p for d in catalog_dirs(base_dir) if d.is_dir() for p in sorted(d.iterdir())
                  if p.suffix in CATALOG_SUFFIXES]
    candidates += sorted(packs_dir().glob(f"*/{PACK_CATALOG}")) if packs_dir().is_dir() else []
    for path in candidates:
        found.setdefault(catalog_id(path), path)
    return found


@lru_cache(maxsize=64)
def _load_cached(path: Path, mtime_ns: int) -> Catalog:
    catalog = validate_file(path, Catalog)
    catalog._path = path
    return catalog


def load_catalog(path: Path) -> Catalog:
    """Read and validate a catalog; errors name file, line and field. Parsed once per file version."""
    path = path.resolve()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        raise AssetError(f"{path}: no such catalog file") from None
    return _load_cached(path, mtime)


def split_reference(text: str) -> tuple[str, str]:
    """``furniture/chair`` -> (``furniture``, ``chair``); a path to a .yaml may stand for the name."""
    catalog, sep, entry = text.rpartition("/")
    if not sep or not catalog or not entry:
        raise AssetError(f"'catalog:{text}' must name a catalog and an entry: catalog:<catalog>/<entry>, "
                         f"e.g. catalog:ycb/mug")
    return catalog, entry


def find_catalog(name: str, base_dir: Path) -> Catalog:
    """A catalog by name (searched) or by path to its .yaml (relative to the scenario)."""
    if Path(name).suffix in CATALOG_SUFFIXES:
        path = Path(name).expanduser()
        return load_catalog(path if path.is_absolute() else base_dir / path)
    available = catalog_files(base_dir)
    if name not in available:
        close = difflib.get_close_matches(name, sorted(available), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        where = ", ".join(str(d) for d in [*catalog_dirs(base_dir), packs_dir() / "*" / PACK_CATALOG])
        raise AssetError(f"unknown asset catalog '{name}'{hint} (known: {', '.join(sorted(available)) or 'none'}; "
                         f"looked in {where}; packs are fetched with `simgen assets fetch NAME`)")
    return load_catalog(available[name])


def find_entry(catalog: Catalog, entry: str) -> CatalogEntry:
    if entry not in catalog.entries:
        close = difflib.get_close_matches(entry, sorted(catalog.entries), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise AssetError(f"catalog '{catalog.id}' ({catalog.path}) has no entry '{entry}'{hint} "
                         f"(see `simgen assets list`)")
    return catalog.entries[entry]


def effective(field: str, *levels: AssetSettings):
    """The most specific level's value of ``field`` (levels given most specific first), else None."""
    return next((getattr(level, field) for level in levels if getattr(level, field) is not None), None)
