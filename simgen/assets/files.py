"""Asset and image globs, confined and bounded: a pattern may not wander the whole disk.

A glob in a scenario (``meshes/**/*.obj``) is expanded inside the scenario's own folder, the
current folder, or a folder the user names in ``SIMGEN_ASSET_ROOTS`` (separated by ``:``), but
never from the filesystem root or the home folder itself unless that is named there; a pattern
that starts elsewhere (``/**/*.obj``) is refused before any directory is read, and a match list
is cut off at MAX_GLOB_MATCHES with an error. Plain file paths (no wildcard) go anywhere.
"""

from __future__ import annotations

import glob
import importlib.util
import os
from pathlib import Path

from simgen.config.limits import MAX_GLOB_MATCHES
from simgen.errors import AssetError

ROOTS_VARIABLE = "SIMGEN_ASSET_ROOTS"


def absolute(pattern: str, base_dir: Path) -> Path:
    path = Path(pattern).expanduser()
    return path if path.is_absolute() else base_dir / path


def _fixed_part(path: Path) -> Path:
    """The leading folders of a pattern that hold no wildcard: where the glob starts reading."""
    parts = []
    for part in path.parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(path.anchor or ".")


def _declared_roots() -> list[Path]:
    return [Path(p).expanduser().resolve() for p in os.environ.get(ROOTS_VARIABLE, "").split(os.pathsep) if p]


def glob_allowed(start: Path, base_dir: Path) -> bool:
    """Whether a glob may read below ``start`` (an absolute folder)."""
    declared = _declared_roots()
    if any(start.is_relative_to(root) for root in declared):
        return True
    too_wide = {Path(start.anchor), Path.home().resolve()}
    return start not in too_wide and any(start.is_relative_to(root.resolve()) for root in (base_dir, Path.cwd()))


def expand(pattern: str, base_dir: Path, what: str) -> list[Path]:
    """The files and folders ``pattern`` names (a path, or a glob relative to ``base_dir``), sorted."""
    path = absolute(pattern, base_dir)
    if not glob.has_magic(str(path)):
        return [path] if path.exists() else []
    start = _fixed_part(path).resolve()
    if not glob_allowed(start, base_dir):
        raise AssetError(f"{what} '{pattern}' is a glob that would search all of {start}; globs stay inside the "
                         f"scenario's folder or the current one, and not at / or the home folder itself (name "
                         f"other folders in {ROOTS_VARIABLE}); a plain file path may point anywhere")
    found: list[Path] = []
    for match in glob.iglob(str(path), recursive=True):
        found.append(Path(match))
        if len(found) > MAX_GLOB_MATCHES:
            raise AssetError(f"{what} '{pattern}' matches more than {MAX_GLOB_MATCHES} files; narrow the pattern")
    return sorted(found)


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".exr", ".hdr", ".tif", ".tiff", ".webp")


def expand_files(pattern: str, base_dir: Path, what: str) -> list[str]:
    """The image files a file, folder or glob names, sorted so draws are reproducible."""
    path = absolute(pattern, base_dir)
    candidates = sorted(path.iterdir()) if path.is_dir() else expand(pattern, base_dir, what)
    files = [str(c) for c in candidates if c.suffix.lower() in IMAGE_SUFFIXES and c.is_file()]
    if not files:
        raise AssetError(f"{what} '{pattern}' matches no image file (looked in {path})")
    return files


def image_problem(path: Path) -> str | None:
    """Why Blender could not use ``path`` as an image (not readable, not the format its name says), or None.

    Reads headers only, so checking a folder of HDRIs stays cheap; a file that is text renders as
    Blender's magenta 'missing image' colour, silently, which is what this catches.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        return f"cannot read it ({exc.strerror})"
    suffix = path.suffix.lower()
    if suffix == ".exr":
        if head[:4] != b"\x76\x2f\x31\x01":
            return "not an OpenEXR file"
        try:
            import OpenEXR

            OpenEXR.File(str(path), header_only=True)
        except Exception as exc:  # noqa: BLE001 - OpenEXR raises plain exceptions with the reason
            return f"a damaged OpenEXR file ({exc})"
        return None
    if suffix == ".hdr":
        return None if head.startswith((b"#?RADIANCE", b"#?RGBE")) else "not a Radiance .hdr file"
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return f"not a readable image ({exc})"
    return None


def bundled_hdri_file(name: str) -> Path:
    """A bundled HDRI: one of the studio-light worlds inside the bpy package, found without importing bpy."""
    spec = importlib.util.find_spec("bpy")
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        for found in sorted(Path(root).glob(f"*/datafiles/studiolights/world/{name}.exr")):
            return found
    return Path(roots[0] if roots else ".") / "datafiles" / "studiolights" / "world" / f"{name}.exr"
