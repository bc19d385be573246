"""Asset previews for ``simgen assets check``: a thumbnail per imported asset and the textures it lacks.

Thumbnails are rendered in a scene of their own (grey studio world, one sun, a camera framed on
the asset), so checking assets never touches the scene that renders datasets. A couple of Cycles
samples suffice: the point is to see that the shape is there, upright and textured.
"""

from __future__ import annotations

import math
from pathlib import Path

import bpy
import numpy as np
from mathutils import Vector

from simgen.blender.backend import mesh_vertices

VIEW_AZIMUTH_DEG, VIEW_ELEVATION_DEG = -60.0, 25.0
LENS_MM, SENSOR_MM = 50.0, 36.0
BACKGROUND = (0.55, 0.55, 0.55)


def missing_images(obj: bpy.types.Object) -> list[str]:
    """Image files the object's materials refer to but that are not on disk (nor packed in the asset)."""
    missing = []
    for material in obj.data.materials:
        if material is None or material.node_tree is None:
            continue
        for node in material.node_tree.nodes:
            image = getattr(node, "image", None)
            if (image is not None and image.source in ("FILE", "SEQUENCE", "TILED") and not image.packed_file
                    and not Path(bpy.path.abspath(image.filepath)).is_file()):
                missing.append(Path(image.filepath).name)
    return sorted(set(missing))


class Thumbnailer:
    """A separate small Cycles scene that photographs one asset at a time."""

    def __init__(self, size: int = 128, samples: int = 2):
        self.scene = bpy.data.scenes.new("simgen_preview")
        render = self.scene.render
        render.engine = "CYCLES"
        render.resolution_x = render.resolution_y = size
        render.resolution_percentage = 100
        render.image_settings.file_format = "PNG"
        self.scene.cycles.samples = samples
        self.scene.cycles.use_denoising = False
        self.scene.cycles.max_bounces = 2
        self.scene.view_settings.view_transform = "Standard"
        self.scene.world = bpy.data.worlds.new("simgen_preview")
        self.scene.world.node_tree.nodes["Background"].inputs["Color"].default_value = (*BACKGROUND, 1.0)
        sun = bpy.data.objects.new("simgen_preview_sun", bpy.data.lights.new("simgen_preview_sun", "SUN"))
        sun.data.energy = 3.0
        sun.rotation_euler = (math.radians(40), 0.0, math.radians(-30))
        self.scene.collection.objects.link(sun)
        camera = bpy.data.cameras.new("simgen_preview_camera")
        camera.lens, camera.sensor_width, camera.sensor_fit = LENS_MM, SENSOR_MM, "HORIZONTAL"
        self.camera = bpy.data.objects.new("simgen_preview_camera", camera)
        self.scene.collection.objects.link(self.camera)
        self.scene.camera = self.camera

    def render(self, obj: bpy.types.Object, path: Path) -> None:
        """Write a PNG of ``obj`` (a library original, shown through a temporary duplicate) to ``path``."""
        shown = obj.copy()  # shares the mesh and materials
        shown.hide_render = False
        self.scene.collection.objects.link(shown)
        try:
            self._frame(obj)
            self.scene.render.filepath = str(path)
            bpy.ops.render.render(write_still=True, scene=self.scene.name)
        finally:
            bpy.data.objects.remove(shown)

    def _frame(self, obj: bpy.types.Object) -> None:
        """Aim the camera so the object's bounding sphere fills the picture, whatever its size."""
        vertices = mesh_vertices(obj.data)  # not obj.bound_box: it is stale for objects outside any scene
        low, high = vertices.min(axis=0), vertices.max(axis=0)
        centre = Vector(((low + high) / 2).tolist())
        radius = max(float(np.linalg.norm(high - low)) / 2, 1e-6)
        distance = radius / math.sin(math.atan(SENSOR_MM / 2 / LENS_MM)) * 1.05
        az, el = math.radians(VIEW_AZIMUTH_DEG), math.radians(VIEW_ELEVATION_DEG)
        direction = Vector((math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)))
        self.camera.location = centre + direction * distance
        self.camera.rotation_euler = (-direction).to_track_quat("-Z", "Y").to_euler()
        self.camera.data.clip_start, self.camera.data.clip_end = distance * 0.01, distance * 10

    def close(self) -> None:
        bpy.data.scenes.remove(self.scene)
