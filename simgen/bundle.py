"""The example scenarios, render presets and asset catalogs that ship inside the package.

In a checkout, ``simgen/bundled/<kind>`` are links to the project's top-level ``scenes/``,
``render_configs/`` and ``assets/``; a wheel carries copies. Either way this is the one place
that says where they are, so a non-editable install works from any folder.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

KINDS = ("scenes", "render_configs", "assets")


def bundled_dir(kind: str) -> Path:
    """The folder of bundled ``kind`` files (one of KINDS)."""
    assert kind in KINDS, kind
    return Path(str(files("simgen") / "bundled" / kind))


def bundled_scenario(name: str) -> Path | None:
    """A shipped example scenario by name ('quickstart' or 'quickstart.yaml'), or None."""
    stem = name.removesuffix(".yaml").removesuffix(".yml")
    path = bundled_dir("scenes") / f"{stem}.yaml"
    return path if "/" not in name and path.is_file() else None


def scenario_file(name: str | Path) -> Path:
    """The scenario a command line names: a file if one is there, else a bundled example of that name."""
    path = Path(name)
    if path.exists():
        return path
    return bundled_scenario(str(name)) or path


def bundled_names(kind: str) -> list[str]:
    return sorted(p.stem for p in bundled_dir(kind).glob("*.yaml"))
