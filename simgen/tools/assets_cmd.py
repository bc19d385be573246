"""``simgen assets``: which assets exist, whether a catalog's assets import cleanly, and fetching packs.

``list`` needs no Blender; ``check`` imports every asset of a catalog headless, exactly as a
render would, measures it and photographs it, so broken files, wrong units and missing textures
show up before a long run does. ``fetch`` runs a package client once (see :mod:`simgen.assets.packs`).

Heavy modules (Blender, OpenCV, pydantic models) are imported inside the functions that need
them, so registering this subcommand keeps ``simgen --help`` fast.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from simgen.assets.catalog import Catalog
    from simgen.assets.resolve import AssetRef

MAX_SIZE_M, MIN_SIZE_M = 50.0, 0.001  # longest sides outside this are almost always wrong units
THUMBNAIL_PX = 128
BROKEN_BGR = (60, 60, 230)


@dataclass
class AssetCheck:
    """What ``check`` found about one asset (or one entry that did not even resolve)."""

    entry: str
    key: str
    size: tuple[float, float, float] | None = None
    problems: list[str] = field(default_factory=list)
    thumbnail: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


# ----------------------------------------------------------------- list
def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _names(names: list[str], shown: int = 6) -> str:
    return ", ".join(names[:shown]) + (f", ... ({len(names) - shown} more)" if len(names) > shown else "")


def builtin_lines() -> list[str]:
    """Primitives, Blender's bundled HDRIs and the YCB meshes: what works with no catalog and no download."""
    from simgen.assets.resolve import PRIMITIVES, YCB_LICENSE, ycb_names
    from simgen.config.scenario import BUNDLED_HDRIS
    from simgen.errors import AssetError

    try:
        ycb = ycb_names()
        ycb_line = f"  ycb:<name>          {len(ycb):3d}  {_names(ycb, 4)}   {YCB_LICENSE}"
    except AssetError as exc:
        ycb_line = f"  ycb:<name>            -  {exc}"
    return ["Built in:",
            f"  primitive:<name>    {len(PRIMITIVES):3d}  {', '.join(PRIMITIVES)}   CC0 1.0",
            f"  world hdri: <name>  {len(BUNDLED_HDRIS):3d}  {', '.join(BUNDLED_HDRIS)}   CC0 1.0 (in Blender)",
            ycb_line]


def resolve_entry(catalog: Catalog, entry: str) -> tuple[list[AssetRef], str]:
    """An entry's assets, resolved the way a render resolves them, or ([], why that failed)."""
    from simgen.assets.resolve import resolve_asset
    from simgen.errors import AssetError

    try:
        return resolve_asset(f"catalog:{catalog.path}/{entry}", catalog.path.parent), ""
    except AssetError as exc:
        return [], str(exc)


def entry_summary(catalog: Catalog, entry: str) -> tuple[int, list[str], str]:
    """(file count, licences, problem) of one entry."""
    refs, problem = resolve_entry(catalog, entry)
    return len(refs), sorted({ref.license for ref in refs}), problem


def catalog_lines(catalog: Catalog) -> list[str]:
    """A catalog's header line, then one line per entry with its file count and licences."""
    rows = [(entry, *entry_summary(catalog, entry)) for entry in catalog.entries]
    width = max(len(entry) for entry, *_ in rows)
    title = f" ({catalog.name})" if catalog.name else ""
    lines = [f"  {catalog.id}{title}: {catalog.path}, {_count(len(rows), 'entry', 'entries')}, "
             f"{_count(sum(n for _, n, _, _ in rows), 'file')}"]
    for entry, n, licenses, problem in rows:
        detail = f"BROKEN: {problem}" if problem else f"{_count(n, 'file'):9s} {', '.join(licenses)}"
        lines.append(f"    catalog:{catalog.id}/{entry.ljust(width)}  {detail}")
    return lines


def pack_lines() -> list[str]:
    """Every known pack: fetched (with what it holds) or how to fetch it."""
    from simgen.assets.packs import PACKS, fetched_packs, packs_dir

    fetched = fetched_packs()
    lines = [f"Packs (fetch once with `simgen assets fetch NAME`, into {packs_dir()}):"]
    for name, pack in PACKS.items():
        record = fetched.get(name)
        if record is None:
            lines.append(f"  {name:11s} not fetched: {pack.summary}")
        elif "hdris" in record:
            lines.append(f"  {name:11s} {len(record['hdris'])} HDRIs ({record['license']}), use as world hdri: "
                         f"{record['folder']}/<name>.exr: {_names(record['hdris'])}")
        else:
            lines.append(f"  {name:11s} {record['files']} files in {len(record['classes'])} classes "
                         f"({record['license']}), listed as catalog '{name}' above")
    return lines


