"""The ``simgen`` command line."""

from __future__ import annotations

import argparse
from collections import Counter
import json
import os
import signal
import sys
from pathlib import Path

from simgen import __version__
from simgen.config.limits import MAX_FRAMES, MAX_GPUS, MAX_SEED
from simgen.errors import Interrupted, SimgenError
from simgen.tools.args import bounded_int
from simgen.tools.assets_cmd import register as register_assets
from simgen.tools.compare import register as register_compare
from simgen.tools.focus import register as register_focus
from simgen.tools.fit import register as register_fit
from simgen.tools.diff import register as register_diff
from simgen.tools.evaluate import register as register_eval
from simgen.tools.export import register as register_export
from simgen.tools.preview import register as register_preview
from simgen.tools.report import register as register_report
from simgen.tools.sheet import register as register_sheet
from simgen.tools.validate import register as register_validate

EPILOG = """examples:
  simgen render scenes/quickstart.yaml -o out/quickstart
  simgen render quickstart -o out/quickstart          (the bundled example, from any folder)
  simgen init my_project                              (editable copies of the examples and presets)
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

    gpus = _gpu_list(args.gpus)
    if gpus and args.device == "cpu":
        raise SimgenError("--gpus and --device cpu contradict each other; leave out one of them")
    if gpus and (args.workers != 1 or args.ray):
        raise SimgenError("--gpus starts one worker per listed GPU; leave out --workers and --ray")
    workers = args.workers
    cores = os.cpu_count() or 1
    if not args.ray and workers > cores:
        print(f"simgen: note: --workers {workers} is more than this machine's {cores} core(s); using {cores}",
              file=sys.stderr)
        workers = cores
    options = RenderOptions(frames=args.frames, seed=args.seed, render_config=args.render_config,
                            device=args.device, overwrite=args.overwrite, progress=not args.no_progress,
                            shard=Shard.parse(args.shard) if args.shard else Shard(), workers=workers,
                            gpus=gpus, recycle_after=args.recycle_after,
                            max_failures=args.max_failures, ray_address=args.ray)
    summary = render_dataset(Path(args.scenario), Path(args.out), options)
    print(summary.text())
    return 0


def _gpu_list(text: str | None) -> list[int] | None:
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() for part in parts):
        raise SimgenError(f"--gpus takes device indices like 0,1,2, got '{text}'")
    gpus = [int(part) for part in parts]
    if len(set(gpus)) != len(gpus) or len(gpus) > MAX_GPUS or max(gpus) >= MAX_GPUS:
        raise SimgenError(f"--gpus {text}: list each GPU once, at most {MAX_GPUS}, indices below {MAX_GPUS}")
    return gpus


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
    """Everything a render would use, loaded: the scenario, every asset (in Blender) and image, and a few frames sampled."""
    from simgen.run.batch import RenderOptions, check_scenario

    report = check_scenario(Path(args.scenario), RenderOptions(render_config=args.render_config), args.sample)
    scenario, preset = report.scenario, report.preset
    print(f"{args.scenario}: OK. Scenario '{scenario.name}', {len(scenario.classes)} class(es) "
          f"({', '.join(c.name for c in scenario.classes)}), {report.assets} asset file(s) loaded in Blender"
          f"{f', {report.images} image file(s) read' if report.images else ''}, {report.sampled} frame(s) sampled ({report.objects} object(s) "
          f"placed, {report.dropped} dropped); {scenario.frames} frame(s), seed {scenario.seed}, preset "
          f"'{preset.name}' at {preset.resolution[0]}x{preset.resolution[1]}, {preset.samples} samples.")
    if report.past_edge:
        past = Counter(tag for frame in report.past_edge for tag in frame.conditions)
        tagged = Counter(tag for frame in report.scan for tag in frame.conditions)
        rate = len(report.past_edge) / max(report.scanned, 1)
        culprits = [tag for tag in tagged if tagged[tag] >= 5 and past[tag] / tagged[tag] >= max(1.5 * rate, 0.8)]
        most = f", above all in frames with {', '.join(culprits)}" if culprits else ""
        print(f"simgen: warning: {len(report.past_edge)} of {report.scanned} sampled frames see past the ground's "
              f"edge (ground.size {scenario.ground.size:g} m){most}: the world's background shows there; grow "
              f"ground.size or set ground.fit_view: true", file=sys.stderr)
    return 0


def _init(args: argparse.Namespace) -> int:
    """Editable copies of the bundled example scenarios and render presets; never writes over a file."""
    from simgen.bundle import bundled_dir

    dest = Path(args.dir)
    written, kept = [], []
    for kind in ("scenes", "render_configs"):
        for source in sorted(bundled_dir(kind).glob("*.yaml")):
            target = dest / kind / source.name
            if target.exists():
                kept.append(target)
                continue
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read_bytes())
            except OSError as exc:
                raise SimgenError(f"cannot write {target}: {exc.strerror}") from None
            written.append(target)
    note = f"; {len(kept)} existing file(s) left as they were" if kept else ""
    print(f"Wrote {len(written)} file(s) to {dest}/scenes and {dest}/render_configs{note}. Next:\n"
          f"  cd {dest} && simgen render scenes/quickstart.yaml -o out/quickstart")
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
    render.add_argument("scenario", help="scenario YAML, e.g. scenes/quickstart.yaml, or a bundled example's name "
                                         "(quickstart, ycb_tabletop, domain_randomization, edge_cases, ...)")
    render.add_argument("-o", "--out", required=True, help="output folder (created if missing)")
    render.add_argument("-n", "--frames", type=bounded_int(1, MAX_FRAMES), metavar="N",
                        help="number of frames (overrides the scenario)")
    render.add_argument("--seed", type=bounded_int(0, MAX_SEED), help="random seed (overrides the scenario)")
    render.add_argument("--render-config", metavar="PRESET",
                        help="preset name in render_configs/ (preview, draft, production) or a path to a preset YAML")
    render.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                        help="auto: GPU if Cycles finds one, else CPU (default); gpu: fail if there is none")
    render.add_argument("--overwrite", action="store_true",
                        help="replace a different dataset already in OUT instead of refusing (deletes only the "
                             "files simgen wrote there; refuses if OUT holds anything else)")
    render.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    scale = render.add_argument_group("scale-out and long runs")
    scale.add_argument("--shard", metavar="K/N", help="render only frames i with i %% N == K-1; merge the shard "
                                                      "folders later with `simgen merge`")
    scale.add_argument("--workers", type=bounded_int(1, 4096), default=1, metavar="N",
                       help="N worker processes on this machine, each with its own Blender (CPU threads split "
                            "between them)")
    scale.add_argument("--gpus", metavar="0,1,...", help="one worker per listed GPU, each pinned to its card")
    scale.add_argument("--recycle-after", type=bounded_int(0, MAX_FRAMES), default=0, metavar="FRAMES",
                       help="restart each worker after this many frames to keep memory flat (0 = never)")
    scale.add_argument("--max-failures", type=bounded_int(0, MAX_FRAMES), default=0, metavar="N",
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

    check = commands.add_parser(
        "check", help="validate a scenario, load its assets and sample a few frames, without rendering",
        description="Everything a render would read, without rendering: the scenario and preset are validated, "
                    "every asset is imported into Blender, every HDRI and texture is read, and the first frames "
                    "are sampled (placement, camera, conditions). A scenario that passes does not fail a render "
                    "on its inputs.")
    check.add_argument("scenario")
    check.add_argument("--render-config", metavar="PRESET")
    check.add_argument("--sample", type=bounded_int(0, 1000), default=4, metavar="N",
                       help="frames to sample (default: 4)")
    check.set_defaults(handler=_check)

    init = commands.add_parser("init", help="copy the example scenarios and render presets into a folder to edit",
                               description="Write editable copies of the bundled example scenarios (scenes/) and "
                                           "render presets (render_configs/) into DIR. Existing files are kept.")
    init.add_argument("dir", metavar="DIR", nargs="?", default=".")
    init.set_defaults(handler=_init)

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
    register_compare(commands)
    register_focus(commands)
    register_fit(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.handler(args)
    except Interrupted as exc:
        print(f"simgen: {exc}", file=sys.stderr)
        return exc.exit_code
    except SimgenError as exc:
        print(f"simgen: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # `simgen ... | head` closed our stdout: not an error of ours to report
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:  # Ctrl-C outside a render (which stops by itself): nothing half-written
        print("\nsimgen: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug: one line for the user, the traceback in a file
        return _internal_error(exc)


def _internal_error(exc: Exception) -> int:
    import tempfile
    import traceback

    with tempfile.NamedTemporaryFile("w", prefix="simgen-crash-", suffix=".txt", delete=False) as report:
        traceback.print_exc(file=report)
    print(f"simgen: internal error: {type(exc).__name__}: {str(exc)[:200]} (a bug in simgen; the traceback is "
          f"in {report.name}, please include it in a report)", file=sys.stderr)
    return 1


def run() -> None:
    """The console entry point: ``main``, then exit without letting a late Ctrl-C (during Blender's
    shutdown, after everything was written) turn a finished command into a KeyboardInterrupt."""
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)


if __name__ == "__main__":
    run()
