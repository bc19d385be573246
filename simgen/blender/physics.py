"""Rigid-body settling: objects dropped onto the floor come to rest the way real ones do.

Bullet (inside Blender) steps the scene frame by frame; the resting transforms are read back
and written onto the objects as plain static poses, and the simulation is switched off again,
so rendering and the next frame never see simulation state.
"""

from __future__ import annotations

import bpy
from mathutils import Matrix

FLOOR_THICKNESS = 1.0
COLLISION_MARGIN = 0.0005  # metres; Blender's default 4 cm would leave objects visibly floating


def _add_rigid_body(obj: bpy.types.Object, kind: str) -> None:
    with bpy.context.temp_override(object=obj, active_object=obj, selected_objects=[obj]):
        bpy.ops.rigidbody.object_add(type=kind)
    obj.rigid_body.collision_shape = "CONVEX_HULL" if kind == "ACTIVE" else "BOX"
    obj.rigid_body.use_margin = True
    obj.rigid_body.collision_margin = COLLISION_MARGIN


class RigidBodies:
    def __init__(self, scene: bpy.types.Scene, floor_size: float = 200.0):
        self.scene = scene
        with bpy.context.temp_override(scene=scene):
            bpy.ops.rigidbody.world_add()
        self.world = scene.rigidbody_world
        self.world.enabled = False
        # Bullet's box shape is centred on the object's origin, so the slab is built around its origin
        # and the object lowered until the slab's top is the ground plane z = 0.
        mesh = bpy.data.meshes.new("simgen_physics_floor")
        half, thick = floor_size / 2, FLOOR_THICKNESS / 2
        mesh.from_pydata([(x, y, z) for x in (-half, half) for y in (-half, half) for z in (-thick, thick)], [],
                         [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)])
        self.floor = bpy.data.objects.new("simgen_physics_floor", mesh)
        self.floor.location = (0.0, 0.0, -thick)
        scene.collection.objects.link(self.floor)
        self.floor.hide_render = True  # collides, never seen
        _add_rigid_body(self.floor, "PASSIVE")

    def settle(self, falling: list[bpy.types.Object], fixed: list[bpy.types.Object], steps: int,
               substeps: int) -> list[Matrix]:
        """Simulate ``steps`` frames; ``fixed`` objects collide but do not move. Returns resting world matrices."""
        members = set(self.world.collection.objects) if self.world.collection else set()
        for obj in (*falling, *fixed):
            if obj not in members:
                _add_rigid_body(obj, "ACTIVE")
        for obj in falling:
            obj.rigid_body.kinematic = False
            obj.rigid_body.enabled = True
        for obj in fixed:
            obj.rigid_body.kinematic = True
        starts = [obj.matrix_world.copy() for obj in falling]
        cache = self.world.point_cache
        cache.frame_start, cache.frame_end = 1, steps + 1
        self.world.substeps_per_frame = substeps
        self.world.enabled = True
        self.scene.frame_set(1)
        for obj, start in zip(falling, starts):  # the start frame takes the objects' own poses
            obj.matrix_world = start
        for frame in range(1, steps + 2):
            self.scene.frame_set(frame)
        rest = [obj.matrix_world.copy() for obj in falling]
        self.world.enabled = False
        self.scene.frame_set(1)
        for obj, matrix in zip(falling, rest):
            obj.matrix_world = matrix
        return rest

    def exclude(self, objects: list[bpy.types.Object]) -> None:
        """Objects not in this frame: frozen where they are (hidden), so they push nothing."""
        for obj in objects:
            if obj.rigid_body is not None:
                obj.rigid_body.kinematic = True
