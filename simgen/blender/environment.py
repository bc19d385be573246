"""The environment in Blender: one mesh object per material group (all the walls, all the lamp posts),
rebuilt only when the layout changes, and one material per group whose values change per frame.

Boxes carry UVs in metres on their own faces (floors in x, y; walls along their length and up), so
a plank, tile or brick pattern has its real size and lies the way it would.
"""

from __future__ import annotations

import math

import bpy
import numpy as np

from simgen.annotate.stuff import stuff_pass_index
from simgen.blender.materials import Weathering, socket
from simgen.sampling.frame_spec import EnvironmentParams, EnvMaterial, EnvPiece

# a box's 8 corners (x, y, z signs) and its 6 faces, wound counter-clockwise seen from outside
CORNERS = np.array([[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1],
                    [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]], float) / 2
FACES = np.array([[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]])


def box_mesh(name: str, pieces: list[EnvPiece]) -> bpy.types.Mesh:
    """One mesh of many boxes, with a UV map in metres projected on each face's own plane."""
    centres = np.array([p.centre for p in pieces], float)
    sizes = np.array([p.size for p in pieces], float)
    yaws = np.radians([p.yaw_deg for p in pieces])
    c, s = np.cos(yaws)[:, None], np.sin(yaws)[:, None]
    local = CORNERS[None] * sizes[:, None, :]  # (n, 8, 3)
    world = np.stack([local[..., 0] * c - local[..., 1] * s, local[..., 0] * s + local[..., 1] * c, local[..., 2]],
                     axis=-1) + centres[:, None, :]
    faces = (FACES[None] + 8 * np.arange(len(pieces))[:, None, None]).reshape(-1, 4)
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(world.reshape(-1, 3).tolist(), [], faces.tolist())
    # per loop: the face's normal decides the projection (floors: x, y; sides: along the face, z)
    points = world.reshape(-1, 3)[faces]  # (faces, 4, 3)
    normal = np.cross(points[:, 1] - points[:, 0], points[:, 2] - points[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    tangent = np.stack([-normal[:, 1], normal[:, 0]], axis=1)
    along = np.einsum("fkj,fj->fk", points[..., :2], tangent)
    flat = np.abs(normal[:, 2]) > 0.5
    u = np.where(flat[:, None], points[..., 0], along)
    v = np.where(flat[:, None], points[..., 1], points[..., 2])
    layer = mesh.uv_layers.new(name="UVMap")
    layer.data.foreach_set("uv", np.stack([u, v], axis=-1).reshape(-1).astype(np.float32))
    mesh.update()
    return mesh


class EnvSurface:
    """A material for one group: bricks/planks/tiles with mortar (Brick texture in metres), a fine grain
    and bands darkening it, bump from joints and grain, emission for lamps, transmission for glass."""

    def __init__(self, name: str):
        self.material = bpy.data.materials.new(name)
        tree = self.material.node_tree
        nodes, links = tree.nodes, tree.links
        self._bsdf = nodes["Principled BSDF"]
        coords = nodes.new("ShaderNodeTexCoord")
        geometry = nodes.new("ShaderNodeNewGeometry")
        self._brick = nodes.new("ShaderNodeTexBrick")
        self._brick.inputs["Scale"].default_value = 1.0
        self._brick.inputs["Mortar Smooth"].default_value = 0.1
        self._noise = nodes.new("ShaderNodeTexNoise")
        self._noise.inputs["Detail"].default_value = 4.0
        self._wave = nodes.new("ShaderNodeTexWave")
        self._wave.inputs["Distortion"].default_value = 6.0
        self._wave.inputs["Detail"].default_value = 2.0
        for node in (self._brick, self._noise, self._wave):
            links.new(coords.outputs["UV"], node.inputs["Vector"])
        self._grain = nodes.new("ShaderNodeMix")
        self._grain.data_type, self._grain.blend_type = "RGBA", "MULTIPLY"
        links.new(self._brick.outputs["Color"], socket(self._grain.inputs, "A_Color"))
        links.new(self._noise.outputs["Fac"], socket(self._grain.inputs, "B_Color"))
        self._bands = nodes.new("ShaderNodeMix")
        self._bands.data_type, self._bands.blend_type = "RGBA", "MULTIPLY"
        links.new(socket(self._grain.outputs, "Result_Color"), socket(self._bands.inputs, "A_Color"))
        links.new(self._wave.outputs["Fac"], socket(self._bands.inputs, "B_Color"))
        self._weather = Weathering(nodes, links, geometry, self._bsdf)
        links.new(socket(self._bands.outputs, "Result_Color"), socket(self._weather.wet.inputs, "A_Color"))
        height = nodes.new("ShaderNodeMath")
        height.operation = "MULTIPLY_ADD"  # joints sink, grain roughens: noise * 0.3 + (1 - mortar)
        invert = nodes.new("ShaderNodeMath")
        invert.operation = "SUBTRACT"
        invert.inputs[0].default_value = 1.0
        links.new(self._brick.outputs["Fac"], invert.inputs[1])
        links.new(self._noise.outputs["Fac"], height.inputs[0])
        height.inputs[1].default_value = 0.3
        links.new(invert.outputs["Value"], height.inputs[2])
        self._bump = nodes.new("ShaderNodeBump")
        self._bump.inputs["Distance"].default_value = 0.005
        links.new(height.outputs["Value"], self._bump.inputs["Height"])
        links.new(self._bump.outputs["Normal"], self._bsdf.inputs["Normal"])
        self._last: EnvMaterial | None = None

    def apply(self, look: EnvMaterial) -> None:
        if look == self._last:
            return
        self._last = look
        brick = self._brick
        brick.inputs["Color1"].default_value = (*look.color, 1.0)
        brick.inputs["Color2"].default_value = (*look.second_color, 1.0)
        brick.inputs["Mortar"].default_value = (*look.mortar_color, 1.0)
        brick.inputs["Brick Width"].default_value = look.brick_m[0]
        brick.inputs["Row Height"].default_value = look.brick_m[1]
        # joint width as a share of a texture unit (Scale 1 = 1 m); none = a seamless surface
        brick.inputs["Mortar Size"].default_value = look.mortar_m
        brick.offset = look.offset
        self._noise.inputs["Scale"].default_value = look.grain_scale
        self._wave.inputs["Scale"].default_value = look.bands_scale
        socket(self._grain.inputs, "Factor_Float").default_value = look.grain
        socket(self._bands.inputs, "Factor_Float").default_value = look.bands
        self._bump.inputs["Strength"].default_value = min(look.bump, 1.0)
        self._weather.apply(look.roughness, look.wetness, look.snow, look.puddles)
        self._bsdf.inputs["Metallic"].default_value = look.metallic
        self._bsdf.inputs["Emission Color"].default_value = (*look.emission_color, 1.0)
        self._bsdf.inputs["Emission Strength"].default_value = look.emission
        # glass transmits (not alpha: label passes must see the pane, not the sky behind it); its group
        # casts no shadow, so daylight reaches the room by direct light sampling
        self._bsdf.inputs["Transmission Weight"].default_value = look.transparency


class EnvironmentBuilder:
    """Keeps the environment's objects in the scene; ``apply`` shows a frame's layout."""

    def __init__(self, collection: bpy.types.Collection):
        self._collection = collection
        self._objects: dict[tuple[str, str], bpy.types.Object] = {}  # (group, stuff) -> object
        self._surfaces: dict[str, EnvSurface] = {}
        self._key: str | None = None

    @property
    def shown(self) -> list[bpy.types.Object]:
        return [obj for obj in self._objects.values() if not obj.hide_render]

    def apply(self, env: EnvironmentParams | None) -> None:
        if env is None:
            for obj in self._objects.values():
                obj.hide_render = True
            self._key = None  # shown again only after a rebuild
            return
        if env.key != self._key:
            self._rebuild(env.pieces)
            self._key = env.key
        for (group, _), obj in self._objects.items():
            if not obj.hide_render:
                self._surface(group).apply(env.materials[group])

    def set_property(self, name: str, by_group: dict[str, float]) -> None:
        """A custom property on each group's object (the NIR view's reflectance)."""
        for (group, _), obj in self._objects.items():
            obj[name] = by_group.get(group, 0.4)

    def _surface(self, group: str) -> EnvSurface:
        if group not in self._surfaces:
            self._surfaces[group] = EnvSurface(f"simgen_env.{group}")
        return self._surfaces[group]

    def _rebuild(self, pieces: list[EnvPiece]) -> None:
        """New meshes for every group (the old ones freed), so memory stays flat over layouts."""
        groups: dict[tuple[str, str], list[EnvPiece]] = {}
        for piece in pieces:
            groups.setdefault((piece.group, piece.stuff), []).append(piece)
        for key, obj in self._objects.items():
            if key not in groups:
                obj.hide_render = True
        for key, members in groups.items():
            group, stuff = key
            mesh = box_mesh(f"simgen_env.{group}.{stuff}", members)
            mesh.materials.append(self._surface(group).material)
            obj = self._objects.get(key)
            if obj is None:
                obj = bpy.data.objects.new(f"simgen_env.{group}.{stuff}", mesh)
                self._collection.objects.link(obj)
                self._objects[key] = obj
            else:
                old = obj.data
                obj.data = mesh
                bpy.data.meshes.remove(old)
            obj.pass_index = stuff_pass_index(stuff)
            obj.hide_render = False
            obj.visible_shadow = group != "glass"  # daylight comes in through the panes
