"""``simgen sheet``: one PNG that shows at a glance whether a dataset's labels sit where they should.

Each tile is an image with its instance masks tinted and outlined in distinct colours, the boxes,
and the category names; a title bar names the dataset. Small renders are scaled up so the labels
stay readable.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from simgen.annotate.instances import decode_rle
from simgen.annotate.tracks import clip_name
from simgen.dataset.writer import atomic_write_bytes
from simgen.errors import OutputError
from simgen.dataset.reader import ANNOTATIONS, CAMERAS, member, read_coco
from simgen.tools.export import annotations_by_image
from simgen.tools.args import positive_int

GAP = 10
TITLE_HEIGHT = 64
CAPTION_HEIGHT = 24
MASK_ALPHA = 0.45
BACKGROUND = (38, 33, 30)          # BGR, a dark slate
TILE_BACKGROUND = (24, 21, 19)
TEXT = (240, 240, 240)
MUTED = (170, 165, 160)
FONT = cv2.FONT_HERSHEY_SIMPLEX
TITLE_FONT = cv2.FONT_HERSHEY_DUPLEX


@dataclass(frozen=True)
class Layout:
    """Where tiles go: the sheet is GAP-separated tiles, each an image with a caption strip below."""

    count: int
    cols: int
    tile_width: int
    tile_height: int

    @property
    def rows(self) -> int:
        return math.ceil(self.count / self.cols)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the whole sheet in pixels."""
        width = self.cols * self.tile_width + (self.cols + 1) * GAP
        height = TITLE_HEIGHT + GAP + self.rows * (self.tile_height + CAPTION_HEIGHT + GAP)
        return width, height

    def origin(self, index: int) -> tuple[int, int]:
        """Top-left (x, y) of tile ``index``."""
        row, col = divmod(index, self.cols)
        return (GAP + col * (self.tile_width + GAP),
                TITLE_HEIGHT + GAP + row * (self.tile_height + CAPTION_HEIGHT + GAP))


def layout_for(images: Sequence[dict], cols: int, tile_width: int) -> Layout:
    """Tiles keep the first image's aspect ratio; fewer images than columns shrink the grid."""
    first = images[0]
    tile_height = max(1, round(tile_width * first["height"] / first["width"]))
    return Layout(len(images), max(1, min(cols, len(images))), tile_width, tile_height)


