"""Per-frame files written atomically, and the append-only journal that says which frames are done.

A frame counts as finished only once its journal line is on disk, and that line is written
after every file of the frame. Each line carries its own checksum and the size and checksum of
every file it vouches for, so resume keeps exactly what is intact: a damaged line is set aside
(never silently trusted), and a frame whose files changed on disk is rendered again.
"""

from __future__ import annotations

import errno
import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from simgen import outputs
from simgen.annotate.coco import frame_name
from simgen.dataset.reader import CAMERAS, member, record_files
from simgen.errors import DatasetError, DiskFullError, OutputError

SUBDIRS = outputs.folders()
JOURNAL = "frames.jsonl"
QUARANTINE = "frames.quarantine.jsonl"  # damaged journal lines, kept for the user to look at
RESERVE = ".simgen.reserve"  # disk space held back so a full disk still leaves a valid annotations.json
CHECK_SUFFIX = len(',"check":"00000000"}\n')


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise as_output_error(exc, path) from None


def atomic_write_json(path: Path, payload: Any, compact: bool = False) -> None:
    """Indented for files people read (manifest); compact for the large ones tools read (COCO)."""
    text = json.dumps(payload, separators=(",", ":")) if compact else json.dumps(payload, indent=1)
    atomic_write_bytes(path, text.encode("utf-8"))


def as_output_error(exc: OSError, path: Path) -> OutputError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(f"disk full while writing {path}")
    return OutputError(f"cannot write {path}: {exc.strerror}")


def fingerprint(data: bytes) -> list[int]:
    """[size, CRC-32] of a file's bytes: what the journal records and resume compares."""
    return [len(data), zlib.crc32(data)]


def journal_line(record: dict[str, Any]) -> bytes:
    """The record as one JSON line ending in its own checksum (a last key, so readers see plain JSON)."""
    body = json.dumps(record, separators=(",", ":"))
    return (body[:-1] + f',"check":"{zlib.crc32(body.encode("utf-8")):08x}"}}\n').encode("utf-8")


