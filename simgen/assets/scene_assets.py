"""The resolved assets of a scenario: per labeled class, and the distractor pool."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simgen.assets.resolve import AssetRef


@dataclass
class SceneAssets:
    classes: dict[str, list[AssetRef]]  # class name -> assets it may draw
    distractors: dict[str, list[AssetRef]] = field(default_factory=dict)  # shape string -> assets
    surface: AssetRef | None = None  # a static, unlabeled asset whose top objects stand on

    def keypoints(self, class_name: str, declared: Any) -> Any:
        """A class's keypoints: its own, else those its catalog entry declares."""
        if declared is not None:
            return declared
        return next((ref.keypoints for ref in self.classes.get(class_name, []) if ref.keypoints is not None), None)

    def all(self) -> list[AssetRef]:
        """Every distinct asset, each once (labeled classes first), for loading and licensing."""
        seen: dict[str, AssetRef] = {}
        for refs in (*self.classes.values(), *self.distractors.values(), [self.surface] if self.surface else []):
            for ref in refs:
                seen.setdefault(ref.key, ref)
        return list(seen.values())
