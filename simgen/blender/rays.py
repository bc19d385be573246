"""Amodal masks without a render: each pixel's own camera ray cast at one object's mesh.

An isolated label pass renders an object alone so that its hidden pixels show; what it computes
per pixel is whether that pixel's one camera ray meets the object. The label pass already holds
each ray: its Position pass is the ray's first hit, written by the same first sample that writes
depth and object index, so the line from the camera through that point is the ray itself, with
the filter's sub-pixel jitter. Casting it at the object's mesh (a BVH per mesh, built once) gives
the isolated pass's answer without a render, and a pixel whose ray met nothing cannot be in any
object's mask. Cycles' rules are kept: a surface counts for labels where its alpha reaches the
view layer's threshold (set just above 0: glass counts, an alpha-0 cut-out does not), rays pass at
most ``transparent_max_bounces`` see-through surfaces first, and only hits between the camera's clip
distances count. Objects this cannot follow exactly (alpha varying over a surface, a shape that
modifiers or shape keys change, a window of very many rays) are left to an isolated pass.
"""

from __future__ import annotations

import bpy
import numpy as np
from mathutils import Vector
from mathutils.bvhtree import BVHTree

from simgen.annotate.amodal import hidden_candidates

ESCAPE = 1e-6  # past a see-through face before the next cast: this share of the hit's own size, at least
MAX_RAYS = 200_000  # more rays than this in one window cost more than the isolated pass they would replace


def surface_alpha(material: bpy.types.Material | None) -> float | None:
    """The alpha Cycles gives the material's surface everywhere, or None if it may vary over the surface
    (a linked Alpha, a Transparent or Ray Portal BSDF, a node group feeding the surface) or the material
    has no surface at all. Only nodes that feed the output count: an unconnected one shades nothing."""
    if material is None or material.node_tree is None:
        return 1.0
    output = material.node_tree.get_output_node("CYCLES")
    if output is None or not output.inputs["Surface"].is_linked:
        return None  # no surface: a volume's boundary, which rays pass
    # what feeds each node, from one pass over the tree's links (a socket's own ``links`` walks them all)
    sources: dict[str, list[bpy.types.Node]] = {}
    for link in material.node_tree.links:
        sources.setdefault(link.to_node.name, []).append(link.from_node)
    surface = output.inputs["Surface"].links[0].from_node
    alpha, seen, todo = 1.0, set(), [surface]
    while todo:
        node = todo.pop()
        if node.name in seen:
            continue
        seen.add(node.name)
        if node.bl_idname in ("ShaderNodeBsdfTransparent", "ShaderNodeBsdfRayPortal", "ShaderNodeGroup"):
            return None
        if node.bl_idname == "ShaderNodeBsdfPrincipled":
            socket = node.inputs["Alpha"]
            if socket.is_linked:
                return None
            if socket.default_value < 1.0:
                if node != surface:
                    return None  # mixed with other shaders: the mix decides
                alpha = min(alpha, socket.default_value)
        todo.extend(sources.get(node.name, ()))
    return alpha


class RayCaster:
    """Per-mesh BVHs (built on first use, kept for the process) and the cast of a frame's rays."""

    def __init__(self) -> None:
        self._meshes: dict[int, tuple[BVHTree, np.ndarray]] = {}  # mesh's session_uid: tree, material slot per face

    def _mesh(self, obj: bpy.types.Object) -> tuple[BVHTree, np.ndarray]:
        mesh = obj.data
        if mesh.session_uid not in self._meshes:
            # Blender's own triangulation of the faces, as Cycles renders them; a hit's index is its face's
            tree = BVHTree.FromObject(obj, bpy.context.evaluated_depsgraph_get(), deform=False, epsilon=0.0)
            slots = np.empty(len(mesh.polygons), dtype=np.int32)
            mesh.polygons.foreach_get("material_index", slots)
            self._meshes[mesh.session_uid] = (tree, slots)
        return self._meshes[mesh.session_uid]

    def opaque_faces(self, obj: bpy.types.Object, threshold: float) -> np.ndarray | None:
        """Per face, whether it counts for labels (alpha at least ``threshold``); None if unknown."""
        _, slots = self._mesh(obj)
        alphas = [surface_alpha(slot.material) for slot in obj.material_slots] or [1.0]
        if any(a is None for a in alphas):
            return None
        opaque = np.array([a >= threshold for a in alphas])
        return opaque[np.clip(slots, 0, len(opaque) - 1)]

    def mask(self, obj: bpy.types.Object, opaque: np.ndarray, instance: np.ndarray, points: np.ndarray,
             camera: bpy.types.Object, window: tuple[int, int, int, int], see_through_limit: int) -> np.ndarray | None:
        """The pixels whose ray meets ``obj`` (its visible pixels and the hidden ones); None where the cast
        would cost more than a pass, or a ray could not be followed to its end."""
        tree, _ = self._mesh(obj)
        view = np.array(camera.matrix_world)
        eye, forward = view[:3, 3], -view[:3, 2]
        near, far = camera.data.clip_start, camera.data.clip_end
        to_object = obj.matrix_world.inverted()
        corners = np.array([obj.matrix_world @ Vector(c) for c in obj.bound_box])
        mask = instance == obj.pass_index
        rows, cols = hidden_candidates(instance, points, eye, forward, obj.pass_index, window,
                                       float(((corners - eye) @ forward).max()))
        if len(rows) == 0:
            return mask
        if len(rows) > MAX_RAYS:
            return None
        origin = to_object @ Vector(eye)
        directions = (points[rows, cols].astype(np.float64) - eye) @ np.array(to_object.to_3x3()).T
        simple = bool(opaque.all())  # the common case: the first hit decides, unless it is before the near clip
        to_world = np.array(obj.matrix_world)
        depth = (Vector(to_world[:3, :3].T @ forward), float((to_world[:3, 3] - eye) @ forward))  # local -> camera z
        hit = np.zeros(len(rows), dtype=bool)
        for k, direction in enumerate(directions):
            ray = Vector(direction)
            if simple:
                location, _, index, _ = tree.ray_cast(origin, ray)
                if index is None:
                    continue
                z = depth[0].dot(location) + depth[1]
                if z >= near:
                    hit[k] = z <= far
                    continue
            meets = self._walk(tree, origin, ray, depth, opaque, near, far, see_through_limit)
            if meets is None:
                return None
            hit[k] = meets
        mask[rows[hit], cols[hit]] = True
        return mask

    @staticmethod
    def _walk(tree: BVHTree, origin: Vector, ray: Vector, depth: tuple[Vector, float], opaque: np.ndarray,
              near: float, far: float, limit: int) -> bool | None:
        """Follow one ray through the mesh as Cycles' label sample does: skip what lies before the near
        clip, pass see-through faces, stop at the far clip or the first opaque face. After ``limit``
        see-through faces Cycles ends the path on the last of them, which then holds the label if any
        surface lies behind it (measured). None if the ray cannot be followed (it keeps meeting the
        same point: float precision far from the mesh's origin)."""
        ray = ray.normalized()
        start, passed, last = origin.copy(), 0, None
        for _ in range(limit + 64):
            location, _, index, _ = tree.ray_cast(start, ray)
            if index is None:
                return False
            z = depth[0].dot(location) + depth[1]
            if z > far:
                return False
            if z >= near:
                if opaque[index] or passed == limit:
                    return True
                passed += 1
            if last is not None and (location - last).length == 0.0:
                return None
            last = location
            start = location + ray * (ESCAPE * max(1.0, *(abs(c) for c in location)))
        return None
