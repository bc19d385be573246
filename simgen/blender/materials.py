"""Surface materials whose one node graph can show every material mode simgen samples.

Each object owns one such material for its life in the pool; a frame only sets values and,
when the mode or pattern changes, swaps two links. No material is created per frame.
"""

from __future__ import annotations

from typing import Callable

import bpy

from simgen.sampling.frame_spec import MaterialParams

PATTERN_NODES = {
    "noise": ("ShaderNodeTexNoise", "Fac"),
    "voronoi": ("ShaderNodeTexVoronoi", "Distance"),
    "wave": ("ShaderNodeTexWave", "Fac"),
    "brick": ("ShaderNodeTexBrick", "Fac"),
    "checker": ("ShaderNodeTexChecker", "Fac"),
    "magic": ("ShaderNodeTexMagic", "Fac"),
}


def socket(sockets, identifier: str):
    """Socket by identifier: Mix nodes have several inputs named 'A', one per data type."""
    return next(s for s in sockets if s.identifier == identifier)


class Weathering:
    """Between a look and its BSDF: rain darkens and smooths it, snow whitens its up-facing parts,
    puddles turn large noise patches dark and mirror-smooth. Feed the look's colour into ``wet``'s A."""

    def __init__(self, nodes, links, geometry, bsdf):
        # look -> wet (darken) -> snow (white on up-facing parts) -> Base Color
        self.wet = nodes.new("ShaderNodeMix")
        self.wet.data_type, self.wet.blend_type = "RGBA", "MULTIPLY"
        socket(self.wet.inputs, "Factor_Float").default_value = 1.0
        snow = nodes.new("ShaderNodeMix")
        snow.data_type = "RGBA"
        socket(snow.inputs, "B_Color").default_value = (0.85, 0.87, 0.9, 1.0)
        up = nodes.new("ShaderNodeSeparateXYZ")
        links.new(geometry.outputs["Normal"], up.inputs["Vector"])
        facing = nodes.new("ShaderNodeMapRange")
        facing.inputs["From Min"].default_value, facing.inputs["From Max"].default_value = 0.35, 0.9
        links.new(up.outputs["Z"], facing.inputs["Value"])
        self._cover = nodes.new("ShaderNodeMath")
        self._cover.operation = "MULTIPLY"
        links.new(facing.outputs["Result"], self._cover.inputs[0])
        links.new(self._cover.outputs["Value"], socket(snow.inputs, "Factor_Float"))
        links.new(socket(self.wet.outputs, "Result_Color"), socket(snow.inputs, "A_Color"))
        links.new(socket(snow.outputs, "Result_Color"), bsdf.inputs["Base Color"])
        # puddles: large noise patches where the surface turns dark and mirror-smooth
        puddle_noise = nodes.new("ShaderNodeTexNoise")
        puddle_noise.inputs["Scale"].default_value = 0.35
        links.new(geometry.outputs["Position"], puddle_noise.inputs["Vector"])
        self._puddle_edge = nodes.new("ShaderNodeMapRange")
        links.new(puddle_noise.outputs["Fac"], self._puddle_edge.inputs["Value"])
        self._smooth = nodes.new("ShaderNodeMix")  # float mix: own roughness -> water
        socket(self._smooth.inputs, "B_Float").default_value = 0.02
        links.new(self._puddle_edge.outputs["Result"], socket(self._smooth.inputs, "Factor_Float"))
        links.new(socket(self._smooth.outputs, "Result_Float"), bsdf.inputs["Roughness"])

    def apply(self, roughness: float, wetness: float, snow: float, puddles: float) -> None:
        socket(self._smooth.inputs, "A_Float").default_value = roughness * (1.0 - 0.8 * wetness)
        # patches where the noise exceeds a threshold; no puddles: a threshold nothing reaches
        low = 0.65 - 0.4 * puddles if puddles > 0 else 2.0
        self._puddle_edge.inputs["From Min"].default_value, self._puddle_edge.inputs["From Max"].default_value = low, low + 0.03
        socket(self.wet.inputs, "B_Color").default_value = (*(1.0 - 0.55 * wetness,) * 3, 1.0)
        self._cover.inputs[1].default_value = snow


