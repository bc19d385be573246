"""MOTChallenge: ``{train,val,test}/clip_NNNNNN/{img1/000001.png, gt/gt.txt, seqinfo.ini}``, one folder per clip.

A ``gt.txt`` line is ``frame,id,left,top,width,height,considered,class,visibility`` with frames from 1,
the track's id within its clip (its mask id), the box in pixels, 1 for a target (0 for an ignored,
iscrowd region), the category id and simgen's measured visibility, as MOT16/17's ground truth has
them. Clips are split whole (simgen export splits a sequence's frames by clip), so no clip is seen
in two splits.
"""

from __future__ import annotations

import re

from simgen.annotate.tracks import clip_name
from simgen.dataset.ownership import FRAME_FILE, Layout
from simgen.dataset.reader import member
from simgen.plugins import EXPORTERS
from simgen.dataset.layout import SPLITS
from simgen.dataset.writer import atomic_write_bytes
from simgen.errors import OutputError
from simgen.tools.export import ExportJob, Exporter, annotations_by_image, place

LAYOUT = Layout("export:mot", frozenset({f"{split}/*/seqinfo.ini" for split in SPLITS}),
                {**{f"{split}/*/img1": FRAME_FILE for split in SPLITS},
                 **{f"{split}/*/gt": re.compile(r"gt\.txt") for split in SPLITS}})


def gt_line(frame: int, annotation: dict) -> str:
    x, y, w, h = annotation["bbox"]
    considered = 0 if annotation.get("iscrowd") else 1
    return (f"{frame},{annotation['mask_id']},{x},{y},{w},{h},{considered},{annotation['category_id']},"
            f"{annotation.get('visibility', 1.0)}\n")


def write(job: ExportJob) -> None:
    videos = {video["id"]: video for video in job.coco.get("videos", [])}
    if not videos:
        raise OutputError(f"{job.out} holds single frames, not clips; MOT needs a scenario with a sequence: section")
    by_image = annotations_by_image(job.coco)
    for split, images in job.splits.items():
        clips: dict[int, list[dict]] = {}
        for image in images:
            clips.setdefault(image["video_id"], []).append(image)
        for video_id, frames in sorted(clips.items(), key=lambda item: str(item[0])):
            video = videos.get(video_id)
            if video is None:
                raise OutputError(f"{job.out}: images of video {video_id!r} have no entry in videos[]")
            name = clip_name(video_id)
            folder = job.dest / split / name
            lines = []
            for image in sorted(frames, key=lambda im: im["frame_id"]):
                number = image["frame_id"] + 1
                source = member(job.out, image["file_name"], f"image {image['id']}: file_name")
                job.summary.placed[place(source, folder / "img1" / f"{number:06d}{source.suffix}", job.symlink)] += 1
                lines += [gt_line(number, a) for a in sorted(by_image[image["id"]], key=lambda a: a["mask_id"])]
            job.summary.labels += len(lines)
            (folder / "gt").mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(folder / "gt" / "gt.txt", "".join(lines).encode("ascii"))
            info = (f"[Sequence]\nname={name}\nimDir=img1\nframeRate={video.get('fps') or 0:g}\n"
                    f"seqLength={video['length']}\nimWidth={video['width']}\nimHeight={video['height']}\n"
                    f"imExt=.png\n")
            atomic_write_bytes(folder / "seqinfo.ini", info.encode("ascii"))


EXPORTERS.register("mot", Exporter(write, LAYOUT, "MOTChallenge: a folder per clip with img1/, gt/gt.txt, seqinfo.ini"))
