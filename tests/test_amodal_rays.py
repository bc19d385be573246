"""Amodal masks cast from the label pass's own rays equal the isolated renders they replace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.test_environment import ROOM, STREET, TABLETOP

# Two unit cubes side by side: one cut out (alpha 0: rays pass it), one of glass (alpha 0.2: a label surface).
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
usemtl cutout
f 1 4 3 2
f 5 6 7 8
f 1 2 6 5
f 2 3 7 6
f 3 4 8 7
f 4 1 5 8
usemtl glass
f 9 12 11 10
f 13 14 15 16
f 9 10 14 13
f 10 11 15 14
f 11 12 16 15
f 12 9 13 16
"""
PARTS_MTL = "newmtl cutout\nKd 0.8 0.2 0.1\nd 0.0\nnewmtl glass\nKd 0.8 0.9 1.0\nd 0.2\n"


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


def test_glass_holds_labels_and_cut_outs_are_passed(tmp_path: Path) -> None:
    """Glass (alpha 0.2) is a label surface in every pixel, seen or hidden (Cycles would pass it at random
    under the default threshold); a cut-out (alpha 0) is passed, by the renders and the cast alike."""
    (tmp_path / "parts.obj").write_text(GLASS_AND_BODY_OBJ)
    (tmp_path / "parts.mtl").write_text(PARTS_MTL)
    spec = {**TABLETOP, "frames": 3,
            "classes": [{"name": "parts", "asset": str(tmp_path / "parts.obj"), "count": [4, 6], "size_m": 0.3,
                         "material": {"mode": "keep"}}]}
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(spec))
    cast, left, found, see_through = _cast_against_renders(path, 3, tmp_path)
    assert cast > 0 and left == 0
    assert found > 0, "some part is hidden in part"
    assert see_through > 0, "the cut-out half leaves pixels out"


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
    clear = tree.nodes.new("ShaderNodeBsdfTransparent")
    assert surface_alpha(mixed) == 1.0, "a node that feeds nothing shades nothing"
    mix = tree.nodes.new("ShaderNodeMixShader")
    tree.links.new(tree.nodes["Principled BSDF"].outputs[0], mix.inputs[1])
    tree.links.new(clear.outputs[0], mix.inputs[2])
    tree.links.new(mix.outputs[0], tree.nodes["Material Output"].inputs["Surface"])
    assert surface_alpha(mixed) is None
    empty = principled(1.0)
    empty.node_tree.links.remove(empty.node_tree.nodes["Material Output"].inputs["Surface"].links[0])
    assert surface_alpha(empty) is None, "no surface: a volume boundary rays pass"


@pytest.mark.parametrize("far_away", [0.0, 100.0, 1e4], ids=["near", "100", "1e4"])
def test_a_ray_walks_through_see_through_faces_far_from_the_origin(far_away: float) -> None:
    """Three parallel squares on the ray (see-through, see-through, opaque), at any distance from the mesh's
    origin: float32 steps past each face still reach the next, and the walk always ends."""
    import bpy  # noqa: F401 - puts Blender's mathutils on the path
    from mathutils import Vector
    from mathutils.bvhtree import BVHTree

    from simgen.blender.rays import RayCaster

    z = [far_away + 1.0, far_away + 2.0, far_away + 3.0]
    size = 1.0 + far_away  # wide enough for the slanted ray
    vertices = [(x * size, y * size, h) for h in z for x, y in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    tree = BVHTree.FromPolygons(vertices, [(4 * k, 4 * k + 1, 4 * k + 2, 4 * k + 3) for k in range(3)], epsilon=0.0)
    walk, ray, depth = RayCaster._walk, Vector((0.01, 0.02, 1.0)), (Vector((0.0, 0.0, 1.0)), 0.0)
    origin = Vector((0.0, 0.0, 0.0))
    limit, near, far = 8, 0.1, 1e6
    assert walk(tree, origin, ray, depth, np.array([False, False, True]), near, far, limit) is True
    assert walk(tree, origin, ray, depth, np.array([False, False, False]), near, far, limit) is False
    assert walk(tree, origin, ray, depth, np.array([False, False, False]), near, far, 1) is True, \
        "past the limit Cycles ends the path on the last see-through face, which holds the label"
    assert walk(tree, origin, ray, depth, np.array([True, True, True]), far_away + 1.5, far, limit) is True, \
        "what lies before the near clip is skipped"
    assert walk(tree, origin, ray, depth, np.array([True, True, True]), near, far_away + 0.5, limit) is False


def test_objects_the_cast_cannot_follow_are_left_to_isolated_passes(tmp_path: Path, monkeypatch) -> None:
    """A mesh with shape keys renders another shape than its BVH's, and a window of too many rays costs more
    than a pass: both objects are handed back, and the frame plan packs only them into passes."""
    from simgen.annotate.frame import plan_frame
    from simgen.blender import rays
    from simgen.run.redirect import redirect_output
    from tests.conftest import tiny_backend

    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({**ROOM, "frames": 1}))
    log = tmp_path / "blender.log"
    backend, bounds, sampler, preset = tiny_backend(path, log)
    frame = sampler.sample(0)
    ids = [o.instance_id for o in frame.objects]
    everywhere = {i: (0, 0, *preset.resolution) for i in ids}
    try:
        with redirect_output(log):
            backend.apply(frame)
            backend.render()
            passes = backend.save_outputs(tmp_path / "rgb.png")
        keyed = backend._shown_objects[0]
        keyed.shape_key_add(name="Basis")
        cast, left = backend.cast_amodal(ids, passes, everywhere)
        sharing = [o.pass_index for o in backend._shown_objects if o.data == keyed.data]
        assert sorted(left) == sorted(sharing) and set(cast) == set(ids) - set(sharing)
        keyed.shape_key_clear()
        monkeypatch.setattr(rays, "MAX_RAYS", 0)
        cast, left = backend.cast_amodal(ids, passes, everywhere)
        assert all(not (cast[i] & (passes.instance != i)).any() for i in cast), "cast only where no ray was needed"
        assert left, "this frame has pixels to cast"
    finally:
        backend.close()
    plan = plan_frame(frame, backend.asset_vertices, bounds)
    groups, windows = plan.passes({plan.hidden[0]})
    assert groups == [[plan.hidden[0]]] and windows == [plan.window(plan.hidden[0])]
