"""The resolved assets of a scenario: per labeled class, and the distractor pool."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from simgen.assets.resolve import AssetRef


@dataclass
class SceneAssets:
    classes: dict[str, list[AssetRef]]  # class name -> assets it may draw
    distractors: dict[str, list[AssetRef]] = field(default_factory=dict)  # shape string -> assets
    surface: AssetRef | None = None  # a static, unlabeled asset whose top objects stand on
    images: set[str] = field(default_factory=set)  # every HDRI and texture file a frame may draw (checked readable)

    def keypoints(self, class_name: str, declared: Any) -> Any:
        """A class's keypoints: its own, else those its catalog entry declares."""
        if declared is not None:
            return declared
        return next((ref.keypoints for ref in self.classes.get(class_name, []) if ref.keypoints is not None), None)

    def class_keypoints(self, classes: Iterable[Any]) -> dict[str, Any]:
        """Every scenario class's keypoints by class name (see ``keypoints``)."""
        return {cls.name: self.keypoints(cls.name, cls.keypoints) for cls in classes}

    def split_by_need(self, pool_limit: int = 20) -> tuple[list[AssetRef], dict[str, AssetRef]]:
        """(assets to import up front, assets to import when first drawn).

        Labeled classes and the surface load up front, so a broken file stops the run before any
        frame; only big distractor pools (more than ``pool_limit`` files per shape) wait.
        """
        deferred = {ref.key: ref for refs in self.distractors.values() if len(refs) > pool_limit for ref in refs}
        eager = [ref for ref in self.all() if ref.key not in deferred]
        return eager, deferred

    def all(self) -> list[AssetRef]:
        """Every distinct asset, each once (labeled classes first), for loading and licensing."""
        seen: dict[str, AssetRef] = {}
        for refs in (*self.classes.values(), *self.distractors.values(), [self.surface] if self.surface else []):
            for ref in refs:
                seen.setdefault(ref.key, ref)
        return list(seen.values())
