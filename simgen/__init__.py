"""simgen: labeled computer-vision datasets from randomized Blender scenes.

The Python API (see ``simgen.api``): ``load_scenario``, ``render``, ``Generator``, ``Frame``.
They are imported on first use, so ``import simgen`` stays instant and never loads Blender.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Frame", "Generator", "SimgenError", "load_scenario", "render"]


def __getattr__(name: str) -> Any:
    if name in ("Frame", "Generator", "load_scenario", "render"):
        from simgen import api

        return getattr(api, name)
    if name == "SimgenError":
        from simgen.errors import SimgenError

        return SimgenError
    raise AttributeError(f"module 'simgen' has no attribute {name!r}")
