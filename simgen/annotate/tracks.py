"""Clips in COCO (pure): ``videos[]`` and ``tracks[]`` from the finished frames, and each track's events.

The layout is COCO-video, as YouTube-VIS- and TAO-style loaders read it: images carry ``video_id`` and
``frame_id`` (the frame's place in its clip), annotations ``track_id``. A track's state in a frame is
*visible* (it has an annotation), *occluded* (its box reaches into the image but no pixel of it is
seen, or too few to keep) or *out* (outside the image or behind the camera); each change of state is
an event: ``enter``, ``leave``, ``occluded``, ``reappear``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from simgen.annotate.coco import track_id


def clip_name(video_id: Any) -> str:
    """A clip's name, and its folder or file name in exports: made from its id, never read from a dataset's
    own files, so a doctored COCO file cannot name a path outside the export."""
    if not isinstance(video_id, int) or isinstance(video_id, bool) or video_id < 1:
        from simgen.errors import DatasetError

        raise DatasetError(f"video id {video_id!r}: expected a whole number from 1")
    return f"clip_{video_id - 1:06d}"


def videos_and_tracks(images: list[dict[str, Any]], annotations: list[dict[str, Any]]
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(videos, tracks) of the images that belong to clips, in id order."""
    frames: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for image in images:
        if "video_id" in image:
            frames[int(image["video_id"])].append(image)
    labeled: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)  # image id -> track -> annotation
    for annotation in annotations:
        if "track_id" in annotation:
            labeled[annotation["image_id"]][annotation["track_id"]] = annotation
    videos, tracks = [], {}
    for video, members in sorted(frames.items()):
        members.sort(key=lambda image: image["frame_id"])
        first = members[0]
        clip = (first.get("params") or {}).get("clip") or {}
        events = []
        states: dict[int, str] = {}
        for image in members:
            seen = labeled.get(image["id"], {})
            for track, annotation in seen.items():
                tracks.setdefault(track, {"id": track, "video_id": video, "category_id": annotation["category_id"],
                                          "frames": 0})["frames"] += 1
            shown = {track_id(video - 1, mask) for mask in image.get("in_view", [])} | set(seen)
            for track in sorted(shown | set(states)):
                state = "visible" if track in seen else "occluded" if track in shown else "out"
                before = states.get(track)
                event = _event(before, state) if before is not None else None
                if event:
                    events.append({"track_id": track, "frame_id": image["frame_id"], "event": event})
                states[track] = state
        videos.append({"id": video, "name": clip_name(video), "width": first["width"],
                       "height": first["height"], "length": len(members), "fps": clip.get("fps"),
                       "first_frame_index": first["frame_index"], "events": events})
    return videos, [tracks[key] for key in sorted(tracks)]


def _event(before: str, after: str) -> str | None:
    if before == after:
        return None
    if after == "out":
        return "leave"
    if before == "out":
        return "enter"
    return "occluded" if after == "occluded" else "reappear"