def list_assets(base_dir: Path) -> list[str]:
    """Everything a scenario in ``base_dir`` can use, with counts and licences."""
    from simgen.assets.catalog import catalog_dirs, catalog_files, load_catalog
    from simgen.errors import SimgenError

    lines = builtin_lines() + ["", f"Catalogs (asset: catalog:<catalog>/<entry>; searched in "
                                   f"{', '.join(str(d) for d in catalog_dirs(base_dir))} and the packs):"]
    for name, path in catalog_files(base_dir).items():
        try:
            lines += catalog_lines(load_catalog(path))
        except SimgenError as exc:
            lines.append(f"  {name}: BROKEN: {exc}")
    return lines + [""] + pack_lines()


def _list_command(args: argparse.Namespace) -> int:
    print("\n".join(list_assets(Path(args.dir))))
    return 0


# ----------------------------------------------------------------- check
def size_problems(size: tuple[float, float, float], ref: AssetRef) -> list[str]:
    """Zero-size meshes and sizes no real object has, which mostly mean wrong units."""
    from simgen.assets.catalog import UNITS

    longest = max(size)
    if longest <= 0:
        return ["zero-size mesh (all vertices at one point)"]
    if MIN_SIZE_M <= longest <= MAX_SIZE_M:
        return []
    file_units = longest / ref.scale  # the longest side in the file's own numbers
    better = [u for u, metres in UNITS.items() if 0.01 <= file_units * metres <= 10 and metres != ref.scale]
    hint = f"; wrong units? units: {better[0]} would make it {file_units * UNITS[better[0]]:.3g} m" if better else ""
    return [f"implausible size: longest side {longest:.4g} m{hint}"]


def _resolve_entries(catalog: Catalog) -> list[tuple[str, AssetRef | None, str]]:
    """(entry, asset, problem) for every asset of every entry; an entry that does not resolve gives one problem."""
    rows: list[tuple[str, AssetRef | None, str]] = []
    for entry in catalog.entries:
        refs, problem = resolve_entry(catalog, entry)
        rows += [(entry, ref, "") for ref in refs] if refs else [(entry, None, problem)]
    return rows


def _load(backend, ref: AssetRef) -> tuple[tuple[float, float, float] | None, str | None]:
    """Load one asset into the backend: (its size, None), or (None, what went wrong); never raises."""
    from simgen.errors import AssetError

    try:
        bounds = backend.load_assets([ref])[ref.key]
    except AssetError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a broken asset is a finding, not the end of the check
        return None, f"import failed: {type(exc).__name__}: {str(exc).strip().splitlines()[-1]}"
    return tuple(float(v) for v in bounds.size), None


def inspect_asset(backend, thumbnailer, entry: str, ref: AssetRef, thumbnail: Path) -> AssetCheck:
    """Import one asset as a render would, measure it, look for missing textures, photograph it."""
    from simgen.blender.preview import missing_images

    size, problem = _load(backend, ref)
    check = AssetCheck(entry, ref.key, size)
    if size is None:
        check.problems.append(str(problem))
        return check
    check.problems += size_problems(size, ref)
    obj = backend.library_object(ref.key)
    check.problems += [f"missing texture {name}" for name in missing_images(obj)]
    if thumbnailer is not None:
        thumbnailer.render(obj, thumbnail)
        check.thumbnail = thumbnail
    return check


def inspect_assets(catalog: Catalog, scratch: Path, thumbnails: bool) -> list[AssetCheck]:
    """Every asset of every entry checked in one headless Blender; entries that do not resolve are findings too."""
    from simgen.blender.backend import BlenderBackend
    from simgen.blender.preview import Thumbnailer
    from simgen.config.preset import RenderPreset

    backend = BlenderBackend(RenderPreset(name="assets-check", resolution=(64, 64), samples=1, device="cpu"), "cpu",
                             scratch_dir=scratch)
    thumbnailer = Thumbnailer(THUMBNAIL_PX) if thumbnails else None
    checks = []
    try:
        for index, (entry, ref, problem) in enumerate(_resolve_entries(catalog)):
            if ref is None:
                checks.append(AssetCheck(entry, f"catalog:{catalog.id}/{entry}", problems=[problem]))
            else:
                checks.append(inspect_asset(backend, thumbnailer, entry, ref, scratch / f"{index:05d}.png"))
    finally:
        if thumbnailer is not None:
            thumbnailer.close()
        backend.close()
    return checks


