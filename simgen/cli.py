"""The ``simgen`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from simgen import __version__
from simgen.errors import SimgenError
from simgen.tools.assets_cmd import register as register_assets
from simgen.tools.diff import register as register_diff
from simgen.tools.evaluate import register as register_eval
from simgen.tools.export import register as register_export
from simgen.tools.preview import register as register_preview
from simgen.tools.report import register as register_report
from simgen.tools.sheet import register as register_sheet
from simgen.tools.validate import register as register_validate

EPILOG = """examples:
  simgen render scenes/quickstart.yaml -o out/quickstart
  simgen render scenes/ycb_tabletop.yaml -o out/ycb -n 200 --render-config draft --device gpu
  simgen check scenes/ycb_tabletop.yaml
  simgen preview scenes/domain_randomization.yaml -n 16
  simgen validate out/ycb
  simgen sheet out/ycb -o sheet.png
  simgen report out/ycb
  simgen eval out/ycb detections.json --iou-type segm
  simgen diff out/ycb out/ycb_v2
  simgen assets list
  simgen assets fetch furniture
  simgen export out/ycb --format yolo -o out/ycb_yolo
  simgen render scenes/ycb_tabletop.yaml -o out/part1 --shard 1/2   (and 2/2 elsewhere), then:
  simgen merge out/part1 out/part2 -o out/ycb
  simgen schema > scenario.schema.json
"""


def _render(args: argparse.Namespace) -> int:
    from simgen.run.batch import RenderOptions, render_dataset
    from simgen.run.shard import Shard

    options = RenderOptions(frames=args.frames, seed=args.seed, render_config=args.render_config,
                            device=args.device, overwrite=args.overwrite, progress=not args.no_progress,
                            shard=Shard.parse(args.shard) if args.shard else Shard(), workers=args.workers,
                            gpus=_gpu_list(args.gpus), recycle_after=args.recycle_after,
                            max_failures=args.max_failures, ray_address=args.ray)
    try:
        summary = render_dataset(Path(args.scenario), Path(args.out), options)
    except KeyboardInterrupt:
        print(f"\nInterrupted. Finished frames are kept in {args.out}; run the same command again to resume.",
              file=sys.stderr)
        return 130
    print(summary.text())
    return 0


def _gpu_list(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise SimgenError(f"--gpus takes indices like 0,1,2, got '{text}'") from None


def _assemble(args: argparse.Namespace) -> int:
    from simgen.dataset.merge import assemble

    coco = assemble(Path(args.out))
    print(f"{args.out}/annotations.json: {len(coco['images'])} image(s), {len(coco['annotations'])} annotation(s).")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from simgen.dataset.merge import merge

    coco = merge([Path(p) for p in args.shards], Path(args.out))
    print(f"Merged {len(args.shards)} folder(s) into {args.out}: {len(coco['images'])} image(s), "
          f"{len(coco['annotations'])} annotation(s).")
    return 0


def _check(args: argparse.Namespace) -> int:
    """Validate a scenario and its assets without Blender, and sample a few frames to catch placement trouble."""
    from simgen.run.batch import RenderOptions, prepare

    scenario, preset, assets = prepare(Path(args.scenario), RenderOptions(render_config=args.render_config))
    n_assets = len(assets.all())
    print(f"{args.scenario}: OK. Scenario '{scenario.name}', {len(scenario.classes)} class(es) "
          f"({', '.join(c.name for c in scenario.classes)}), {n_assets} asset file(s), {scenario.frames} frame(s), "
          f"seed {scenario.seed}, preset '{preset.name}' at {preset.resolution[0]}x{preset.resolution[1]}, "
          f"{preset.samples} samples.")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from simgen.config.scenario import Scenario

    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "simgen scenario"
    print(json.dumps(schema, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simgen",
        description="Render labeled computer-vision datasets (RGB, depth, instance/semantic masks, COCO) "
                    "from randomized Blender scenes described in a scenario YAML.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"simgen {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    render = commands.add_parser(
        "render", help="render a dataset from a scenario",
        description="Render a scenario into OUT: images/, depth/, instance/, semantic/, annotations.json (COCO), "
                    "frames.jsonl and manifest.json. Rerunning the same command resumes an interrupted run.")
    render.add_argument("scenario", help="scenario YAML, e.g. scenes/quickstart.yaml")
    render.add_argument("-o", "--out", required=True, help="output folder (created if missing)")
    render.add_argument("-n", "--frames", type=int, help="number of frames (overrides the scenario)")
    render.add_argument("--seed", type=int, help="random seed (overrides the scenario)")
    render.add_argument("--render-config", metavar="PRESET",
                        help="preset name in render_configs/ (preview, draft, production) or a path to a preset YAML")
    render.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                        help="auto: GPU if Cycles finds one, else CPU (default); gpu: fail if there is none")
    render.add_argument("--overwrite", action="store_true",
                        help="replace a different dataset already in OUT instead of refusing")
    render.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    scale = render.add_argument_group("scale-out and long runs")
    scale.add_argument("--shard", metavar="K/N", help="render only frames i with i %% N == K-1; merge the shard "
                                                      "folders later with `simgen merge`")
    scale.add_argument("--workers", type=int, default=1, metavar="N",
                       help="N worker processes on this machine, each with its own Blender (CPU threads split "
                            "between them)")
    scale.add_argument("--gpus", metavar="0,1,...", help="one worker per listed GPU, each pinned to its card")
    scale.add_argument("--recycle-after", type=int, default=0, metavar="FRAMES",
                       help="restart each worker after this many frames to keep memory flat (0 = never)")
    scale.add_argument("--max-failures", type=int, default=0, metavar="N",
                       help="frames allowed to fail before the run stops (failed frames are retried on rerun)")
    scale.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                       help="render on a Ray cluster (pip install 'simgen[ray]'); no ADDRESS starts a local Ray. "
                            "OUT must be storage every node can reach; --workers sets the number of actors")
    render.set_defaults(handler=_render)

    assemble = commands.add_parser("assemble", help="rewrite annotations.json from the journal (also mid-run)")
    assemble.add_argument("out")
    assemble.set_defaults(handler=_assemble)

    merge = commands.add_parser("merge", help="merge shard folders of one run into one dataset")
    merge.add_argument("shards", nargs="+", help="folders rendered with --shard K/N")
    merge.add_argument("-o", "--out", required=True)
    merge.set_defaults(handler=_merge)

    check = commands.add_parser("check", help="validate a scenario and its assets without rendering")
    check.add_argument("scenario")
    check.add_argument("--render-config", metavar="PRESET")
    check.set_defaults(handler=_check)

    schema = commands.add_parser("schema", help="print the scenario JSON Schema (for editor autocompletion)")
    schema.set_defaults(handler=_schema)

    register_validate(commands)
    register_export(commands)
    register_sheet(commands)
    register_assets(commands)
    register_preview(commands)
    register_report(commands)
    register_eval(commands)
    register_diff(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if getattr(args, "frames", None) is not None and args.frames < 1:
        parser.error("--frames must be at least 1")
    if getattr(args, "workers", 1) < 1:
        parser.error("--workers must be at least 1")
    try:
        return args.handler(args)
    except SimgenError as exc:
        print(f"simgen: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
