"""simgen from Python: load a scenario (a file or a dict), render a dataset, or make frames one at a time.

    import simgen

    scenario = simgen.load_scenario("quickstart")                  # a path, a bundled name, or a dict
    summary = simgen.render(scenario, "out/quickstart", frames=8)  # what `simgen render` does
    with simgen.Generator(scenario, render_config="preview") as generator:
        spec = generator.sample(0)                                 # every sampled value; no render
        frame = generator.render(0)                                # arrays and COCO records, no dataset

The command line is a thin layer over these; they raise SimgenError (with the CLI's messages)
instead of printing. Blender is imported only when a frame is rendered, or sampled
with assets whose geometry is not cached yet.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simgen.config.scenario import Scenario
from simgen.errors import ScenarioError, SimgenError

def load_scenario(source: str | Path | dict[str, Any] | Scenario, base_dir: str | Path | None = None) -> Scenario:
    """A validated Scenario from a YAML path, a bundled example's name ('quickstart'), or a dict.

    Relative asset paths in a dict resolve against ``base_dir`` (default: the current folder).
    """
    if isinstance(source, Scenario):
        return source
    if isinstance(source, dict):
        return _from_dict(source, Path(base_dir) if base_dir is not None else Path.cwd())
    from simgen.bundle import scenario_file
    from simgen.config.loader import load_scenario as load_file

    return load_file(scenario_file(source))


def _from_dict(data: dict[str, Any], base_dir: Path) -> Scenario:
    from pydantic import ValidationError

    from simgen.config.loader import format_validation_error

    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(Path("<dict>"), data, {}, exc)) from None
    scenario._source = base_dir.resolve() / "<dict>"
    return scenario


def render(scenario: str | Path | dict[str, Any] | Scenario, out: str | Path, *, frames: int | None = None,
           seed: int | None = None, render_config: str | None = None, device: str = "auto", workers: int = 1,
           overwrite: bool = False, progress: bool = False, **options: Any) -> Any:
    """Render (or resume) a dataset into ``out``, exactly as ``simgen render`` does; returns its RunSummary.

    ``options`` takes the other RenderOptions fields (shard, gpus, recycle_after, max_failures, ray_address).
    """
    from simgen.run.batch import RenderOptions, render_dataset

    run = RenderOptions(frames=frames, seed=seed, render_config=render_config, device=device, workers=workers,
                        overwrite=overwrite, progress=progress, **options)
    return render_dataset(load_scenario(scenario), Path(out), run)


@dataclass
class Frame:
    """One rendered frame in memory: the pixels and the COCO records simgen would have written."""

    index: int
    rgb: np.ndarray  # (H, W, 3) uint8, RGB order, as Blender's view transform shows it
    depth: np.ndarray  # (H, W) float32 metres along the camera axis; inf where nothing was hit
    instance: np.ndarray  # (H, W) uint16: the annotations' mask_id; 0 = background
    semantic: np.ndarray  # (H, W) category id; 0 = background
    image: dict[str, Any]  # the COCO images[] entry (camera, conditions, every sampled parameter)
    annotations: list[dict[str, Any]] = field(default_factory=list)  # COCO annotations[] (no ids yet)
    views: dict[str, "Frame"] = field(default_factory=dict)  # camera.rig: each rig camera's frame, by name


class Generator:
    """Frames of one scenario on demand, without a dataset folder: for training loops that render on
    the fly, notebooks, and tests. One Blender scene is built on first use and reused."""

    def __init__(self, scenario: str | Path | dict[str, Any] | Scenario, render_config: str | None = None,
                 device: str = "auto", seed: int | None = None):
        from simgen.run.batch import RenderOptions, prepare

        self.scenario, self.preset, self.assets = prepare(load_scenario(scenario),
                                                          RenderOptions(render_config=render_config, seed=seed))
        self.device = device
        self._scratch: tempfile.TemporaryDirectory | None = None
        self._renderer: Any = None
        self._sampler: Any = None  # sampling from cached geometry, until something needs Blender

    def _ready(self) -> Any:
        if self._renderer is None:
            from simgen.run.frame_job import FrameRenderer, RendererSpec

            self._scratch = tempfile.TemporaryDirectory(prefix="simgen-generator-")
            self._renderer = FrameRenderer(RendererSpec(self.scenario, self.preset, self.assets,
                                                        Path(self._scratch.name), self.device))
        return self._renderer

    def sample(self, index: int) -> Any:
        """Frame ``index``'s FrameSpec: every sampled value (objects, poses, camera, lights, weather).

        Without Blender when every asset's geometry is cached (any earlier render, ``check`` or
        Generator of these asset files fills the cache); else the assets are imported first.
        """
        if self._renderer is not None:
            return self._renderer.sampler.sample(index)
        from simgen.assets.geometry_cache import Geometry, GeometryMissing, cache_dir as geometry_dir
        from simgen.sampling.sampler import FrameSampler

        try:
            if self._sampler is None:
                geometry = Geometry(self.assets.all())
                self._sampler = FrameSampler(self.scenario, self.assets, geometry.bounds, self.preset.resolution,
                                             geometry.hulls)
            return self._sampler.sample(index)
        except GeometryMissing as missing:
            self._sampler = None
            if importlib.util.find_spec("bpy") is None:
                raise SimgenError(f"sampling needs the geometry of asset {missing.args[0]}, which is not cached and "
                                  f"needs Blender to import: run `simgen check` on this scenario once where bpy is "
                                  f"installed (the cache is {geometry_dir()})") from None
            return self._ready().sampler.sample(index)

    def hulls(self) -> dict[str, Any]:
        """Each asset's hull vertices (metres, in its own frame): what sampling and labels project."""
        if self._renderer is None and self._sampler is None:
            self.sample(0)  # builds whichever sampler the cache allows
        sampler = self._renderer.sampler if self._renderer is not None else self._sampler
        return sampler.hulls

    def render(self, index: int) -> Frame:
        """Frame ``index`` rendered and labeled, identical to frame ``index`` of a dataset of this scenario."""
        import cv2

        renderer = self._ready()
        rgb_path = Path(self._scratch.name) / "rgb.png"  # type: ignore[union-attr]
        rendered = renderer.render_frame(index, rgb_path)

        def frame(path: Path, passes: Any, labels: Any) -> Frame:
            rgb = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            path.unlink(missing_ok=True)
            record = json.loads(json.dumps(labels.record))  # exactly what annotations.json would hold
            return Frame(index, rgb, passes.depth, labels.instance, labels.semantic, record["image"],
                         record["annotations"])

        main = frame(rgb_path, rendered.passes, rendered.labels)
        main.views = {view.name: frame(view.rgb_path, view.passes, view.labels) for view in rendered.views}
        return main

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def __enter__(self) -> "Generator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