class SurfaceMaterial:
    """A Principled BSDF fed by a flat colour, a two-colour pattern with bump, or an image texture."""

    def __init__(self, name: str, load_image: Callable[[str], bpy.types.Image]):
        self.material = bpy.data.materials.new(name)
        self._load_image = load_image
        nodes, self._links = self.material.node_tree.nodes, self.material.node_tree.links
        self._bsdf = nodes["Principled BSDF"]
        geometry = nodes.new("ShaderNodeNewGeometry")  # world position: texel size in metres, any mesh, no UVs
        self._mapping = nodes.new("ShaderNodeMapping")
        self._links.new(geometry.outputs["Position"], self._mapping.inputs["Vector"])
        self._patterns = {}
        for pattern, (node_type, output) in PATTERN_NODES.items():
            node = nodes.new(node_type)
            self._links.new(self._mapping.outputs["Vector"], node.inputs["Vector"])
            self._patterns[pattern] = node.outputs[output]
        self._mix = nodes.new("ShaderNodeMix")
        self._mix.data_type = "RGBA"
        self._image = nodes.new("ShaderNodeTexImage")
        self._image.projection = "BOX"
        self._image.projection_blend = 0.2
        self._links.new(self._mapping.outputs["Vector"], self._image.inputs["Vector"])
        self._bump = nodes.new("ShaderNodeBump")
        self._links.new(self._bump.outputs["Normal"], self._bsdf.inputs["Normal"])
        self._weather = Weathering(nodes, self._links, geometry, self._bsdf)
        self._wet = self._weather.wet
        self._state: tuple[str, str] | None = None

    def apply(self, params: MaterialParams) -> None:
        bsdf = self._bsdf
        self._weather.apply(params.roughness, params.wetness, params.snow, params.puddles)
        bsdf.inputs["Metallic"].default_value = params.metallic
        socket(self._wet.inputs, "A_Color").default_value = (*params.base_color, 1.0)
        socket(self._mix.inputs, "A_Color").default_value = (*params.base_color, 1.0)
        socket(self._mix.inputs, "B_Color").default_value = (*params.second_color, 1.0)
        self._mapping.inputs["Scale"].default_value = (params.pattern_scale,) * 3
        self._bump.inputs["Strength"].default_value = params.bump if params.mode == "procedural" else 0.0
        if params.mode == "image" and params.texture:
            image = self._load_image(params.texture)
            if self._image.image != image:
                self._image.image = image
        self._relink(params.mode, params.pattern)

    def _relink(self, mode: str, pattern: str) -> None:
        """Only touch links when the look changes: a changed graph costs a shader recompile."""
        if self._state == (mode, pattern):
            return
        self._state = (mode, pattern)
        base, factor = socket(self._wet.inputs, "A_Color"), socket(self._mix.inputs, "Factor_Float")
        for target in (base, factor, self._bump.inputs["Height"]):
            for link in list(target.links):
                self._links.remove(link)
        if mode == "procedural":
            self._links.new(self._patterns[pattern], factor)
            self._links.new(self._patterns[pattern], self._bump.inputs["Height"])
            self._links.new(socket(self._mix.outputs, "Result_Color"), base)
        elif mode == "image":
            self._links.new(self._image.outputs["Color"], base)


class JitteredMaterials:
    """Per-object copies of an asset's own materials, each with a hue/saturation/value node on its base
    colour, so ``mode: jitter`` varies the asset's look without replacing it."""

    def __init__(self, obj: bpy.types.Object):
        self.materials: list[bpy.types.Material | None] = []
        self._knobs: list[tuple[bpy.types.Node, bpy.types.Node, float, float]] = []  # hsv, bsdf, own roughness, metallic
        for slot in obj.material_slots:
            source = slot.material
            if source is None or source.node_tree is None:
                self.materials.append(source)
                continue
            copy = source.copy()
            self.materials.append(copy)
            tree = copy.node_tree
            for bsdf in [n for n in tree.nodes if n.type == "BSDF_PRINCIPLED"]:
                hsv = tree.nodes.new("ShaderNodeHueSaturation")
                base = bsdf.inputs["Base Color"]
                if base.links:
                    tree.links.new(base.links[0].from_socket, hsv.inputs["Color"])
                else:
                    hsv.inputs["Color"].default_value = base.default_value
                tree.links.new(hsv.outputs["Color"], base)
                self._knobs.append((hsv, bsdf, bsdf.inputs["Roughness"].default_value,
                                    bsdf.inputs["Metallic"].default_value))

    def apply(self, params: MaterialParams) -> None:
        hue, saturation, value, roughness, metallic = params.jitter
        for hsv, bsdf, own_roughness, own_metallic in self._knobs:
            hsv.inputs["Hue"].default_value = (0.5 + hue) % 1.0
            hsv.inputs["Saturation"].default_value = max(0.0, 1.0 + saturation)
            hsv.inputs["Value"].default_value = max(0.0, 1.0 + value)
            bsdf.inputs["Roughness"].default_value = min(max(own_roughness + roughness, 0.0), 1.0)
            bsdf.inputs["Metallic"].default_value = min(max(own_metallic + metallic, 0.0), 1.0)
