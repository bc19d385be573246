"""Environments rendered for real (tiny Cycles renders): every pixel is a thing, a stuff class or sky,
the panoptic output agrees with its pixels, and validate accepts the dataset."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from simgen.annotate.stuff import STUFF, panoptic_ids
from simgen.cli import main
from tests.conftest import render
from tests.test_environment import ROOM, STREET, TABLETOP


CROSSING = {**STREET, "name": "crossing", "environment": {"type": "street", "street": {"intersection": 1.0}},
            "camera": {"orbit": {"distance": [15, 30], "elevation_deg": [5, 25]}}}


@pytest.fixture(scope="module", params=[(ROOM, 5), (ROOM, 6), (TABLETOP, 7), (TABLETOP, 8), (STREET, 9), (STREET, 10),
                                        (CROSSING, 11)],
                ids=["room-5", "room-6", "tabletop-7", "tabletop-8", "street-9", "street-10", "crossing-11"])
def dataset(request, tmp_path_factory) -> Path:
    spec, seed = request.param
    folder = tmp_path_factory.mktemp(f"{spec['name']}{seed}")
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump({**spec, "seed": seed, "frames": 2}))
    out = folder / "out"
    assert render(path, out) == 0
    return out


def test_every_pixel_is_a_thing_stuff_or_sky(dataset: Path) -> None:
    coco = json.loads((dataset / "annotations.json").read_text())
    things = len(coco["categories"])
    assert [c["name"] for c in coco["stuff_categories"]] == list(STUFF)
    for image in coco["images"]:
        semantic = cv2.imread(str(dataset / image["semantic_file"]), cv2.IMREAD_UNCHANGED)
        instance = cv2.imread(str(dataset / image["instance_file"]), cv2.IMREAD_UNCHANGED)
        assert (semantic > 0).all(), f"{int((semantic == 0).sum())} void pixels"
        stuff = semantic > things
        assert not (stuff & (instance > 0)).any(), "a labeled object's pixel is also stuff"
        depth = cv2.imread(str(dataset / image["depth_file"]), cv2.IMREAD_UNCHANGED)
        sky = semantic == things + 1 + STUFF.index("sky")
        assert np.array_equal(sky, (depth == 0) & (instance == 0)), "sky exactly where no ray hit anything"


def test_panoptic_segments_match_their_pixels(dataset: Path) -> None:
    panoptic = json.loads((dataset / "panoptic.json").read_text())
    coco = json.loads((dataset / "annotations.json").read_text())
    categories = {c["id"]: c for c in panoptic["categories"]}
    assert len(categories) == len(coco["categories"]) + len(STUFF)
    for entry, image in zip(panoptic["annotations"], coco["images"]):
        ids = panoptic_ids(cv2.imread(str(dataset / "panoptic" / entry["file_name"]))[..., ::-1])
        semantic = cv2.imread(str(dataset / image["semantic_file"]), cv2.IMREAD_UNCHANGED)
        segments = entry["segments_info"]
        assert len({s["id"] for s in segments}) == len(segments), "ids are unique"
        assert {int(i) for i in np.unique(ids)} - {0} == {s["id"] for s in segments}
        for segment in segments:
            mask = ids == segment["id"]
            assert segment["area"] == int(mask.sum())
            ys, xs = np.nonzero(mask)
            assert segment["bbox"] == [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                                       int(ys.max() - ys.min() + 1)]
            assert np.all(semantic[mask] == segment["category_id"])  # one category per segment, the map's
            assert categories[segment["category_id"]]["isthing"] == (segment["id"] < 1 << 16)
        masks = {a["mask_id"]: a for a in coco["annotations"] if a["image_id"] == image["id"]}
        for segment in (s for s in segments if s["id"] < 1 << 16):
            assert segment["area"] == masks[segment["id"]]["area"]  # the same pixels as the instance label


def test_validate_accepts_environment_datasets(dataset: Path) -> None:
    assert main(["validate", str(dataset)]) == 0


def test_validate_accepts_stuff_labels_without_panoptic(tmp_path) -> None:
    path = tmp_path / "room.yaml"
    path.write_text(yaml.safe_dump({**ROOM, "seed": 3, "frames": 1, "labels": {"panoptic": False}}))
    assert render(path, tmp_path / "out") == 0
    coco = json.loads((tmp_path / "out" / "annotations.json").read_text())
    assert coco["stuff_categories"] and not (tmp_path / "out" / "panoptic.json").exists()
    assert main(["validate", str(tmp_path / "out")]) == 0


@pytest.mark.parametrize("spec", [ROOM, TABLETOP, STREET], ids=["room", "tabletop", "street"])
def test_isolated_passes_left_out_or_windowed_change_no_mask(spec: dict, tmp_path: Path) -> None:
    """An object the environment's boxes cannot hide and no other object overlaps gets no isolated pass:
    alone, it covers exactly its visible pixels. A pass rendered only in its window gives the masks the
    whole frame gives."""
    from simgen.annotate.frame import plan_frame
    from simgen.run.redirect import redirect_output
    from tests.conftest import tiny_backend

    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({**spec, "frames": 4}))
    log = tmp_path / "blender.log"
    backend, bounds, sampler, _ = tiny_backend(path, log)
    left_out = windowed = 0
    try:
        for index in range(4):
            frame = sampler.sample(index)
            with redirect_output(log):
                backend.apply(frame)
                backend.render()
                visible = backend.save_outputs(tmp_path / "rgb.png").instance
                plan = plan_frame(frame, backend.asset_vertices, bounds)
                grouped = set(plan.hidden)
                free = [o.instance_id for o in frame.objects
                        if o.instance_id not in grouped and plan.extents[o.instance_id] is not None]
                alone = backend.render_isolated([[i] for i in free])
                whole = backend.render_isolated(plan.isolation_groups)
                window = backend.render_isolated(*plan.passes(grouped))
            for i in free:  # (the main render's own samples may add an edge pixel the 1-sample pass lacks)
                assert not (alone[i] & (visible != i)).any(), f"frame {index}: object {i} was hidden after all"
            for i, mask in whole.items():
                assert np.array_equal(window[i], mask), f"frame {index}: object {i}'s mask left its window"
            left_out += len(free)
            windowed += len(whole)
    finally:
        backend.close()
    assert left_out > 0 and windowed > 0, "these seeds have both kinds"
