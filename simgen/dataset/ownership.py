"""Which folders and files are simgen's: the only ones it ever deletes or writes over.

A folder simgen creates for a dataset or an export gets a marker file (``.simgen``) before
anything else is written into it. Deleting needs two things: the folder's marker says it is
simgen's, of the kind being replaced, and the file has a name simgen writes there (a
``Layout``). Anything else in the folder is somebody else's: it is never deleted, and its
presence makes simgen refuse with a message that names it, instead of offering a flag that
would lose it.

Each run also holds an advisory lock on its folder (``.simgen.lock``), so two runs can never
write one dataset at the same time.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Mapping

import simgen
from simgen.errors import OutputError

MARKER = ".simgen"
LOCK = ".simgen.lock"
FRAME_FILE = re.compile(r"\d{6,}\.(png|npy|exr|txt)")  # what simgen names per-frame files
STAGING_FILE = re.compile(r"\.\d{6,}\..*tmp.*")


@dataclass(frozen=True)
class Layout:
    """The names simgen writes in a folder of one kind: top-level files, and folders of frame files."""

    kind: str
    files: frozenset[str]  # names at the top, or paths below it ("cameras/*/annotations.json")
    folders: Mapping[str, re.Pattern[str]] = field(default_factory=dict)  # "images/train" -> names written there
    evidence: str | None = None  # a file (JSON with simgen_version) that proves an unmarked folder is simgen's

    def owns_file(self, relative: Path) -> bool:
        parts = relative.parts
        if len(parts) == 1:
            return parts[0] in self.files or parts[0] in (MARKER, LOCK)
        if any(_matches(path.split("/"), parts) for path in self.files if "/" in path):
            return True
        return any(_matches(folder.split("/"), parts[:-1]) and bool(
            pattern.fullmatch(parts[-1]) or STAGING_FILE.fullmatch(parts[-1])) for folder, pattern in self.folders.items())

    def owns_folder(self, relative: Path) -> bool:
        parts = relative.parts
        return any(_matches(folder.split("/")[:len(parts)], parts) for folder in self.folders)


NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")  # what a '*' in a Layout path stands for: a name simgen gives (a rig camera)


def _matches(pattern: list[str], parts: tuple[str, ...]) -> bool:
    """A path's parts against a Layout path's, where '*' is any one simgen name."""
    return len(pattern) == len(parts) and all(
        p == part or (p == "*" and bool(NAME.fullmatch(part))) for p, part in zip(pattern, parts))


def marked_kind(folder: Path) -> str | None:
    """The kind written in the folder's marker, or None when it has none (or it is unreadable)."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker.get("kind") if isinstance(marker, dict) and isinstance(marker.get("kind"), str) else None


def _visible_entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError as exc:
        raise OutputError(f"cannot read {folder}: {exc.strerror}") from None


def foreign_files(folder: Path, layout: Layout, limit: int = 5) -> list[Path]:
    """Up to ``limit`` entries below ``folder`` that are not simgen's by ``layout``."""
    found: list[Path] = []
    pending = [Path()]
    while pending and len(found) < limit:
        relative_dir = pending.pop()
        for entry in _visible_entries(folder / relative_dir):
            relative = relative_dir / entry.name
            if entry.is_dir() and not entry.is_symlink() and layout.owns_folder(relative):
                pending.append(relative)
            elif not (entry.is_file() or entry.is_symlink()) or not layout.owns_file(relative):
                found.append(relative)
                if len(found) >= limit:
                    break
    return found


def _describe(folder: Path, entries: list[Path]) -> str:
    shown = ", ".join(str(folder / e) for e in entries[:3])
    return shown + (" and more" if len(entries) > 3 else "")


def _has_files(folder: Path) -> bool:
    return any(path.is_file() or path.is_symlink() for path in folder.rglob("*"))


def _written_by_simgen(folder: Path, layout: Layout) -> bool:
    if layout.evidence is None:
        return False
    try:
        record = json.loads((folder / layout.evidence).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and "simgen_version" in record


def claim(folder: Path, layout: Layout) -> bool:
    """Make ``folder`` simgen's for ``layout.kind`` (creating it); returns whether it was created.

    An existing folder is accepted only if it is marked as this kind, holds no file at all (empty
    folders: a run killed while starting), or, written before markers existed, holds the layout's
    ``evidence`` file (a manifest that says simgen made it) and nothing but simgen's own names.
    Names alone prove nothing: a user's ``annotations.json`` is called that too.
    """
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} exists and is not a folder; choose another output folder")
    created = not folder.exists()
    if not created:
        kind = marked_kind(folder)
        if kind is not None and kind != layout.kind:
            raise OutputError(f"{folder} holds a simgen {kind.replace(':', ' ')}, not a {layout.kind.replace(':', ' ')}; "
                              f"choose another output folder")
        if kind is None:
            foreign = foreign_files(folder, layout)
            if not foreign and _has_files(folder) and not _written_by_simgen(folder, layout):
                foreign = [p.relative_to(folder) for p in sorted(folder.rglob("*")) if p.is_file()][:5]
            if foreign:
                raise OutputError(f"{folder} is not empty and was not written by simgen (it holds "
                                  f"{_describe(folder, foreign)}); choose a new or empty output folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if marked_kind(folder) != layout.kind:
            payload = {"kind": layout.kind, "simgen_version": simgen.__version__,
                       "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "note": "simgen deletes or replaces only its own files in this folder"}
            (folder / MARKER).write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {folder}: {exc.strerror}") from None
    return created


def clear(folder: Path, layout: Layout) -> int:
    """Delete simgen's own files of ``layout`` in ``folder``; returns how many. Refuses, deleting
    nothing, if the folder is not marked as this kind or holds anything simgen did not write."""
    if marked_kind(folder) != layout.kind:
        raise OutputError(f"{folder} is not marked as a simgen {layout.kind.replace(':', ' ')}; "
                          f"simgen deletes only in folders it created")
    foreign = foreign_files(folder, layout)
    if foreign:
        raise OutputError(f"{folder} also holds files simgen did not write ({_describe(folder, foreign)}); "
                          f"move them out first: simgen deletes only its own files, and nothing was deleted")
    removed = 0
    for directory, subdirs, files in os.walk(folder, topdown=False):
        relative_dir = Path(directory).relative_to(folder)
        for name in files:
            relative = relative_dir / name
            if relative.name not in (MARKER, LOCK) and layout.owns_file(relative):
                (folder / relative).unlink(missing_ok=True)
                removed += 1
        if relative_dir != Path() and layout.owns_folder(relative_dir):
            try:
                os.rmdir(directory)
            except OSError:
                pass  # not empty: something appeared meanwhile, and it is kept
    return removed


class FolderLock:
    """An exclusive advisory lock on a folder, held while simgen writes into it; the OS releases it
    when the process ends in any way, so a killed run never leaves a stale lock behind."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._handle: IO[str] | None = None

    def __enter__(self) -> "FolderLock":
        path = self.folder / LOCK
        try:
            handle = open(path, "a+", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"cannot write into {self.folder}: {exc.strerror}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise OutputError(f"{self.folder} is being written by another simgen run ({holder}); wait for it to "
                              f"finish or stop it, or choose another output folder") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since "
                     f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()  # closing releases the lock
            self._handle = None