def _tile(check: AssetCheck, size: int) -> np.ndarray:
    """The asset's thumbnail, or a dark square; broken assets get a red frame."""
    import cv2
    import numpy as np

    from simgen.tools.sheet import FONT, TILE_BACKGROUND

    image = cv2.imread(str(check.thumbnail), cv2.IMREAD_COLOR) if check.thumbnail else None
    tile = cv2.resize(image, (size, size)) if image is not None else np.full((size, size, 3), TILE_BACKGROUND, np.uint8)
    if not check.ok:
        cv2.rectangle(tile, (0, 0), (size - 1, size - 1), BROKEN_BGR, 3)
        cv2.putText(tile, "BROKEN", (6, 18), FONT, 0.45, BROKEN_BGR, 1, cv2.LINE_AA)
    return tile


def _caption(check: AssetCheck) -> str:
    name = check.entry + (f"/{Path(check.key).stem}" if check.key.count("/") > 1 else "")
    if not check.ok:
        return f"{name}: {check.problems[0]}"
    return f"{name}  " + " x ".join(f"{v:.2g}" for v in check.size or ()) + " m"


def write_sheet(checks: list[AssetCheck], title: str, dest: Path) -> Path:
    """All thumbnails in one PNG, captioned with each asset's size or its first problem."""
    import math

    import cv2
    import numpy as np

    from simgen.dataset.writer import atomic_write_bytes
    from simgen.tools.sheet import BACKGROUND, FONT, MUTED, TEXT, TITLE_FONT, Layout, fit_text

    cols = max(8, math.ceil(math.sqrt(len(checks) * 1.5)))  # roughly 3:2, never a thin strip
    layout = Layout(len(checks), max(1, min(cols, len(checks))), THUMBNAIL_PX, THUMBNAIL_PX)
    width, height = layout.size
    canvas = np.full((height, width, 3), BACKGROUND, dtype=np.uint8)
    cv2.putText(canvas, fit_text(title, width - 20, TITLE_FONT, 0.6), (12, 36), TITLE_FONT, 0.6, TEXT, 1, cv2.LINE_AA)
    for index, check in enumerate(checks):
        x, y = layout.origin(index)
        canvas[y:y + THUMBNAIL_PX, x:x + THUMBNAIL_PX] = _tile(check, THUMBNAIL_PX)
        text = fit_text(_caption(check), THUMBNAIL_PX, FONT, 0.33)
        cv2.putText(canvas, text, (x, y + THUMBNAIL_PX + 15), FONT, 0.33,
                    MUTED if check.ok else BROKEN_BGR, 1, cv2.LINE_AA)
    ok, png = cv2.imencode(".png", canvas)
    assert ok
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(dest, png.tobytes())
    return dest


def report_lines(catalog: Catalog, checks: list[AssetCheck]) -> list[str]:
    """One line per asset: ok with its size, or BROKEN with every problem."""
    width = max((len(c.key) for c in checks), default=0)
    lines = [f"catalog '{catalog.id}' ({catalog.path}): {_count(len(catalog.entries), 'entry', 'entries')}, "
             f"{_count(len(checks), 'asset')}"]
    for check in checks:
        size = " x ".join(f"{v:.3g}" for v in check.size) + " m" if check.size else ""
        details = "  ".join(part for part in (size, "; ".join(check.problems)) if part)
        lines.append(f"  {'ok    ' if check.ok else 'BROKEN'} {check.key.ljust(width)}  {details}")
    return lines


