"""Asset meshes as arrays, for export formats that ship object models (BOP's models/*.ply)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from simgen.assets.resolve import AssetRef
from simgen.config.preset import RenderPreset
from simgen.run.redirect import redirect_output


def asset_meshes(refs: list[AssetRef]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each asset imported as a render imports it: (vertices in metres, triangles, convex-hull vertices)."""
    from simgen.blender.backend import BlenderBackend

    with tempfile.TemporaryDirectory(prefix="simgen-models-") as scratch:
        with redirect_output(Path(scratch) / "blender.log"):
            backend = BlenderBackend(RenderPreset(resolution=(16, 16), samples=1), "cpu")
            try:
                backend.load_assets(refs)
                return {ref.key: (*backend.mesh_triangles(ref.key), backend.asset_vertices[ref.key]) for ref in refs}
            finally:
                backend.close()
