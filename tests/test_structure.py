"""House rules the code must keep: Blender stays in its backend; randomness flows from explicit seeds."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "simgen"
BLENDER_IMPORT = re.compile(r"^\s*(import (bpy|bmesh|mathutils)|from (bpy|bmesh|mathutils)\b)", re.MULTILINE)
GLOBAL_RANDOM = re.compile(r"(?<![\w.])random\.(?!Random\b)\w+\(|\bnp\.random\.(?!default_rng\b|Generator\b)\w+")


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_only_the_blender_backend_imports_blender() -> None:
    offenders = [str(p.relative_to(PACKAGE)) for p in sources()
                 if BLENDER_IMPORT.search(p.read_text()) and p.parent.name != "blender"]
    assert offenders == []


def test_no_global_random_state() -> None:
    """Every draw comes from a generator seeded by (scenario seed, frame, stage), so frames reproduce."""
    offenders = [f"{p.relative_to(PACKAGE)}: {m.group(0).strip()}" for p in sources()
                 for m in GLOBAL_RANDOM.finditer(p.read_text())]
    assert offenders == []
