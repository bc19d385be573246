"""The environment: an HDRI, a physical sky that follows the sun, or a plain colour, behind one Background."""

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
        self._type: str | None = None
        self._output = nodes["World Output"]
        self._volume = nodes.new("ShaderNodeVolumePrincipled")
        self._volume_on = False
        # density(z) = density * exp(falloff * z); falloff 0 = homogeneous, -1/H = ground fog
        position = nodes.new("ShaderNodeNewGeometry")
        height = nodes.new("ShaderNodeSeparateXYZ")
        self._falloff = nodes.new("ShaderNodeMath")
        self._falloff.operation = "MULTIPLY"
        exponent = nodes.new("ShaderNodeMath")
        exponent.operation = "EXPONENT"
        self._density = nodes.new("ShaderNodeMath")
        self._density.operation = "MULTIPLY"
        self._links.new(position.outputs["Position"], height.inputs["Vector"])
        self._links.new(height.outputs["Z"], self._falloff.inputs[0])
        self._links.new(self._falloff.outputs["Value"], exponent.inputs[0])
        self._links.new(exponent.outputs["Value"], self._density.inputs[0])
        self._links.new(self._density.outputs["Value"], self._volume.inputs["Density"])

    def apply(self, params: WorldParams, sun: SunParams | None, fog: FogParams | None = None) -> None:
        colour = self._background.inputs["Color"]
        if params.type != self._type:  # relinking recompiles the world shader: only on change
            self._type = params.type
            for link in list(colour.links):
                self._links.remove(link)
            if params.type == "hdri":
                self._links.new(self._env.outputs["Color"], colour)
            elif params.type == "sky":
                self._links.new(self._sky.outputs["Color"], colour)
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
        else:
            colour.default_value = (*params.color, 1.0)
        self._background.inputs["Strength"].default_value = params.strength
        volume = fog is not None and fog.mode == "volume"
        if volume:
            self._density.inputs[1].default_value = fog.density
            self._falloff.inputs[1].default_value = -1.0 / fog.height_m if fog.height_m else 0.0
            self._volume.inputs["Color"].default_value = (*fog.color, 1.0)
            self._volume.inputs["Anisotropy"].default_value = fog.anisotropy
        if volume != self._volume_on:
            self.attach_volume(volume) if volume else self.detach_volume()

    def detach_volume(self) -> bool:
        """Take the fog volume out (for label passes); returns whether it was in."""
        was_on = self._volume_on
        for link in list(self._output.inputs["Volume"].links):
            self._links.remove(link)
        self._volume_on = False
        return was_on

    def attach_volume(self, on: bool) -> None:
        if on and not self._volume_on:
            self._links.new(self._volume.outputs["Volume"], self._output.inputs["Volume"])
            self._volume_on = True