def record_problem(record: Any) -> str | None:
    """Why a parsed journal line cannot be a finished frame's record, or None."""
    if not isinstance(record, dict) or not isinstance(record.get("image"), dict):
        return "not a frame record"
    image = record["image"]
    index = image.get("frame_index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        return f"frame_index {index!r} is not a frame number"
    for key in outputs.always_keys():
        if not isinstance(image.get(key), str):
            return f"image.{key} is missing"
    if not isinstance(record.get("annotations"), list) or not all(isinstance(a, dict) for a in record["annotations"]):
        return "annotations is not a list of objects"
    files = record.get("files", {})
    if not isinstance(files, dict) or not all(isinstance(v, list) and len(v) == 2 for v in files.values()):
        return "files is not a table of [size, checksum]"
    return None


def parse_line(raw: bytes) -> dict[str, Any] | None:
    """A complete journal line as a record, or None when it is damaged (bad JSON, checksum, structure)."""
    try:
        record = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(record, dict) and "check" in record:
        body = raw[:-CHECK_SUFFIX] + b"}"
        if f"{zlib.crc32(body):08x}" != record.pop("check"):
            return None
    return record if record_problem(record) is None else None


@dataclass
class JournalScan:
    records: list[dict[str, Any]] = field(default_factory=list)  # in journal order
    lines: list[bytes] = field(default_factory=list)  # the records' lines, as written
    damaged: list[bytes] = field(default_factory=list)


def scan_journal(out: Path) -> JournalScan:
    """Every complete line, sorted into good records and damaged lines (a last line cut short is neither)."""
    scan = JournalScan()
    path = out / JOURNAL
    if not path.is_file():
        return scan
    with open(path, "rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break
            record = parse_line(raw)
            if record is None:
                scan.damaged.append(raw)
            else:
                scan.records.append(record)
                scan.lines.append(raw)
    return scan


def journal_lines(out: Path) -> int:
    """How many complete lines the journal has, counted without parsing them."""
    try:
        with open(out / JOURNAL, "rb") as handle:
            return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return 0


def read_journal(out: Path) -> Iterator[dict[str, Any]]:
    """The journal's intact records, in order; damaged lines and a line cut short by a crash are skipped."""
    yield from scan_journal(out).records


def intact(out: Path, record: dict[str, Any]) -> bool:
    """The frame's files are where its record says, with the sizes and checksums it recorded."""
    recorded = record.get("files", {})
    try:
        relatives = record_files(record)
    except DatasetError:
        return False
    for relative in relatives:
        try:
            path = member(out, relative, "journal")
            if relative not in recorded:  # written before checksums were journaled: existence is all we know
                if not path.is_file() or path.stat().st_size == 0:
                    return False
                continue
            size, crc = recorded[relative]
            if path.stat().st_size != size or zlib.crc32(path.read_bytes()) != crc:
                return False
        except (OSError, DatasetError):
            return False
    return True


class DiskReserve:
    """Disk space held in a file while a run writes, given back when the disk fills, so that the
    final annotations.json and manifest can still be written and the dataset stays valid."""

    def __init__(self, out: Path, base: int | None = None):
        self.path = out / RESERVE
        self.base = int(os.environ.get("SIMGEN_RESERVE_BYTES", 4 << 20)) if base is None else base

    def ensure(self, journal_bytes: int) -> None:
        """Grow the reserve to hold a COCO file as large as the journal, plus a manifest."""
        needed = self.base + journal_bytes + journal_bytes // 4
        try:
            if self.path.exists() and self.path.stat().st_size >= needed:
                return
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                os.posix_fallocate(fd, 0, needed)
            finally:
                os.close(fd)
        except OSError as exc:
            error = as_output_error(exc, self.path)
            if isinstance(error, DiskFullError):
                raise DiskFullError(f"disk full in {self.path.parent}: simgen holds back {needed / 2**20:.1f} MiB "
                                    f"there ({RESERVE}) so that a full disk still leaves a valid annotations.json, "
                                    f"and that much is not free") from None
            raise error from None

    def release(self) -> None:
        self.path.unlink(missing_ok=True)


class DatasetWriter:
    """Writes one frame's files into OUT and journals it."""

    def __init__(self, out: Path):
        self.out = out
        self._made: set[Path] = set()
        self._folder(out / "images")  # at once: an unwritable OUT fails before any render

    def _folder(self, path: Path) -> None:
        """Make an output's folder the first time it is written to (only the outputs a run writes get one)."""
        if path in self._made:
            return
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise as_output_error(exc, path) from None
        self._made.add(path)

    def repair(self) -> JournalScan:
        """After a crash: cut a half-written last journal line, set damaged lines aside in
        frames.quarantine.jsonl, and remove half-written files. Returns the journal as read (its
        ``damaged`` lines are the ones set aside), so callers need not read it again.

        Without the cut, the next line appended would be glued onto the broken one and lost.
        Call it from the single journal writer before a run starts, never while workers write.
        """
        journal = self.out / JOURNAL
        if journal.is_file():
            data = journal.read_bytes()
            if data and not data.endswith(b"\n"):
                with open(journal, "r+b") as handle:
                    handle.truncate(data.rfind(b"\n") + 1)
        scan = scan_journal(self.out)
        if scan.damaged:
            try:
                with open(self.out / QUARANTINE, "ab") as quarantine:
                    quarantine.writelines(scan.damaged)
            except OSError as exc:
                raise as_output_error(exc, self.out / QUARANTINE) from None
            atomic_write_bytes(journal, b"".join(scan.lines))
        for root in (self.out, *sorted((self.out / CAMERAS).glob("*"))):
            for sub in SUBDIRS:
                for leftover in (root / sub).glob(".*.tmp*"):
                    leftover.unlink(missing_ok=True)
        return scan

    def rgb_staging_path(self, index: int) -> Path:
        """Where the renderer writes the RGB PNG before the frame is committed."""
        return self.out / "images" / f".{frame_name(index)}.tmp.png"

    def write_frame(self, index: int, arrays: outputs.FrameArrays, labels: Any, folder: str = "",
                    staged: Path | None = None) -> dict[str, list[int]]:
        """The files of every output ``labels`` turns on, and their fingerprints for the frame's journal
        line; the frame is not finished until ``append_journal`` has recorded it. The RGB image, which
        the renderer wrote to ``staged`` (default: its staging path), is moved into place last. A rig
        camera's files go into its ``folder`` (cameras/NAME), keyed by their paths from the dataset."""
        files = {}
        rendered = []
        prefix = f"{folder}/" if folder else ""
        for output in outputs.enabled(labels):
            relative = prefix + output.path(index, labels)
            if output.encode is None:
                rendered.append(relative)
                continue
            data = output.encode(arrays, output.extension(labels))
            self._folder((self.out / relative).parent)
            atomic_write_bytes(self.out / relative, data)
            files[relative] = fingerprint(data)
        for relative in rendered:
            try:
                staged = staged or self.rgb_staging_path(index)
                self._folder((self.out / relative).parent)
                files[relative] = fingerprint(staged.read_bytes())
                os.replace(staged, self.out / relative)
            except OSError as exc:
                raise as_output_error(exc, self.out / relative) from None
        return files

    def append_journal(self, record: dict[str, Any]) -> int:
        """Mark a frame finished: one checksummed line, flushed to disk before the next frame counts.
        Returns the journal's size, which the disk reserve follows."""
        try:
            with open(self.out / JOURNAL, "ab") as journal:
                journal.write(journal_line(record))
                journal.flush()
                os.fsync(journal.fileno())
                return journal.tell()
        except OSError as exc:
            raise as_output_error(exc, self.out / JOURNAL) from None

    def finished_frames(self, records: list[dict[str, Any]] | None = None) -> set[int]:
        """Frames whose last journal record is intact and whose files match it byte for byte
        (``records``: the journal already read, e.g. by ``repair``)."""
        latest: dict[int, dict[str, Any]] = {}
        for record in read_journal(self.out) if records is None else records:
            latest[int(record["image"]["frame_index"])] = record
        return {index for index, record in latest.items() if intact(self.out, record)}


def replaceable(path: Path, marker: str) -> None:
    """Refuse to write a file beside the one a user named (a report's JSON, a patch's HTML) over a file
    simgen did not write: ours hold ``marker`` near their start."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise as_output_error(exc, path) from None
    if marker.encode("utf-8") not in head:
        raise OutputError(f"{path} exists and was not written by simgen; it would be replaced: choose another -o")
