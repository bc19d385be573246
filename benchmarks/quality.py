"""Image quality against render time: where each render setting sits, per condition.

For a fixed set of frames of the shipped scenarios (clear street, night street, volume fog, rain,
a room), renders a converged reference (1024 samples, no denoiser, another seed) and then each
setting of a grid around a base preset, in the same process with the same scene, and records the
render seconds and the display image's PSNR, SSIM and FLIP (a perceptual difference made for
renderers) against the reference. At the draft preset only a centre window of half the width and
height is rendered (a quarter of the pixels, the same pixel size, so noise and the denoiser act as
in a whole frame); references are cached in --cache, so a second run costs only the grid.

    python benchmarks/quality.py --base draft --json benchmarks/results/quality_draft.json
    python benchmarks/quality.py --base preview --json benchmarks/results/quality_preview.json
    python benchmarks/quality.py --plot benchmarks/results/quality_draft.json benchmarks/results/quality_preview.json

Needs the bench extra (scikit-image, flip-evaluator) and the furniture pack (simgen assets fetch furniture).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from simgen.config.conditions import variant
from simgen.config.loader import load_preset
from simgen.config.preset import RenderPreset
from simgen.run.batch import RenderOptions, prepare
from simgen.run.redirect import redirect_output

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_SAMPLES = 1024
REFERENCE = {"samples": REFERENCE_SAMPLES, "adaptive_threshold": 0.0, "denoise": False, "max_bounces": 16,
             "bounces": {"diffuse": 8, "glossy": 8, "transmission": 12, "volume": 2, "transparent": 16}}
REFERENCE_SEED_OFFSET = 7919  # the reference's noise must not be the tested render's noise


@dataclass(frozen=True)
class Shot:
    """One benchmark frame: a scenario's frame ``index`` with ``conditions`` applied (and ``changes`` on top)."""

    name: str
    scenario: str
    index: int
    conditions: tuple[str, ...] = ()
    changes: tuple[tuple[str, Any], ...] = ()  # dotted scenario field, value


SHOTS = (
    Shot("clear", "scenes/street.yaml", 1),
    Shot("night", "scenes/street.yaml", 2, ("night",)),
    Shot("fog", "scenes/street.yaml", 3, ("fog",), (("weather.fog.mode", "volume"),)),
    Shot("rain", "scenes/street.yaml", 5, ("rain",)),
    Shot("room", "scenes/tabletop_room.yaml", 1),
)


