"""Long-run behaviour: throughput with 1 and 2 workers, memory of a long run, COCO assembly time.

    python benchmarks/runs.py throughput -n 20
    python benchmarks/runs.py memory -n 500
    python benchmarks/runs.py assembly --frames 10000 100000
    python benchmarks/runs.py verify -n 20 --preset draft   # resume's check of finished frames
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenes" / "quickstart.yaml"


def _render(out: Path, frames: int, *extra: str, preset: str = "preview") -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "simgen", "render", str(SCENARIO), "-o", str(out), "-n", str(frames),
                    "--render-config", preset, "--no-progress", *extra], check=True, capture_output=True)
    return time.perf_counter() - start


def verify(frames: int, preset: str, copies: int) -> None:
    """What resume pays to trust a finished frame: every file re-read and its CRC-32 compared with the journal.
    The rendered frames are hard-linked ``copies`` times over to stand for a large dataset."""
    from simgen.dataset.writer import DatasetWriter, journal_line, read_journal

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        _render(out, frames, preset=preset)
        records = list(read_journal(out))
        journal = out / "frames.jsonl"
        with open(journal, "ab") as handle:
            for copy in range(1, copies):
                for record in records:
                    image = dict(record["image"], frame_index=record["image"]["frame_index"] + copy * frames)
                    name = f"{image['frame_index']:06d}"
                    files = {}
                    for key in ("file_name", "depth_file", "instance_file", "semantic_file"):
                        source, target = image[key], f"{image[key].split('/')[0]}/{name}.png"
                        (out / target).hardlink_to(out / source)
                        files[target] = record["files"][source]
                        image[key] = target
                    handle.write(journal_line({**record, "image": image, "files": files}))
        total = frames * copies
        size = sum(p.stat().st_size for sub in ("images", "depth", "instance", "semantic") for p in (out / sub).iterdir())
        subprocess.run(["sync"], check=False)
        start = time.perf_counter()
        done = DatasetWriter(out).finished_frames()
        seconds = time.perf_counter() - start
        assert len(done) == total
        print(f"verify {total} finished {preset} frames ({size / 2**20:.0f} MiB, page cache warm): {seconds:.2f} s = "
              f"{1e3 * seconds / total:.2f} ms per frame, {size / 2**20 / seconds:.0f} MiB/s")


def throughput(frames: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            seconds = _render(Path(tmp) / f"w{workers}", frames, "--workers", str(workers))
            print(f"--workers {workers}: {frames} preview frames in {seconds:.1f} s = {frames / seconds:.2f} frames/s "
                  f"(including start-up)")


def memory(frames: int) -> None:
    """RSS of the rendering process, sampled every second while it renders ``frames`` preview frames."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "long"
        process = subprocess.Popen([sys.executable, "-m", "simgen", "render", str(SCENARIO), "-o", str(out), "-n",
                                    str(frames), "--render-config", "preview", "--no-progress"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples = []  # (frames done, RSS MiB)
        while process.poll() is None:
            try:
                status = Path(f"/proc/{process.pid}/status").read_text()
                rss = int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024
                done = (out / "frames.jsonl").read_bytes().count(b"\n") if (out / "frames.jsonl").exists() else 0
                samples.append((done, rss))
            except (OSError, StopIteration):
                pass
            time.sleep(1.0)
    warm = next(rss for done, rss in samples if done >= min(50, frames // 5))
    peak_late = max(rss for done, rss in samples if done >= frames * 0.8)
    print(f"{frames} preview frames: RSS after warm-up (50 frames) {warm:.0f} MiB, peak over the last 20% "
          f"{peak_late:.0f} MiB: growth {100 * (peak_late - warm) / warm:+.1f}%")


def assembly(counts: list[int]) -> None:
    from simgen.dataset.assemble import assemble_coco

    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed"
        _render(seed, 1)
        record = json.loads((seed / "frames.jsonl").read_text().splitlines()[0])
        manifest = json.loads((seed / "manifest.json").read_text())
        for count in counts:
            out = Path(tmp) / f"a{count}"
            out.mkdir()
            with open(out / "frames.jsonl", "w") as journal:
                for index in range(count):
                    record["image"]["frame_index"] = index
                    record["image"]["id"] = index + 1
                    journal.write(json.dumps(record, separators=(",", ":")) + "\n")
            start = time.perf_counter()
            coco = assemble_coco(out, {}, manifest["categories"], manifest["asset_licenses"], count)
            seconds = time.perf_counter() - start
            print(f"assemble {count} frames ({len(coco['annotations'])} annotations, "
                  f"{(out / 'frames.jsonl').stat().st_size / 2**20:.0f} MiB journal): {seconds:.1f} s = "
                  f"{1e6 * seconds / count:.0f} us per frame")
            shutil.rmtree(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="what", required=True)
    commands.add_parser("throughput").add_argument("-n", type=int, default=20)
    commands.add_parser("memory").add_argument("-n", type=int, default=500)
    commands.add_parser("assembly").add_argument("--frames", type=int, nargs="+", default=[10000, 100000])
    check = commands.add_parser("verify")
    check.add_argument("-n", type=int, default=20)
    check.add_argument("--preset", default="draft")
    check.add_argument("--copies", type=int, default=50)
    args = parser.parse_args()
    if args.what == "throughput":
        throughput(args.n)
    elif args.what == "memory":
        memory(args.n)
    elif args.what == "verify":
        verify(args.n, args.preset, args.copies)
    else:
        assembly(args.frames)


if __name__ == "__main__":
    main()
