"""manifest.json: what made this dataset (versions, resolved scenario, preset) and how long each stage took.

The *identity* (scenario minus frame count, seed, preset) decides whether an existing output
folder may be resumed: the same identity continues, a different one is refused.
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path
from typing import Any

import simgen
from simgen.assets.resolve import AssetRef
from simgen.config.preset import RenderPreset
from simgen.config.scenario import Scenario
from simgen.dataset.writer import atomic_write_json

MANIFEST = "manifest.json"
LATER_PRESET_FIELDS = ("bounces", "adaptive_min_samples", "denoise_prefilter", "denoise_passes", "denoise_quality",
                       "light_tree", "guiding", "clamp_direct", "clamp_indirect", "caustics", "filter_glossy",
                       "texture_limit")


def identity_hash(scenario: Scenario, preset: RenderPreset) -> str:
    """Hash of everything that changes what a given frame looks like (the frame count does not)."""
    resolved = scenario.model_dump(mode="json", exclude={"frames", "render"})
    rendered = preset.model_dump(mode="json", exclude={"device", "threads"})
    defaults = RenderPreset().model_dump(mode="json")
    for key in LATER_PRESET_FIELDS:  # left out at their defaults: datasets from before them keep their identity
        if rendered.get(key) == defaults[key]:
            rendered.pop(key)
    payload = json.dumps({"scenario": resolved, "preset": rendered}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def asset_digests(assets: list[AssetRef]) -> dict[str, str]:
    """SHA-256 (16 hex digits) of each asset's file, by asset key ("builtin" for primitives): resume
    compares them to refuse mixing frames of an edited asset with frames of the old one."""
    by_path: dict[Path, str] = {}
    digests = {}
    for ref in sorted(assets, key=lambda r: r.key):
        if ref.path is None or not ref.path.is_file():
            digests[ref.key] = "builtin"
            continue
        if ref.path not in by_path:
            digest = hashlib.sha256()
            with open(ref.path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            by_path[ref.path] = digest.hexdigest()[:16]
        digests[ref.key] = by_path[ref.path]
    return digests


def content_hash(identity: str, digests: dict[str, str]) -> str:
    """Changes when the scenario, the preset or the bytes of any asset file change: two datasets with the
    same content hash were made from the same inputs."""
    digest = hashlib.sha256(identity.encode())
    for key in sorted(digests):
        digest.update(f"{key}={digests[key]};".encode())
    return digest.hexdigest()[:16]


def categories(scenario: Scenario, keypoints: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """COCO categories in scenario order, ids from 1, with keypoint names and skeleton where declared."""
    result = []
    for category_id, cls in enumerate(scenario.classes, start=1):
        entry: dict[str, Any] = {"id": category_id, "name": cls.name, "supercategory": "object"}
        declared = (keypoints or {}).get(cls.name, cls.keypoints)
        if declared is not None:
            entry.update(keypoints=list(declared.names), skeleton=[list(p) for p in declared.skeleton])
        result.append(entry)
    return result


def licenses(assets: list[AssetRef]) -> list[dict[str, Any]]:
    """One COCO license entry per distinct (license, attribution), listing the assets under it."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for ref in assets:
        grouped.setdefault((ref.license, ref.attribution), []).append(ref.key)
    return [{"id": i, "name": name, "attribution": attribution, "url": "", "assets": sorted(set(keys))}
            for i, ((name, attribution), keys) in enumerate(sorted(grouped.items()), start=1)]


def write_attribution(out: Path, entries: list[dict[str, Any]]) -> None:
    lines = ["Assets used in this dataset and their licenses.", ""]
    for entry in entries:
        lines.append(f"- {entry['name']}: {entry['attribution'] or 'no attribution required'}")
        lines.extend(f"    {key}" for key in entry["assets"])
    (out / "ATTRIBUTION.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_manifest(out: Path) -> dict[str, Any] | None:
    """manifest.json, or None when it is missing or unreadable: callers say so instead of failing."""
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return manifest if isinstance(manifest, dict) else None


def build_manifest(scenario: Scenario, preset: RenderPreset, identity: str, device: str, blender_version: str,
                   assets: list[AssetRef], status: str, extra: dict[str, Any] | None = None,
                   keypoints: dict[str, Any] | None = None, digests: dict[str, str] | None = None) -> dict[str, Any]:
    every_license = licenses(assets)
    digests = asset_digests(assets) if digests is None else digests
    manifest = {
        "simgen_version": simgen.__version__,
        "blender_version": blender_version,
        "python": platform.python_version(),
        "host": platform.node(),
        "status": status,
        "identity": identity,
        "content_hash": content_hash(identity, digests),
        "asset_digests": digests,
        "scenario_file": str(scenario.source) if scenario.source else None,
        "scenario": scenario.model_dump(mode="json"),
        "seed": scenario.seed,
        "frames": scenario.frames,
        "render_preset": preset.model_dump(mode="json"),
        "device": device,
        "categories": categories(scenario, keypoints),
        "asset_licenses": every_license,  # every asset the scenario may use
        "licenses": every_license,  # narrowed at assembly to the assets finished frames show
    }
    manifest.update(extra or {})
    return manifest


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    atomic_write_json(out / MANIFEST, manifest)
