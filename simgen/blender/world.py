"""The environment: an HDRI, a physical sky that follows the sun, an overcast sky or a plain colour, behind
one Background."""

from __future__ import annotations

import math
from typing import Callable

import bpy

from simgen.sampling.frame_spec import FogParams, SunParams, WorldParams


class World:
    def __init__(self, scene: bpy.types.Scene, map_resolution: int, load_image: Callable[[str], bpy.types.Image]):
        world = bpy.data.worlds.new("simgen_world")
        scene.world = world
        # Blender's automatic importance map follows the HDRI size and is rebuilt whenever the world
        # changes, which costs ~1 s a frame on a CPU; a fixed map lights as well and is ~10x cheaper.
        world.cycles.sampling_method = "MANUAL" if map_resolution else "NONE"
        if map_resolution:
            world.cycles.sample_map_resolution = map_resolution
        self._load_image = load_image
        nodes, self._links = world.node_tree.nodes, world.node_tree.links
        self._background = nodes["Background"]
        self._env = nodes.new("ShaderNodeTexEnvironment")
        self._mapping = nodes.new("ShaderNodeMapping")
        coords = nodes.new("ShaderNodeTexCoord")
        self._links.new(coords.outputs["Generated"], self._mapping.inputs["Vector"])
        self._links.new(self._mapping.outputs["Vector"], self._env.inputs["Vector"])
        self._sky = nodes.new("ShaderNodeTexSky")
        self._sky.sky_type = "MULTIPLE_SCATTERING"
        self._sky.sun_disc = False  # the sun lamp already casts the sun's light and shadows
        # The CIE standard overcast sky: L(elevation) = L_zenith (1 + 2 sin(elevation)) / 3, the colour being
        # the zenith's; below the horizon it stays at the horizon's third. The world's Generated
        # coordinate is the ray's direction, so its z is sin(elevation).
        direction = nodes.new("ShaderNodeSeparateXYZ")
        self._links.new(coords.outputs["Generated"], direction.inputs["Vector"])
        above = nodes.new("ShaderNodeMath")
        above.operation = "MAXIMUM"
        above.inputs[1].default_value = 0.0
        self._links.new(direction.outputs["Z"], above.inputs[0])
        gradation = nodes.new("ShaderNodeMath")
        gradation.operation = "MULTIPLY_ADD"  # (2 z + 1) / 3 = z * 2/3 + 1/3
        gradation.inputs[1].default_value, gradation.inputs[2].default_value = 2.0 / 3.0, 1.0 / 3.0
        self._links.new(above.outputs["Value"], gradation.inputs[0])
        self._overcast = nodes.new("ShaderNodeVectorMath")
        self._overcast.operation = "SCALE"
        self._links.new(gradation.outputs["Value"], self._overcast.inputs["Scale"])
        self._type: str | None = None
        self._fog = FogBox(scene)

    def apply(self, params: WorldParams, sun: SunParams | None, fog: FogParams | None = None,
              camera_location: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> None:
        colour = self._background.inputs["Color"]
        if params.type != self._type:  # relinking recompiles the world shader: only on change
            self._type = params.type
            for link in list(colour.links):
                self._links.remove(link)
            if params.type == "hdri":
                self._links.new(self._env.outputs["Color"], colour)
            elif params.type == "sky":
                self._links.new(self._sky.outputs["Color"], colour)
            elif params.type == "overcast":
                self._links.new(self._overcast.outputs["Vector"], colour)
        if params.type == "hdri" and params.hdri:
            image = self._load_image(params.hdri)
            if self._env.image != image:
                self._env.image = image
            self._mapping.inputs["Rotation"].default_value = (0.0, 0.0, math.radians(params.rotation_deg))
        elif params.type == "sky":
            elevation, azimuth = (sun.elevation_deg, sun.azimuth_deg) if sun else (45.0, 0.0)
            self._sky.sun_elevation = math.radians(max(elevation, 0.0))
            # The sky's rotation 0 puts the sun towards +Y and grows clockwise seen from above;
            # simgen's azimuth 0 is +X and grows counter-clockwise (checked by rendering a panorama).
            self._sky.sun_rotation = math.radians(90.0 - azimuth) % (2 * math.pi)
        elif params.type == "overcast":
            self._overcast.inputs[0].default_value = params.color
        else:
            colour.default_value = (*params.color, 1.0)
        self._background.inputs["Strength"].default_value = params.strength
        self._fog.apply(fog if fog is not None and fog.mode == "volume" else None, camera_location)

    @property
    def strength(self) -> float:
        """The background's strength (the NIR view scales it by the sky's infrared share)."""
        return float(self._background.inputs["Strength"].default_value)

    @strength.setter
    def strength(self, value: float) -> None:
        self._background.inputs["Strength"].default_value = value

    def detach_volume(self) -> bool:
        """Take the fog volume out (for label passes); returns whether it was in."""
        return self._fog.show(False)

    def attach_volume(self, on: bool) -> None:
        self._fog.show(on)


class FogBox:
    """Volume fog as Cycles scatters it, seen the way visibility is defined.

    A box of Principled Volume around the camera that only camera rays see: what the camera looks
    at is dimmed by exp(-density * distance) and the fog in between glows with the unshadowed light
    of the sun, sky and lamps (in-scattering, with the glow around lamps that analytic fog lacks);
    lights reach surfaces as in clear air. That is Koschmieder's model, so a target at
    ``visibility_m`` keeps 5 % of its contrast here as in analytic mode. (A world volume fills all
    space: light from the sky or the sun would cross infinite fog and the scene would go black.)
    The box reaches three visibilities from the camera, where transmittance is 20^-3.
    """

    def __init__(self, scene: bpy.types.Scene):
        mesh = bpy.data.meshes.new("simgen_fog")
        corners = [(x, y, z) for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]
        faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
        mesh.from_pydata(corners, [], faces)
        material = bpy.data.materials.new("simgen_fog")
        nodes, links = material.node_tree.nodes, material.node_tree.links
        for node in list(nodes):
            nodes.remove(node)
        output = nodes.new("ShaderNodeOutputMaterial")
        self._volume = nodes.new("ShaderNodeVolumePrincipled")
        # density(z) = density * exp(falloff * z) in world z; falloff 0 = homogeneous, -1/H = ground fog
        position = nodes.new("ShaderNodeNewGeometry")
        height = nodes.new("ShaderNodeSeparateXYZ")
        self._falloff = nodes.new("ShaderNodeMath")
        self._falloff.operation = "MULTIPLY"
        exponent = nodes.new("ShaderNodeMath")
        exponent.operation = "EXPONENT"
        self._density = nodes.new("ShaderNodeMath")
        self._density.operation = "MULTIPLY"
        links.new(position.outputs["Position"], height.inputs["Vector"])
        links.new(height.outputs["Z"], self._falloff.inputs[0])
        links.new(self._falloff.outputs["Value"], exponent.inputs[0])
        links.new(exponent.outputs["Value"], self._density.inputs[0])
        links.new(self._density.outputs["Value"], self._volume.inputs["Density"])
        links.new(self._volume.outputs["Volume"], output.inputs["Volume"])
        mesh.materials.append(material)
        self.obj = bpy.data.objects.new("simgen_fog", mesh)
        scene.collection.objects.link(self.obj)
        for ray in ("diffuse", "glossy", "transmission", "volume_scatter", "shadow"):
            setattr(self.obj, f"visible_{ray}", False)
        self.obj.hide_render = True
        self._wanted = False

    def apply(self, fog: FogParams | None, camera_location: tuple[float, float, float]) -> None:
        self._wanted = fog is not None
        if fog is not None:
            self._density.inputs[1].default_value = fog.density
            self._falloff.inputs[1].default_value = -1.0 / fog.height_m if fog.height_m else 0.0
            self._volume.inputs["Color"].default_value = (*fog.color, 1.0)
            self._volume.inputs["Anisotropy"].default_value = fog.anisotropy
            self.obj.location = camera_location
            self.obj.scale = (3.0 * fog.visibility_m,) * 3
        self.obj.hide_render = not self._wanted

    def show(self, on: bool) -> bool:
        """Hide (label passes) or restore the fog; returns whether it was shown."""
        was = not self.obj.hide_render
        self.obj.hide_render = not (on and self._wanted)
        return was