def _check_command(args: argparse.Namespace) -> int:
    from simgen.assets.catalog import find_catalog
    from simgen.run.redirect import redirect_output

    catalog = find_catalog(args.catalog, Path.cwd())
    with tempfile.TemporaryDirectory(prefix="simgen-assets-") as scratch:
        with redirect_output(Path(scratch) / "blender.log"):  # importer and render chatter stay off the report
            checks = inspect_assets(catalog, Path(scratch), thumbnails=not args.no_sheet)
        broken = [c for c in checks if not c.ok]
        print("\n".join(report_lines(catalog, checks)))
        if not args.no_sheet:
            dest = Path(args.dest or f"{catalog.id}-check.png")
            write_sheet(checks, f"simgen assets check: {catalog.id}, {_count(len(checks), 'asset')}, "
                                f"{len(broken)} broken", dest)
            print(f"Thumbnails: {dest}")
    print(f"{len(broken)} of {_count(len(checks), 'asset')} broken." if broken else "All assets import cleanly.")
    return 1 if broken else 0


# ----------------------------------------------------------------- fetch
def _fetch_command(args: argparse.Namespace) -> int:
    from simgen.assets.packs import cache_dir, fetch_pack, fetched_packs, pack_dir

    cache = Path(args.cache).expanduser() if args.cache else None
    if not args.source and (args.force or args.name not in fetched_packs(cache)):
        print(f"Fetching pack '{args.name}' into {pack_dir(args.name, cache)} (one download, then offline) ...",
              flush=True)
    record = fetch_pack(args.name, cache, Path(args.source).expanduser() if args.source else None, args.force)
    what = (f"{len(record['hdris'])} HDRIs in {record['folder']}" if "hdris" in record
            else f"{_count(record['files'], 'model')} in {_count(len(record['classes']), 'class', 'classes')}: "
                 f"use catalog:{args.name}/<class> "
                 f"({', '.join(record['classes'])})")
    print(f"Pack '{args.name}' {'was already fetched' if record.get('already_fetched') else 'ready'}: {what}; "
          f"licences: {record['license']}.")
    if cache is not None and cache.resolve() != cache_dir().resolve():
        print(f"Scenarios look for packs in {cache_dir()}: set SIMGEN_CACHE={cache} to use this one.")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``assets list|check|fetch`` to the ``simgen`` subcommands."""
    from simgen.assets.packs import PACKS

    parser = subparsers.add_parser(
        "assets", help="list available assets, check a catalog's assets, fetch asset packs",
        description="Assets a scenario can use: built-ins (primitive:, ycb:, bundled HDRIs), catalogs "
                    "(catalog:<catalog>/<entry>, from assets/*.yaml files) and packs fetched into the cache.")
    actions = parser.add_subparsers(dest="assets_command", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="every available class and source, with counts and licences")
    listing.add_argument("--dir", default=".", help="a scenario's folder: its assets/ is searched too (default: .)")
    listing.set_defaults(handler=_list_command)

    check = actions.add_parser(
        "check", help="import every asset of a catalog headless and report broken ones",
        description="Import every asset of CATALOG as a render would and report: files that are missing or do not "
                    "import, zero-size meshes, sizes beyond 1 mm..50 m (wrong units), missing textures. Writes a "
                    "thumbnail sheet. Exit status: 0 all good, 1 broken assets, 2 the catalog itself is invalid.")
    check.add_argument("catalog", metavar="CATALOG", help="a catalog's name (e.g. ycb) or its .yaml file")
    check.add_argument("-o", "--dest", metavar="PNG", help="thumbnail sheet (default: CATALOG-check.png)")
    check.add_argument("--no-sheet", action="store_true", help="no thumbnails: only import and measure")
    check.set_defaults(handler=_check_command)

    fetch = actions.add_parser(
        "fetch", help="download an asset pack once into the cache (apt, npm, pip)",
        description="Fetch a pack with its ordinary package client into the cache (~/.cache/simgen/packs, or "
                    "$SIMGEN_CACHE). Packs: " + "; ".join(f"{p.name}: {p.summary}" for p in PACKS.values()) +
                    ". Nothing is downloaded at render time.")
    fetch.add_argument("name", choices=sorted(PACKS), metavar="NAME", help=", ".join(sorted(PACKS)))
    fetch.add_argument("--cache", metavar="DIR", help="cache folder instead of ~/.cache/simgen ($SIMGEN_CACHE)")
    fetch.add_argument("--from", dest="source", metavar="FILE",
                       help="use a .deb / .tgz / .whl downloaded elsewhere instead of running apt-get / npm / pip here")
    fetch.add_argument("--force", action="store_true", help="fetch again even if the pack is already there")
    fetch.set_defaults(handler=_fetch_command)
