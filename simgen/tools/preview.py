"""``simgen preview``: see what a scenario makes, in seconds, before committing to a long run.

Renders N frames with the fast ``preview`` preset into a scratch folder and draws them, with
their labels, into one contact sheet.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from simgen.run.batch import RenderOptions, render_dataset
from simgen.tools.args import positive_int
from simgen.tools.sheet import contact_sheet


def preview(scenario: Path, dest: Path, frames: int = 16, render_config: str = "preview", cols: int = 4,
            device: str = "auto", progress: bool = True) -> Path:
    with tempfile.TemporaryDirectory(prefix="simgen-preview-") as scratch:
        out = Path(scratch) / "dataset"
        render_dataset(scenario, out, RenderOptions(frames=frames, render_config=render_config, device=device,
                                                    progress=progress))
        return contact_sheet(out, dest, n=frames, cols=cols, tile_width=240)


def run_preview(args: argparse.Namespace) -> int:
    dest = Path(args.dest or f"{Path(args.scenario).stem}_preview.png")
    preview(Path(args.scenario), dest, args.frames, args.render_config, args.cols, args.device, not args.no_progress)
    print(f"Wrote {dest}: {args.frames} frame(s) of {args.scenario} with their labels.")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "preview", help="render a few fast frames of a scenario into a contact sheet",
        description="Render N frames of a scenario with the fast 'preview' preset into a scratch folder and "
                    "draw them with their masks and boxes into one PNG: iterate on a YAML in seconds.")
    parser.add_argument("scenario")
    parser.add_argument("-o", "--dest", metavar="PNG", help="output PNG (default SCENARIO_preview.png)")
    parser.add_argument("-n", "--frames", type=positive_int, default=16)
    parser.add_argument("--cols", type=positive_int, default=4)
    parser.add_argument("--render-config", default="preview", metavar="PRESET")
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(handler=run_preview)
