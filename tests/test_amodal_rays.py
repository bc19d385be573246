"""Amodal masks cast from the label pass's own rays equal the isolated renders they replace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.test_environment import ROOM, STREET, TABLETOP

# Two unit cubes side by side: one of glass the label passes see through (alpha 0.2), one opaque.
GLASS_AND_BODY_OBJ = """mtllib parts.mtl
v -1 -0.5 0
v 0 -0.5 0
v 0 0.5 0
v -1 0.5 0
v -1 -0.5 1
v 0 -0.5 1
v 0 0.5 1
v -1 0.5 1
v 0 -0.5 0
v 1 -0.5 0
v 1 0.5 0
v 0 0.5 0
v 0 -0.5 1
v 1 -0.5 1
v 1 0.5 1
v 0 0.5 1
usemtl glass
f 1 4 3 2
f 5 6 7 8
f 1 2 6 5
f 2 3 7 6
f 3 4 8 7
f 4 1 5 8
usemtl body
f 9 12 11 10
f 13 14 15 16
f 9 10 14 13
f 10 11 15 14
f 11 12 16 15
f 12 9 13 16
"""
PARTS_MTL = "newmtl glass\nKd 0.8 0.9 1.0\nd 0.2\nnewmtl body\nKd 0.8 0.2 0.1\nd 1.0\n"


def _inside(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` whose four neighbours are in it too (not on its edge)."""
    padded = np.pad(mask, 1)
    return mask & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]


def _cast_against_renders(path: Path, frames: int, tmp_path: Path) -> tuple[int, int, int, int]:
    """For every object of every frame: the cast mask is the isolated render's plus the object's visible
    pixels, and a cast inside the object's window equals the whole-frame cast. Returns objects cast,
    objects left to a pass, objects whose hidden pixels the cast found, and objects whose mask would
    be larger if every face were opaque."""
    from simgen.annotate.frame import plan_frame
    from simgen.run.redirect import redirect_output
    from tests.conftest import tiny_backend

    log = tmp_path / "blender.log"
    backend, bounds, sampler, preset = tiny_backend(path, log)
    cast_count = left_count = found = see_through = 0
    try:
        for index in range(frames):
            frame = sampler.sample(index)
            ids = [o.instance_id for o in frame.objects]
            with redirect_output(log):
                backend.apply(frame)
                backend.render()
                passes = backend.save_outputs(tmp_path / "rgb.png")
                if frame.camera.stereo_baseline_m is not None:  # the camera moves to the right and back
                    backend.render_right(frame, tmp_path / "right.png")
                plan = plan_frame(frame, backend.asset_vertices, bounds)
                whole, left = backend.cast_amodal(ids, passes, {i: (0, 0, *preset.resolution) for i in ids})
                windowed, _ = backend.cast_amodal(plan.hidden, passes, {i: plan.window(i) for i in plan.hidden})
                alone = backend.render_isolated([[i] for i in whole])
            for i, mask in whole.items():
                visible = passes.instance == i
                differ = mask ^ (alone[i] | visible)
                # (a render alone may, rarely, place an edge pixel's sample apart from the main render's)
                assert differ.sum() <= 2 and not (differ & _inside(mask | alone[i])).any(), \
                    f"frame {index}: object {i}: {int((mask & ~alone[i]).sum())} pixels more than alone, " \
                    f"{int((alone[i] & ~mask).sum())} fewer"
                found += bool((mask & ~visible).any())
                obj = next(o for o in backend._shown_objects if o.pass_index == i)
                solid = backend._rays.mask(obj, np.ones(len(obj.data.polygons), dtype=bool), passes.instance,
                                           passes.points, backend.scene.camera, (0, 0, *preset.resolution), 8)
                see_through += bool((solid & ~mask).any())
            for i, mask in windowed.items():
                assert np.array_equal(mask, whole[i]), f"frame {index}: object {i}'s mask left its window"
            cast_count += len(whole)
            left_count += len(left)
    finally:
        backend.close()
    return cast_count, left_count, found, see_through


CROWDED_TABLE = {**TABLETOP, "classes": [{**TABLETOP["classes"][0], "count": [4, 6]}, TABLETOP["classes"][1]]}


@pytest.mark.parametrize("spec", [ROOM, CROWDED_TABLE, STREET], ids=["room", "tabletop", "street"])
def test_cast_masks_equal_isolated_renders(spec: dict, tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({**spec, "frames": 6}))
    cast, left, found, see_through = _cast_against_renders(path, 6, tmp_path)
    assert cast > 0 and left == 0, "primitives have one opaque material"
    assert found > 0, "these seeds hide some object in part"
    assert see_through == 0


def test_cast_after_a_stereo_view_uses_the_left_camera(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({**ROOM, "frames": 3, "labels": {"outputs": ["stereo"]}}))
    cast, _, found, _ = _cast_against_renders(path, 3, tmp_path)
    assert cast > 0 and found > 0


def test_see_through_faces_are_passed_as_in_a_label_pass(tmp_path: Path) -> None:
    """A glass half (alpha 0.2, under the view layer's 0.5) is not in the mask, as a label pass does not
    show it, unless the opaque half lies behind it on the ray."""
    (tmp_path / "parts.obj").write_text(GLASS_AND_BODY_OBJ)
    (tmp_path / "parts.mtl").write_text(PARTS_MTL)
    spec = {**TABLETOP, "frames": 3,
            "classes": [{"name": "parts", "asset": str(tmp_path / "parts.obj"), "count": [2, 3], "size_m": 0.3,
                         "material": {"mode": "keep"}}]}
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(spec))
    cast, left, _, see_through = _cast_against_renders(path, 3, tmp_path)
    assert cast > 0 and left == 0
    assert see_through > 0, "the glass half leaves pixels out"


def test_surface_alpha_reads_what_cycles_would() -> None:
    import bpy

    from simgen.blender.rays import surface_alpha

    def principled(alpha: float) -> bpy.types.Material:
        material = bpy.data.materials.new("alpha")
        material.node_tree.nodes["Principled BSDF"].inputs["Alpha"].default_value = alpha
        return material

    assert surface_alpha(None) == 1.0
    assert surface_alpha(principled(1.0)) == 1.0
    assert surface_alpha(principled(0.3)) == pytest.approx(0.3)
    textured = principled(1.0)
    tree = textured.node_tree
    image = tree.nodes.new("ShaderNodeTexImage")
    tree.links.new(image.outputs["Alpha"], tree.nodes["Principled BSDF"].inputs["Alpha"])
    assert surface_alpha(textured) is None, "alpha that varies over the surface needs shading"
    mixed = principled(1.0)
    tree = mixed.node_tree
    tree.nodes.new("ShaderNodeBsdfTransparent")
    assert surface_alpha(mixed) is None
    empty = principled(1.0)
    empty.node_tree.links.remove(empty.node_tree.nodes["Material Output"].inputs["Surface"].links[0])
    assert surface_alpha(empty) is None, "no surface: a volume boundary rays pass"