def palette(index: int) -> tuple[int, int, int]:
    """Distinct, saturated BGR colour number ``index`` (golden-angle hue steps never repeat soon)."""
    hue = int((index * 137.508) % 360) // 2  # OpenCV hue is 0..179
    hsv = np.array([[[hue, 200, 255]]], dtype=np.uint8)
    return tuple(int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def text_on(color: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever reads better on ``color``."""
    b, g, r = color
    return (0, 0, 0) if 0.114 * b + 0.587 * g + 0.299 * r > 150 else (255, 255, 255)


def ascii_text(text: str) -> str:
    """OpenCV's Hershey fonts draw ASCII only."""
    return text.encode("ascii", "replace").decode("ascii")


def fit_text(text: str, width: int, font: int, scale: float, thickness: int = 1) -> str:
    """``text`` cut with '...' so it fits ``width`` pixels."""
    text = ascii_text(text)
    while text and cv2.getTextSize(text, font, scale, thickness)[0][0] > width:
        text = text[:-4] + "..." if len(text) > 4 else ""
    return text


def draw_chip(canvas: np.ndarray, text: str, x: int, y: int, color: tuple[int, int, int]) -> None:
    """A filled label with its top-left at (x, y), kept inside the canvas."""
    scale, pad = 0.4, 3
    (w, h), base = cv2.getTextSize(text, FONT, scale, 1)
    x = min(max(x, 0), max(0, canvas.shape[1] - w - 2 * pad))
    y = min(max(y, 0), max(0, canvas.shape[0] - h - base - 2 * pad))
    cv2.rectangle(canvas, (x, y), (x + w + 2 * pad, y + h + base + 2 * pad), color, cv2.FILLED)
    cv2.putText(canvas, text, (x + pad, y + pad + h), FONT, scale, text_on(color), 1, cv2.LINE_AA)


def scaled_mask(segmentation: dict, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(decode_rle(segmentation).astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)


def render_tile(rgb: np.ndarray, annotations: list[dict], names: dict[int, str],
                width: int, height: int, tracks: bool = False) -> np.ndarray:
    """The image fitted into width x height with masks, outlines, boxes and names drawn on it; with
    ``tracks``, each object keeps its track's colour and number from frame to frame."""
    tile = np.full((height, width, 3), TILE_BACKGROUND, dtype=np.uint8)
    scale = min(width / rgb.shape[1], height / rgb.shape[0])
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    image = cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
    masks = [scaled_mask(a["segmentation"], size) for a in annotations]
    colors = [palette(a["mask_id"] if tracks else k) for k, a in enumerate(annotations)]
    tinted = image.copy()
    for mask, color in zip(masks, colors):
        tinted[mask > 0] = color
    image = cv2.addWeighted(tinted, MASK_ALPHA, image, 1 - MASK_ALPHA, 0)
    for mask, color in zip(masks, colors):
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(image, contours, -1, color, 1, cv2.LINE_AA)
    for annotation, color in zip(annotations, colors):
        x, y, w, h = annotation["bbox"]
        top_left = (round(x * scale), round(y * scale))
        cv2.rectangle(image, top_left, (round((x + w) * scale) - 1, round((y + h) * scale) - 1), color, 1)
    for annotation, color in zip(annotations, colors):  # names last, so no box is drawn over one
        x, y = (round(v * scale) for v in annotation["bbox"][:2])
        label = names.get(annotation["category_id"], "?") + (f" {annotation['mask_id']}" if tracks else "")
        draw_chip(image, ascii_text(label), x, y - 17 if y >= 17 else y, color)
    ox, oy = (width - size[0]) // 2, (height - size[1]) // 2
    tile[oy:oy + size[1], ox:ox + size[0]] = image
    return tile


def caption(image: dict, annotations: list[dict]) -> str:
    name = f"{image['camera_name']}/" if image.get("camera_name") else ""
    text = f"{name}{Path(image['file_name']).name}   {len(annotations)} object(s)"
    return text + (f"   [{', '.join(image['conditions'])}]" if image.get("conditions") else "")


def draw_title(canvas: np.ndarray, coco: dict[str, Any], shown: int, cameras: int = 1) -> None:
    """Dataset name large, then counts and categories in a muted line."""
    width = canvas.shape[1] - 2 * GAP
    name = coco.get("info", {}).get("description") or "simgen dataset"
    cv2.putText(canvas, fit_text(name, width, TITLE_FONT, 0.8), (GAP + 2, 30), TITLE_FONT, 0.8, TEXT, 1, cv2.LINE_AA)
    images, categories = coco["images"], coco["categories"]
    rig = f" x {cameras} cameras" if cameras > 1 else ""
    stats = (f"{shown} of {len(images)} image(s){rig}, {len(coco['annotations'])} object(s), "
             f"{images[0]['width']}x{images[0]['height']}   categories: {', '.join(c['name'] for c in categories)}")
    cv2.putText(canvas, fit_text(stats, width, FONT, 0.42), (GAP + 2, 52), FONT, 0.42, MUTED, 1, cv2.LINE_AA)


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OutputError(f"cannot read {path}; rerun the same 'simgen render' command to complete the dataset")
    return image


def contact_sheet(out: Path, dest: Path, n: int = 16, cols: int = 4, tile_width: int = 320) -> Path:
    """Write a grid of the first n images of the dataset in OUT, labels drawn on, to ``dest``."""
    png = sheet_png(out, read_coco(out), n, cols, tile_width)
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(dest, png)
    return dest


def sheet_png(out: Path, coco: dict, n: int = 16, cols: int = 4, tile_width: int = 320) -> bytes:
    """The contact sheet as PNG bytes, from a COCO dict the caller has already loaded. A rig's dataset
    shows one frame per row, its cameras side by side in the order they look, left to right."""
    tiles, cols = _tiles(out, coco, n, cols)
    if not tiles:
        raise OutputError(f"{out} holds no finished image yet; nothing to show")
    layout = layout_for([image for _, image, _ in tiles], cols, tile_width)
    names = {c["id"]: c["name"] for c in coco["categories"]}
    sheet_w, sheet_h = layout.size
    canvas = np.full((sheet_h, sheet_w, 3), BACKGROUND, dtype=np.uint8)
    shown = len({image["id"] for _, image, _ in tiles})
    draw_title(canvas, coco, shown, len(tiles) // shown)
    for index, (folder, image, labels) in enumerate(tiles):
        x, y = layout.origin(index)
        canvas[y:y + layout.tile_height, x:x + layout.tile_width] = render_tile(
            read_rgb(member(folder, image["file_name"], f"image {image['id']}: file_name")), labels, names,
            layout.tile_width, layout.tile_height)
        text = fit_text(caption(image, labels), layout.tile_width, FONT, 0.4)
        cv2.putText(canvas, text, (x + 1, y + layout.tile_height + 16), FONT, 0.4, MUTED, 1, cv2.LINE_AA)
    ok, png = cv2.imencode(".png", canvas)
    assert ok
    return png.tobytes()


def _tiles(out: Path, coco: dict, n: int, cols: int) -> tuple[list[tuple[Path, dict, list[dict]]], int]:
    """(folder, image, its annotations) per tile, and the number of columns."""
    images = sorted(coco["images"], key=lambda im: im["id"])
    by_image = annotations_by_image(coco)
    cameras = [(out, {im["id"]: im for im in images}, by_image)]
    for path in sorted((out / CAMERAS).glob(f"*/{ANNOTATIONS}")):
        view = read_coco(path.parent)
        cameras.append((path.parent, {im["id"]: im for im in view["images"]}, annotations_by_image(view)))
    if len(cameras) == 1:
        return [(out, image, by_image.get(image["id"], [])) for image in images[:n]], cols
    first = images[0] if images else None
    if first is not None:  # columns by where each camera looks, turned from the main one
        cameras.sort(key=lambda c: _yaw(first, c[1].get(first["id"], first)))
    rows = max(1, n // len(cameras))
    return [(folder, views[image["id"]], labels.get(image["id"], []))
            for image in images[:rows] for folder, views, labels in cameras if image["id"] in views], len(cameras)


def _yaw(main: dict, image: dict) -> float:
    """How far right of the main camera ``image``'s camera looks, in radians."""
    forward = np.array(image["camera"]["world_to_camera"])[2, :3]  # its optical axis in the world
    x, _, z = np.array(main["camera"]["world_to_camera"])[:3, :3] @ forward
    return math.atan2(x, z)


def clip_gifs(out: Path, folder: Path, tile_width: int = 480, clips: int | None = None) -> list[Path]:
    """One animated GIF per clip (a sequence's video), labels drawn, each track in its own colour."""
    from PIL import Image

    coco = read_coco(out)
    if not coco.get("videos"):
        raise OutputError(f"{out} holds single frames, not clips (no videos[] in its annotations.json)")
    by_image = annotations_by_image(coco)
    names = {c["id"]: c["name"] for c in coco["categories"]}
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for video in coco["videos"][:clips]:
        frames = sorted((im for im in coco["images"] if im.get("video_id") == video["id"]), key=lambda im: im["frame_id"])
        height = round(tile_width * frames[0]["height"] / frames[0]["width"])
        tiles = [render_tile(read_rgb(member(out, im["file_name"], f"image {im['id']}: file_name")),
                             by_image.get(im["id"], []), names, tile_width, height, tracks=True) for im in frames]
        pictures = [Image.fromarray(cv2.cvtColor(tile, cv2.COLOR_BGR2RGB)) for tile in tiles]
        path = folder / f"{clip_name(video['id'])}.gif"
        pictures[0].save(path, save_all=True, append_images=pictures[1:], loop=0,
                         duration=round(1000 / (video.get("fps") or 10)))
        written.append(path)
    return written


def run_sheet(args: argparse.Namespace) -> int:
    if args.gif:
        paths = clip_gifs(Path(args.out), Path(args.gif), args.tile_width, args.n)
        print(f"Wrote {len(paths)} clip GIF(s) of {args.out} to {args.gif}.")
        return 0
    path = contact_sheet(Path(args.out), Path(args.dest), args.n, args.cols, args.tile_width)
    print(f"Wrote a contact sheet of {args.out} to {path}.")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sheet", help="draw the first images with their labels into one PNG",
        description="Write a contact sheet of a dataset: the first N images in a grid, instance masks tinted "
                    "in distinct colours, boxes and category names drawn, the dataset name on top. "
                    "A quick look that labels and images agree.")
    parser.add_argument("out", metavar="OUT", help="dataset folder written by 'simgen render'")
    parser.add_argument("-o", "--dest", default="sheet.png", metavar="PNG", help="output PNG (default sheet.png)")
    parser.add_argument("-n", type=positive_int, default=16, help="number of images (default 16)")
    parser.add_argument("--cols", type=positive_int, default=4, help="images per row (default 4)")
    parser.add_argument("--tile-width", type=positive_int, default=320, metavar="PX",
                        help="width of each image in the sheet (default 320)")
    parser.add_argument("--gif", metavar="FOLDER", help="instead: an animated GIF per clip of a sequence (the "
                                                        "first N clips), each track in its own colour and number")
    parser.set_defaults(handler=run_sheet)
