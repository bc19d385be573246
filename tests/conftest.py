"""Shared fixtures: one small real render of the quickstart scenario, reused by many tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simgen.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY = str(FIXTURES / "tiny.yaml")


def render(scenario: Path | str, out: Path, *extra: str) -> int:
    return main(["render", str(scenario), "-o", str(out), "--render-config", TINY, "--no-progress", *extra])


@pytest.fixture(scope="session")
def quickstart(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("quickstart")
    assert render(ROOT / "scenes" / "quickstart.yaml", out, "-n", "4") == 0
    return out


@pytest.fixture(scope="session")
def quickstart_coco(quickstart: Path) -> dict:
    return json.loads((quickstart / "annotations.json").read_text())
