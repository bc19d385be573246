"""Asset geometry kept by content hash, so frames can be sampled without Blender.

Sampling needs only each asset's convex-hull vertices (bounds, footprints, screen extents), and
those come from an import in Blender. The first import of an asset stores them here, under a
key made of everything that shapes them: the bytes of every file the import reads (a URDF's
meshes, a glTF's buffers), the import settings (member, scale, up axis, size), the importer's
version and this module's format version. Any later process, with or without bpy, reads them
back bit for bit, so a frame sampled from the cache equals the frame a render samples.

The folder is ``~/.cache/simgen/geometry`` (see ``cache_dir``); deleting it is always safe. The
key holds no Blender version, so a process without bpy finds what Blender stored: raise ``FORMAT``
when an import change alters the vertices.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from simgen.assets.resolve import AssetRef
from simgen.errors import AssetError
from simgen.sampling.frame_spec import AssetBounds

FORMAT = 1  # raise when the import, the normalisation or the hull changes what an asset's vertices are

_digests: dict[tuple[Path, int, int], str] = {}


def cache_dir() -> Path:
    """``$SIMGEN_GEOMETRY_CACHE``, else ``geometry/`` in simgen's cache (``$SIMGEN_CACHE``, ~/.cache/simgen),
    beside the fetched asset packs."""
    from simgen.assets.packs import cache_dir as simgen_cache

    own = os.environ.get("SIMGEN_GEOMETRY_CACHE")
    return Path(own).expanduser() if own else simgen_cache() / "geometry"


def _file_digest(path: Path) -> str:
    stat = path.stat()
    memo = (path.resolve(), stat.st_mtime_ns, stat.st_size)
    if memo not in _digests:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _digests[memo] = digest.hexdigest()
    return _digests[memo]


def _inputs(path: Path) -> list[Path]:
    """The files an import of ``path`` reads geometry from: itself, and what it points to."""
    suffix = path.suffix.lower()
    if suffix == ".urdf":
        from simgen.assets.urdf import urdf_visuals

        meshes = [v.source for v in urdf_visuals(path) if v.kind == "mesh"]  # primitives are in its text
        return [path, *(f for mesh in meshes for f in _inputs(mesh))]
    if suffix == ".gltf":
        try:
            buffers = json.loads(path.read_text()).get("buffers", [])
        except (OSError, ValueError, AttributeError):
            return [path]
        uris = [b.get("uri", "") for b in buffers if isinstance(b, dict)]
        return [path, *(path.parent / u for u in uris if u and not u.startswith("data:"))]
    return [path]


def geometry_key(ref: AssetRef) -> str | None:
    """The asset's content hash, or None when a file it needs is missing (it is then never cached)."""
    files: list[str] = []
    if ref.kind != "primitive":
        if ref.path is None:
            return None
        try:
            files = [_file_digest(p) for p in _inputs(ref.path)]
        except (OSError, AssetError):
            return None
    identity = {"format": FORMAT, "kind": ref.kind,
                "primitive": ref.primitive if ref.kind == "primitive" else None,
                "suffix": ref.path.suffix.lower() if ref.path else None, "files": files, "member": ref.member,
                "scale": ref.scale, "up_axis": ref.up_axis, "size_m": ref.size_m}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _path(key: str) -> Path:
    return cache_dir() / key[:2] / f"{key}.npy"


def load(ref: AssetRef) -> np.ndarray | None:
    key = geometry_key(ref)
    if key is None:
        return None
    try:
        vertices = np.load(_path(key), allow_pickle=False)
    except Exception:  # noqa: BLE001 - missing, truncated or foreign: a miss, and the next import rewrites it
        return None
    return vertices if vertices.ndim == 2 and vertices.shape[1] == 3 and len(vertices) else None


def store(ref: AssetRef, vertices: np.ndarray) -> None:
    """Keep an imported asset's hull; a cache that cannot be written only costs a later import."""
    key = geometry_key(ref)
    if key is None:
        return
    path = _path(key)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(vertices, dtype=np.float64), allow_pickle=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())  # a crash leaves the old file or the whole new one, never a stub
        os.replace(temporary, path)
    except OSError:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:
            pass


def bounds_of(vertices: np.ndarray) -> AssetBounds:
    """An asset's axis-aligned bounds from its hull, as the backend computes them."""
    return AssetBounds(tuple(vertices.min(0).tolist()), tuple(vertices.max(0).tolist()))  # type: ignore[arg-type]


class Geometry:
    """Every asset's hull vertices and bounds, from memory, the cache, or ``importer`` (Blender) in that order.

    ``importer(ref)`` returns the vertices of a fresh import; without one, an asset missing from
    the cache raises ``GeometryMissing``. ``hulls`` and ``bounds`` are the two mappings the
    sampler reads.
    """

    def __init__(self, refs: list[AssetRef], importer: Callable[[AssetRef], np.ndarray] | None = None):
        self._refs = {ref.key: ref for ref in refs}
        self._importer = importer
        self._vertices: dict[str, np.ndarray] = {}
        self.hulls: Mapping[str, np.ndarray] = _View(self, lambda v: v)
        self.bounds: Mapping[str, AssetBounds] = _View(self, bounds_of)

    def add(self, ref: AssetRef, vertices: np.ndarray) -> None:
        self._refs.setdefault(ref.key, ref)
        self._vertices[ref.key] = vertices
        store(ref, vertices)

    def vertices(self, key: str) -> np.ndarray:
        if key not in self._vertices:
            ref = self._refs.get(key)
            if ref is None:
                raise KeyError(key)
            cached = load(ref)
            if cached is None:
                if self._importer is None:
                    raise GeometryMissing(key)
                cached = self._importer(ref)
                store(ref, cached)
            self._vertices[key] = cached
        return self._vertices[key]

    def keys(self) -> list[str]:
        return list(self._refs)


class GeometryMissing(KeyError):
    """An asset's geometry is not cached and no importer was given."""


class _View(Mapping):
    def __init__(self, geometry: Geometry, convert: Callable):
        self._geometry, self._convert = geometry, convert

    def __getitem__(self, key: str):
        return self._convert(self._geometry.vertices(key))

    def __iter__(self) -> Iterator[str]:
        return iter(self._geometry.keys())

    def __len__(self) -> int:
        return len(self._geometry.keys())
