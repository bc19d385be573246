"""The ``simgen`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from simgen import __version__
from simgen.errors import SimgenError
from simgen.tools.validate import register as register_validate

EPILOG = """examples:
  simgen render scenes/quickstart.yaml -o out/quickstart
  simgen render scenes/ycb_tabletop.yaml -o out/ycb -n 200 --render-config draft --device gpu
  simgen check scenes/ycb_tabletop.yaml
  simgen validate out/ycb
  simgen schema > scenario.schema.json
"""


def _render(args: argparse.Namespace) -> int:
    from simgen.run.batch import RenderOptions, render_dataset

    options = RenderOptions(frames=args.frames, seed=args.seed, render_config=args.render_config,
                            device=args.device, overwrite=args.overwrite, progress=not args.no_progress)
    try:
        summary = render_dataset(Path(args.scenario), Path(args.out), options)
    except KeyboardInterrupt:
        print(f"\nInterrupted. Finished frames are kept in {args.out}; run the same command again to resume.",
              file=sys.stderr)
        return 130
    print(summary.text())
    return 0


def _check(args: argparse.Namespace) -> int:
    """Validate a scenario and its assets without Blender, and sample a few frames to catch placement trouble."""
    from simgen.run.batch import RenderOptions, prepare

    scenario, preset, assets = prepare(Path(args.scenario), RenderOptions(render_config=args.render_config))
    n_assets = sum(len(v) for v in assets.values())
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
    render.set_defaults(handler=_render)

    check = commands.add_parser("check", help="validate a scenario and its assets without rendering")
    check.add_argument("scenario")
    check.add_argument("--render-config", metavar="PRESET")
    check.set_defaults(handler=_check)

    schema = commands.add_parser("schema", help="print the scenario JSON Schema (for editor autocompletion)")
    schema.set_defaults(handler=_schema)

    register_validate(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if getattr(args, "frames", None) is not None and args.frames < 1:
        parser.error("--frames must be at least 1")
    try:
        return args.handler(args)
    except SimgenError as exc:
        print(f"simgen: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
