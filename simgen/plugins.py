"""Named extension points: placement modes, camera pose samplers, exporters, conditions and per-frame outputs.

Each kind is a ``Registry``. The built-ins register themselves with the same decorator a
plug-in uses, in the module named as the registry's ``builtins`` (imported on first use, so
this module stays free of heavy imports); installed packages add theirs through Python entry
points in the registry's group, e.g. in a plug-in's pyproject.toml:

    [project.entry-points."simgen.placements"]
    ring = "my_plugin:ring"          # a function decorated with @PLACEMENTS.register("ring"), or plain

    [project.entry-points."simgen.exporters"]
    csv = "my_plugin:CSV_EXPORTER"

Nothing in simgen/ has to change for a plug-in to be used: scenario validation, ``simgen export
--format`` and the writers all ask the registries.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Callable, Generic, Iterator, TypeVar

from simgen.errors import SimgenError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, group: str, what: str, builtins: str):
        self.group, self.what, self.builtins = group, what, builtins
        self._items: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str, item: T | None = None):
        """``REGISTRY.register("name", item)``, or as a decorator: ``@REGISTRY.register("name")``."""
        def add(value: T) -> T:
            if name in self._items and self._items[name] is not value:
                raise SimgenError(f"two {self.what}s are registered as '{name}'")
            self._items[name] = value
            return value
        return add(item) if item is not None else add

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        importlib.import_module(self.builtins)
        for entry in entry_points(group=self.group):
            try:
                value = entry.load()
            except Exception as exc:  # noqa: BLE001 - a broken plug-in is named, not a traceback
                raise SimgenError(f"the {self.what} plug-in '{entry.name}' ({entry.value}) does not load: "
                                  f"{type(exc).__name__}: {exc}") from None
            if self._items.get(entry.name) is not value:
                self.register(entry.name, value)

    def get(self, name: str) -> T:
        self._load()
        if name not in self._items:
            raise SimgenError(f"unknown {self.what} '{name}'; available: {', '.join(self.names())}")
        return self._items[name]

    def names(self) -> list[str]:
        self._load()
        return list(self._items)

    def values(self) -> list[T]:
        self._load()
        return list(self._items.values())

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


PLACEMENTS: Registry[Callable] = Registry("simgen.placements", "placement mode", "simgen.sampling.placement")
CAMERA_POSES: Registry = Registry("simgen.camera_poses", "camera pose sampler", "simgen.sampling.camera_poses")
EXPORTERS: Registry = Registry("simgen.exporters", "export format", "simgen.tools.exports")
CONDITIONS: Registry[dict] = Registry("simgen.conditions", "condition", "simgen.config.conditions")
OUTPUTS: Registry = Registry("simgen.outputs", "output", "simgen.outputs")
