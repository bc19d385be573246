"""Per-frame files written atomically, and the append-only journal that says which frames are done.

A frame counts as finished only once its journal line is on disk, and that line is written
after every file of the frame. A crash at any moment leaves either a finished frame or
nothing that resume would trust.
"""

from __future__ import annotations

import errno
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np

from simgen.annotate.coco import frame_name
from simgen.errors import OutputError

SUBDIRS = ("images", "depth", "instance", "semantic")
JOURNAL = "frames.jsonl"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _as_output_error(exc, path) from None


def atomic_write_json(path: Path, payload: Any, compact: bool = False) -> None:
    """Indented for files people read (manifest); compact for the large ones tools read (COCO)."""
    text = json.dumps(payload, separators=(",", ":")) if compact else json.dumps(payload, indent=1)
    atomic_write_bytes(path, text.encode("utf-8"))


def _as_output_error(exc: OSError, path: Path) -> OutputError:
    if exc.errno == errno.ENOSPC:
        return OutputError(f"disk full while writing {path}; finished frames are kept, free space and rerun to resume")
    return OutputError(f"cannot write {path}: {exc.strerror}")


def _png(array: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", array, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    assert ok
    return encoded.tobytes()


def _float_depth(depth: np.ndarray, depth_format: str) -> bytes:
    """float32 metres along the camera axis as .npy or single-channel .exr (inf where nothing was hit)."""
    depth = depth.astype(np.float32)
    if depth_format == "npy":
        buffer = io.BytesIO()
        np.save(buffer, depth)
        return buffer.getvalue()
    import OpenEXR

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "depth.exr"
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        OpenEXR.File(header, {"Z": depth}).write(str(path))
        return path.read_bytes()


def read_journal(out: Path) -> Iterator[dict[str, Any]]:
    """Complete journal lines; a line cut short by a crash is ignored."""
    path = out / JOURNAL
    if not path.is_file():
        return
    with open(path, "rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break
            try:
                yield json.loads(raw)
            except json.JSONDecodeError:
                continue


class DatasetWriter:
    """Writes one frame's files into OUT and journals it."""

    def __init__(self, out: Path):
        self.out = out
        for sub in SUBDIRS:
            (out / sub).mkdir(parents=True, exist_ok=True)

    def repair(self) -> None:
        """After a crash: cut a half-written last journal line and remove half-written files.

        Without the cut, the next line appended would be glued onto the broken one and lost.
        Call it from the single journal writer before a run starts, never while workers write.
        """
        journal = self.out / JOURNAL
        if journal.is_file():
            data = journal.read_bytes()
            if data and not data.endswith(b"\n"):
                with open(journal, "r+b") as handle:
                    handle.truncate(data.rfind(b"\n") + 1)
        for sub in SUBDIRS:
            for leftover in (self.out / sub).glob(".*.tmp*"):
                leftover.unlink(missing_ok=True)

    def rgb_staging_path(self, index: int) -> Path:
        """Where the renderer writes the RGB PNG before the frame is committed."""
        return self.out / "images" / f".{frame_name(index)}.tmp.png"

    def write_frame(self, index: int, depth_mm: np.ndarray, instance: np.ndarray, semantic: np.ndarray,
                    depth_float: np.ndarray | None = None, depth_format: str = "none") -> None:
        """The frame's files; it is not finished until ``append_journal`` has recorded it."""
        name = frame_name(index)
        if depth_float is not None and depth_format != "none":
            atomic_write_bytes(self.out / "depth" / f"{name}.{depth_format}", _float_depth(depth_float, depth_format))
        atomic_write_bytes(self.out / "depth" / f"{name}.png", _png(depth_mm))
        atomic_write_bytes(self.out / "instance" / f"{name}.png", _png(instance.astype(np.uint16)))
        atomic_write_bytes(self.out / "semantic" / f"{name}.png", _png(semantic))
        try:
            os.replace(self.rgb_staging_path(index), self.out / "images" / f"{name}.png")
        except OSError as exc:
            raise _as_output_error(exc, self.out / "images" / f"{name}.png") from None

    def append_journal(self, record: dict[str, Any]) -> None:
        """Mark a frame finished: one line, flushed to disk before the next frame counts."""
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            with open(self.out / JOURNAL, "ab") as journal:
                journal.write(line)
                journal.flush()
                os.fsync(journal.fileno())
        except OSError as exc:
            raise _as_output_error(exc, self.out / JOURNAL) from None

    def finished_frames(self) -> set[int]:
        """Frames whose journal line exists and whose files are all present."""
        done = set()
        for record in read_journal(self.out):
            image = record["image"]
            files = (image["file_name"], image["depth_file"], image["instance_file"], image["semantic_file"],
                     *([image["depth_float_file"]] if "depth_float_file" in image else []))
            if all((self.out / f).is_file() for f in files):
                done.add(int(image["frame_index"]))
        return done