def grid(base: RenderPreset) -> dict[str, tuple[dict[str, Any], float]]:
    """Settings to try, each as changes to the base preset and a render scale; one factor at a time
    around the base, then the sample count with and without the denoiser."""
    s = base.samples
    settings: dict[str, tuple[dict[str, Any], float]] = {"base": ({}, 1.0)}
    for n in sorted({max(1, s // 8), max(1, s // 4), max(1, s // 2), s * 2, s * 4}):
        settings[f"spp {n}"] = ({"samples": n}, 1.0)
    for n in sorted({s, s * 4}):
        settings[f"spp {n}, no denoiser"] = ({"samples": n, "denoise": False}, 1.0)
    # Cycles' automatic minimum (adaptive_min_samples 0) is more samples than these presets take, so
    # their threshold alone changes nothing: the minimum is what lets adaptive sampling stop a pixel
    settings["adaptive off"] = ({"adaptive_threshold": 0.0}, 1.0)
    for t in (0.02, 0.05, 0.1):
        for low in (max(2, s // 8), max(4, s // 4)):
            settings[f"adaptive {t}, min {low}"] = ({"adaptive_threshold": t, "adaptive_min_samples": low}, 1.0)
    for n in (s * 2, s * 4):
        settings[f"spp {n}, adaptive 0.05, min {max(4, s // 4)}"] = (
            {"samples": n, "adaptive_threshold": 0.05, "adaptive_min_samples": max(4, s // 4)}, 1.0)
    settings["prefilter fast"] = ({"denoise_prefilter": "fast"}, 1.0)
    settings["prefilter none"] = ({"denoise_prefilter": "none"}, 1.0)
    settings["denoise rgb only"] = ({"denoise_passes": "rgb"}, 1.0)
    settings["denoise albedo"] = ({"denoise_passes": "albedo"}, 1.0)
    settings["denoise balanced"] = ({"denoise_quality": "balanced"}, 1.0)
    settings["denoise fast"] = ({"denoise_quality": "fast"}, 1.0)
    for n in (1, 2, 8):
        settings[f"max bounces {n}"] = ({"max_bounces": n}, 1.0)
    settings["diffuse 1"] = ({"bounces": {"diffuse": 1}}, 1.0)
    settings["diffuse 2"] = ({"bounces": {"diffuse": 2}}, 1.0)
    settings["glossy 1"] = ({"bounces": {"glossy": 1}}, 1.0)
    settings["transmission 2"] = ({"bounces": {"transmission": 2}}, 1.0)
    settings["volume 1"] = ({"bounces": {"volume": 1}}, 1.0)
    settings["transparent 4"] = ({"bounces": {"transparent": 4}}, 1.0)
    settings["light tree off"] = ({"light_tree": False}, 1.0)
    settings["guiding"] = ({"guiding": True}, 1.0)
    settings["clamp indirect 0 (off)"] = ({"clamp_indirect": 0.0}, 1.0)
    settings["clamp indirect 2"] = ({"clamp_indirect": 2.0}, 1.0)
    settings["clamp direct 10"] = ({"clamp_direct": 10.0}, 1.0)
    settings["caustics off"] = ({"caustics": False}, 1.0)
    settings["filter glossy 0"] = ({"filter_glossy": 0.0}, 1.0)
    settings["textures 512"] = ({"texture_limit": 512}, 1.0)
    settings["half size x4 spp, upscaled"] = ({"samples": s * 4}, 0.5)
    settings["half size, upscaled"] = ({}, 0.5)
    return settings


def candidates(spec: str) -> dict[str, tuple[dict[str, Any], float]]:
    """Settings given on the command line as JSON: {"name": {"field": value, ...}, ...}. Besides preset
    fields, "_scale" renders at that fraction of the resolution and "_scene" sets Blender properties no
    preset has yet, by path from the scene ({"cycles.use_fast_gi": true}), so a setting can be measured
    before it becomes a field."""
    return {name: (changes, float(changes.pop("_scale", 1.0))) for name, changes in json.loads(spec).items()}


def scenario_of(shot: Shot) -> Any:
    from simgen.config.conditions import merge
    from simgen.config.scenario import Scenario

    scenario, _, assets = prepare(ROOT / shot.scenario, RenderOptions(frames=shot.index + 1))
    if shot.conditions:
        scenario = variant(scenario, shot.conditions)
    if shot.changes:
        data = scenario.model_dump(mode="json")
        for dotted, value in shot.changes:
            *parents, leaf = dotted.split(".")
            data = merge(data, _nest(parents + [leaf], value))
        source = scenario.source
        scenario = Scenario.model_validate(data)
        scenario._source = source
    return scenario, assets


def _nest(keys: list[str], value: Any) -> dict[str, Any]:
    return {keys[0]: _nest(keys[1:], value) if len(keys) > 1 else value}


def display(backend: Any, path: Path, size: tuple[int, int] | None) -> np.ndarray:
    """The last render as the dataset stores it (8-bit sRGB after the view transform), upscaled to ``size``."""
    backend.save_outputs(path)
    image = cv2.imread(str(path))
    if size is not None and image.shape[1::-1] != size:
        image = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
    return image


def scores(reference: np.ndarray, image: np.ndarray) -> dict[str, float]:
    import flip_evaluator
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    ref_rgb = np.ascontiguousarray(reference[..., ::-1]).astype(np.float32) / 255
    img_rgb = np.ascontiguousarray(image[..., ::-1]).astype(np.float32) / 255
    _, flip, _ = flip_evaluator.evaluate(ref_rgb, img_rgb, "LDR", applyMagma=False)
    return {"psnr": float(peak_signal_noise_ratio(reference, image, data_range=255)),
            "ssim": float(structural_similarity(reference, image, channel_axis=2, data_range=255)),
            "flip": float(flip)}


def grain_of(image: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """Grain, measured without a reference: the same frame rendered with two seeds differs only by its
    noise (after the denoiser, its blotches too), so (a - b) / sqrt(2) is one image's noise, in 8-bit
    levels. ``grain`` is the pixel-scale part (what a Gaussian blur of 1.5 px takes away: the speckle
    the eye reads as grain) as a robust sigma (1.4826 x the median absolute value), so the few edge
    pixels whose coverage differs between seeds do not count as grain; ``grain_rms`` is the RMS of all
    of the noise, edges and blotches included."""
    noise = (image.astype(np.float32) - other.astype(np.float32)) / np.sqrt(2.0)
    fine = noise - cv2.GaussianBlur(noise, (0, 0), 1.5)
    return {"grain": float(1.4826 * np.median(np.abs(fine))), "grain_rms": float(np.sqrt(np.mean(noise ** 2)))}


def run(base_name: str, shots: tuple[Shot, ...], settings: dict[str, tuple[dict[str, Any], float]], crop: Any,
        cache: Path, log: Path, repeat: int, references_only: bool = False, grain: bool = False,
        save: Path | None = None) -> list[dict[str, Any]]:
    import bpy

    from simgen.blender.backend import BlenderBackend
    from simgen.sampling.sampler import FrameSampler

    base = load_preset(base_name)
    rows = []
    for shot in shots:
        scenario, assets = scenario_of(shot)
        with redirect_output(log):
            backend = BlenderBackend(base.model_copy(update={"device": "cpu"}), "cpu")
            bounds = backend.load_assets(assets.all())
        frame = FrameSampler(scenario, assets, bounds, base.resolution, backend.asset_vertices).sample(shot.index)
        with redirect_output(log):
            backend.apply(frame)
            backend.apply_motion(frame)
        seed = bpy.context.scene.cycles.seed
        # the frame itself is in the key: a change to a condition or a sampler renders a new reference
        key = hashlib.sha256(json.dumps([shot.name, shot.scenario, shot.index, shot.conditions, shot.changes,
                                         base.resolution, crop, REFERENCE, repr(frame)]).encode()).hexdigest()[:12]
        ref_path = cache / f"ref_{shot.name}_{key}.png"
        with redirect_output(log):
            reference_preset = RenderPreset.model_validate({**base.model_dump(), **REFERENCE})
            backend.configure_sampling(reference_preset, crop=crop)
            bpy.context.scene.cycles.seed = seed + REFERENCE_SEED_OFFSET
            if not ref_path.exists():
                start = time.perf_counter()
                backend.render()
                print(f"{shot.name}: reference {time.perf_counter() - start:.0f} s", flush=True)
                display(backend, ref_path, None)
        if references_only:
            backend.close()
            continue
        with redirect_output(log):
            reference = cv2.imread(str(ref_path))
            size = reference.shape[1::-1]
            bpy.context.scene.cycles.seed = seed
            backend.configure_sampling(base.model_copy(update={"samples": 1, "denoise": True}), crop=crop)
            backend.render()  # warm: the scene's first sync and the denoiser's start are not any setting's cost
        for name, (changes, scale) in settings.items():
            fields = {k: v for k, v in changes.items() if not k.startswith("_")}
            preset = RenderPreset.model_validate({**base.model_dump(), **fields})
            with redirect_output(log):
                backend.configure_sampling(preset, scale=scale, crop=crop)
                restore = _set_scene(bpy.context.scene, changes.get("_scene", {}))
                times = []
                for _ in range(repeat):  # the same seed each time: the same image
                    start = time.perf_counter()
                    backend.render()
                    times.append(time.perf_counter() - start)
                seconds = statistics.median(times)
                image = display(backend, cache / "test.png", size)
                if grain:  # the same setting with other noise: what differs between the two is grain
                    bpy.context.scene.cycles.seed = seed + 1
                    backend.render()
                    bpy.context.scene.cycles.seed = seed
                    other = display(backend, cache / "test_other_seed.png", size)
                if save is not None:  # to look at: the setting's image, beside the reference
                    slug = "".join(c if c.isalnum() else "_" for c in name)
                    cv2.imwrite(str(save / f"{shot.name}_{slug}.png"), image)
                    cv2.imwrite(str(save / f"{shot.name}_reference.png"), reference)
                _set_scene(bpy.context.scene, restore)
            row = {"shot": shot.name, "setting": name, "changes": changes, "scale": scale, "seconds": seconds,
                   **scores(reference, image), **(grain_of(image, other) if grain else {})}
            rows.append(row)
            print(f"{shot.name:6s} {name:32s} {seconds:7.2f} s  PSNR {row['psnr']:6.2f}  SSIM {row['ssim']:.4f}  "
                  f"FLIP {row['flip']:.4f}" + (f"  grain {row['grain']:.2f} (RMS {row['grain_rms']:.2f})"
                                               if grain else ""), flush=True)
        backend.close()
    return rows


def _set_scene(scene: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Set properties by dotted path from ``scene``; returns their old values, to set back."""
    old = {}
    for dotted, value in values.items():
        *parents, leaf = dotted.split(".")
        owner = scene
        for part in parents:
            owner = getattr(owner, part)
        old[dotted] = getattr(owner, leaf)
        setattr(owner, leaf, value)
    return old


def correct_for_reference_noise(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Add ``psnr_true`` to each row: the PSNR against the noise-free image, estimated.

    The reference has noise of its own (at night, lamps and a +5 EV exposure leave grain even at 1024
    samples), and it adds to every row's error: MSE = MSE_true + s^2 / 1024, with s^2 the noise of
    one sample. The rows without a denoiser give s^2: their MSE is s^2 / N + c (c: their bias from
    fewer bounces, plus the reference's noise), a line in 1 / N. Returns each shot's reference-noise
    PSNR (the ceiling no setting can be measured above)."""
    ceilings = {}
    for shot in dict.fromkeys(row["shot"] for row in rows):
        plain = [r for r in rows if r["shot"] == shot and r["changes"].get("denoise") is False
                 and r["scale"] == 1.0 and set(r["changes"]) <= {"samples", "denoise", "adaptive_threshold"}
                 and not r["changes"].get("adaptive_threshold")]  # every pixel at N samples: noise falls as 1/N
        floor = 0.0
        if len(plain) >= 2:
            x = np.array([1.0 / r["changes"]["samples"] for r in plain])
            y = np.array([255.0 ** 2 / 10 ** (r["psnr"] / 10) for r in plain])
            slope = float(np.polyfit(x, y, 1)[0])
            floor = max(slope, 0.0) / REFERENCE_SAMPLES
        ceilings[shot] = float(10 * np.log10(255.0 ** 2 / floor)) if floor > 0 else float("inf")
        for r in rows:
            if r["shot"] == shot:
                mse = 255.0 ** 2 / 10 ** (r["psnr"] / 10)
                r["psnr_true"] = float(10 * np.log10(255.0 ** 2 / max(mse - floor, mse * 0.05)))
    return ceilings


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per setting: median over the shots of time relative to the base setting, and of PSNR/SSIM/FLIP change."""
    by_shot: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_shot.setdefault(row["shot"], {})[row["setting"]] = row
    out = []
    settings = list(dict.fromkeys(row["setting"] for row in rows))
    for setting in settings:
        ratios, dpsnr, dssim, dflip = [], [], [], []
        for shot in by_shot.values():
            if setting in shot and "base" in shot:
                base, row = shot["base"], shot[setting]
                ratios.append(row["seconds"] / base["seconds"])
                dpsnr.append(row.get("psnr_true", row["psnr"]) - base.get("psnr_true", base["psnr"]))
                dssim.append(row["ssim"] - base["ssim"])
                dflip.append(row["flip"] - base["flip"])
        out.append({"setting": setting, "time_ratio": statistics.median(ratios), "dpsnr": statistics.median(dpsnr),
                    "dpsnr_min": min(dpsnr), "dssim": statistics.median(dssim), "dflip": statistics.median(dflip)})
    return out


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: per setting, the median time ratio and PSNR change against the base setting over the
    shots, then each shot's seconds, noise-corrected PSNR and (with --grain) grain; the reference-noise
    ceilings below."""
    ceilings = correct_for_reference_noise(rows)
    shots = list(dict.fromkeys(row["shot"] for row in rows))
    cells = {(row["shot"], row["setting"]): row for row in rows}
    grain = all("grain" in row for row in rows)
    lines = ["| setting | time / base (median) | PSNR change, dB (median, worst) | " + " | ".join(
        f"{shot}: s, dB" + (", grain" if grain else "") for shot in shots) + " |", "|---" * (3 + len(shots)) + "|"]
    for summary in summarise(rows):
        setting = summary["setting"]
        per = " | ".join(f"{cells[(shot, setting)]['seconds']:.1f}, {cells[(shot, setting)]['psnr_true']:.1f}"
                         + (f", {cells[(shot, setting)]['grain']:.1f}" if grain else "")
                         if (shot, setting) in cells else "" for shot in shots)
        lines.append(f"| {setting} | {summary['time_ratio']:.2f} | {summary['dpsnr']:+.2f}, {summary['dpsnr_min']:+.2f} "
                     f"| {per} |")
    lines.append("")
    lines.append("Reference-noise ceiling (PSNR of the 1024-sample reference's own noise): " +
                 ", ".join(f"{shot} {value:.1f} dB" for shot, value in ceilings.items()))
    return "\n".join(lines)


def plot(paths: list[Path], out: Path) -> None:
    """Time against PSNR, a panel per base preset, a colour per condition; the base setting ringed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(paths), figsize=(6.5 * len(paths), 4.8), squeeze=False)
    for ax, path in zip(axes[0], paths):
        data = json.loads(path.read_text())
        rows = data["rows"]
        correct_for_reference_noise(rows)
        for shot in dict.fromkeys(row["shot"] for row in rows):
            mine = [row for row in rows if row["shot"] == shot]
            points = ax.scatter([r["seconds"] for r in mine], [r["psnr_true"] for r in mine], s=14, label=shot)
            front = _front(mine)
            ax.plot([r["seconds"] for r in front], [r["psnr_true"] for r in front], color=points.get_facecolor()[0],
                    lw=1)
            for r in mine:
                if r["setting"] in data.get("marked", ["base"]):
                    ax.scatter([r["seconds"]], [r["psnr_true"]], s=80, facecolors="none",
                               edgecolors=points.get_facecolor()[0], lw=1.5)
        ax.set_xscale("log")
        ax.set_xlabel("render seconds (2 CPU cores" + (", quarter-frame window" if data.get("crop") else "") + ")")
        ax.set_ylabel("PSNR (dB) against a 1024-sample reference, its noise taken out")
        ax.set_title(f"around the {data['base']} preset: rings = {', '.join(data.get('marked', ['base']))}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def _front(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The settings no other setting beats in both time and PSNR, fastest first."""
    front, best = [], -np.inf
    for row in sorted(rows, key=lambda r: r["seconds"]):
        if row["psnr_true"] > best:
            front.append(row)
            best = row["psnr_true"]
    return front


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="draft", help="preset the grid varies (draft, preview, ...)")
    parser.add_argument("--shots", nargs="+", default=[s.name for s in SHOTS], help="which frames")
    parser.add_argument("--settings", help='instead of the grid: JSON {"name": {"field": value, "_scale": 0.5}}')
    parser.add_argument("--only", nargs="+", help="only these grid settings (names as printed)")
    parser.add_argument("--crop", type=float, default=None,
                        help="render a centre window this fraction of width and height (default 0.5 at 640x480 "
                             "and above, else the whole frame)")
    parser.add_argument("--repeat", type=int, default=0,
                        help="time each render this many times, take the median (default 3 below 640x480, else 1)")
    parser.add_argument("--grain", action="store_true",
                        help="render each setting again with another seed and record its grain (8-bit levels)")
    parser.add_argument("--save", type=Path, help="write each setting's image into this folder, to look at")
    parser.add_argument("--references-only", action="store_true", help="only render (and cache) the references")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/simgen_quality"))
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--mark", nargs="+", default=["base"], help="settings ringed in the plot")
    parser.add_argument("--plot", type=Path, nargs="+", help="plot these JSON results instead of rendering")
    parser.add_argument("--report", type=Path, help="print the table of this JSON result instead of rendering")
    parser.add_argument("-o", "--out", type=Path, default=Path("benchmarks/results/quality_front.png"))
    args = parser.parse_args()
    if args.report:
        print(table(json.loads(args.report.read_text())["rows"]))
        return
    if args.plot:
        plot(args.plot, args.out)
        print(f"wrote {args.out}")
        return
    base = load_preset(args.base)
    fraction = args.crop if args.crop is not None else (0.5 if base.resolution[0] >= 640 else 1.0)
    crop = None if fraction >= 1 else ((1 - fraction) / 2, (1 - fraction) / 2, (1 + fraction) / 2, (1 + fraction) / 2)
    settings = candidates(args.settings) if args.settings else grid(base)
    if args.settings:
        settings = {"base": ({}, 1.0), **settings}
    if args.only:
        settings = {k: v for k, v in settings.items() if k in args.only or k == "base"}
    args.cache.mkdir(parents=True, exist_ok=True)
    shots = tuple(s for s in SHOTS if s.name in args.shots)
    repeat = args.repeat or (1 if base.resolution[0] * base.resolution[1] >= 640 * 480 else 3)
    # every reference first: the timed renders then run one after the other, with nothing else in between
    run(args.base, shots, settings, crop, args.cache, args.cache / "blender.log", repeat, references_only=True)
    if args.references_only:
        return
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    rows = run(args.base, shots, settings, crop, args.cache, args.cache / "blender.log", repeat, grain=args.grain,
               save=args.save)
    print(table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        previous = json.loads(args.json.read_text()) if args.json.exists() else {}
        kept = [r for r in previous.get("rows", []) if (r["shot"], r["setting"]) not in
                {(row["shot"], row["setting"]) for row in rows}] if previous.get("base") == args.base else []
        args.json.write_text(json.dumps({"base": args.base, "crop": crop, "reference_samples": REFERENCE_SAMPLES,
                                         "marked": args.mark, "rows": kept + rows}, indent=1))


if __name__ == "__main__":
    main()
