"""The Blender backend: the only place that touches ``bpy``.

One persistent scene per process. Assets are imported once into a hidden library and
shown per frame as linked duplicates from a pool (move, re-colour, toggle visibility), so a
frame costs a scene update, not an import. One Cycles render per frame gives RGB, depth and
the object index together; instance ids are written into ``pass_index`` right before it.
"""

from __future__ import annotations

import difflib
import math
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import bpy
import bmesh  # after bpy: importing bpy is what puts Blender's own modules on the path
import numpy as np
import OpenEXR
from mathutils import Matrix, Vector

from simgen.assets.files import bundled_hdri_file
from simgen.assets.resolve import AssetRef
from simgen.assets.urdf import urdf_visuals
from simgen.annotate.stuff import stuff_pass_index
from simgen.blender.device import configure_device
from simgen.blender.environment import EnvironmentBuilder
from simgen.blender.materials import JitteredMaterials, SurfaceMaterial
from simgen.blender.physics import RigidBodies
from simgen.blender.rays import RayCaster
from simgen.blender.world import World
from simgen.config.preset import RenderPreset
from simgen.config.scenario import is_path_like
from simgen.errors import AssetError
from simgen.sampling.thermal import PARTS, part_of
from simgen.sampling.frame_spec import (
    AssetBounds, CameraParams, FrameSpec, LightParams, MaterialParams, SunParams, particles, solid_props)

NO_SURFACE_DEPTH = 1e9  # Cycles writes 1e10 where a ray hits nothing
LABEL_ALPHA_THRESHOLD = 0.01  # the alpha from which a surface holds labels (view layer's pass_alpha_threshold)
PARKING_DEPTH_M = -1000.0  # where hidden pool objects wait
BLENDER_BOUNCES = {"diffuse": 4, "glossy": 4, "transmission": 12, "volume": 0}  # Cycles' defaults, per kind
Pose = tuple[tuple[float, float, float], tuple[float, float, float]]


@dataclass
class RenderPasses:
    """What the annotator needs from one render (rows top-down, like the PNG)."""

    depth: np.ndarray  # float32 metres along the camera axis; inf where nothing was hit
    instance: np.ndarray  # int32 instance id per pixel; 0 = background / unlabeled
    points: np.ndarray  # (H, W, 3) float32 world position of each pixel's first hit; NaN where nothing
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # passes outputs asked for (RenderPass.name)


# The up axis each importer assumes when a file does not say; glTF, FBX and USD files declare their own.
IMPORTER_UP = {".obj": "Y", ".ply": "Z", ".stl": "Z", ".blend": "Z"}
Y_UP_TO_Z_UP = Matrix(((1, 0, 0, 0), (0, 0, -1, 0), (0, 1, 0, 0), (0, 0, 0, 1)))  # exact: (x, y, z) -> (x, -z, y)


def mesh_vertices(mesh: bpy.types.Mesh) -> np.ndarray:
    """Vertex positions as an (N, 3) float64 array, read in one call."""
    vertices = np.empty(len(mesh.vertices) * 3, dtype=np.float64)
    mesh.vertices.foreach_get("co", vertices)
    return vertices.reshape(-1, 3)


def _link_material(obj: bpy.types.Object, material: bpy.types.Material) -> None:
    for slot in obj.material_slots:
        slot.link, slot.material = "OBJECT", material


def hull_vertices(mesh: bpy.types.Mesh) -> np.ndarray:
    """Vertices of the mesh's convex hull: all that ground contact, footprints and screen extents depend on,
    at a fraction of the points (8,000 -> ~300 for a YCB scan)."""
    vertices = mesh_vertices(mesh)
    if len(vertices) < 4:
        return vertices
    bm = bmesh.new()
    try:
        for co in vertices:
            bm.verts.new(co)
        result = bmesh.ops.convex_hull(bm, input=list(bm.verts))
        interior = {v for v in result["geom_interior"]} | {v for v in result["geom_unused"]}
        hull = np.array([v.co[:] for v in bm.verts if v not in interior and v.is_valid])
    except (ValueError, RuntimeError):  # degenerate (flat) meshes: keep every vertex
        hull = vertices
    finally:
        bm.free()
    return hull if len(hull) >= 4 else vertices


def axis_correction(up_axis: str | None, suffix: str) -> Matrix:
    """What turns an import made under the importer's up-axis assumption into one Z up, given the file's real one."""
    assumed = IMPORTER_UP.get(suffix)
    if up_axis is None or assumed is None or up_axis == assumed:
        return Matrix.Identity(4)
    return Y_UP_TO_Z_UP if up_axis == "Y" else Y_UP_TO_Z_UP.inverted()


IMPORTERS = {  # suffix -> (operator module, operator name)
    ".obj": ("wm", "obj_import"), ".ply": ("wm", "ply_import"), ".stl": ("wm", "stl_import"),
    ".glb": ("import_scene", "gltf"), ".gltf": ("import_scene", "gltf"), ".fbx": ("import_scene", "fbx"),
    ".usd": ("wm", "usd_import"), ".usda": ("wm", "usd_import"), ".usdc": ("wm", "usd_import"),
    ".usdz": ("wm", "usd_import"),
}
RAW_AXES = {".obj": {"forward_axis": "Y", "up_axis": "Z"}}  # importer options that keep the file's coordinates


def _run_importer(path: str, suffix: str, raw_axes: bool = False) -> None:
    """Import one mesh file into the scene; ``raw_axes`` skips the importer's Y-up to Z-up turn (for URDF parts)."""
    module, name = IMPORTERS[suffix]
    options = RAW_AXES.get(suffix, {}) if raw_axes else {}
    getattr(getattr(bpy.ops, module), name)(filepath=path, **options)


def _add_urdf_primitive(kind: str, size: tuple[float, ...]) -> None:
    """A URDF <box size>, <cylinder radius length> or <sphere radius>, centred on the origin (cylinder along Z)."""
    ops = bpy.ops.mesh
    if kind == "box":
        ops.primitive_cube_add(size=1.0, scale=size)
    elif kind == "cylinder":
        ops.primitive_cylinder_add(radius=size[0], depth=size[1], vertices=48)
    else:
        ops.primitive_uv_sphere_add(radius=size[0], segments=48, ring_count=24)


def _normalise(mesh: bpy.types.Mesh, ref: AssetRef, suffix: str) -> None:
    """Bake units, up axis and real size into the mesh once, so bounds and every later stage see metres, Z up."""
    matrix = Matrix.Scale(ref.scale, 4) @ axis_correction(ref.up_axis, suffix)
    if matrix != Matrix.Identity(4):
        mesh.transform(matrix)
    if ref.size_m is not None:
        vertices = mesh_vertices(mesh)
        longest = float(np.ptp(vertices, axis=0).max()) if len(vertices) else 0.0
        if longest > 0:
            mesh.transform(Matrix.Scale(ref.size_m / longest, 4))
    mesh.update()


def _tag_parts(mesh: bpy.types.Mesh) -> None:
    """Each face's part (tyre, glass, lamp or body, from its material's name) as the integer face attribute
    ``simgen_part``, which the thermal view reads to give parts their own temperatures."""
    parts = [part_of(m.name) if m is not None else 0 for m in mesh.materials]
    if not any(parts) or not mesh.polygons:
        return
    slots = np.zeros(len(mesh.polygons), dtype=np.int32)
    mesh.polygons.foreach_get("material_index", slots)
    attribute = mesh.attributes.new("simgen_part", "INT", "FACE")
    attribute.data.foreach_set("value", np.asarray(parts, dtype=np.int32)[np.clip(slots, 0, len(parts) - 1)])


def _by_part(nodes: Any, links: Any, prop: str) -> Any:
    """A node output: the object's ``prop`` where the face is body, ``prop_tyre`` etc. on its parts."""
    part = nodes.new("ShaderNodeAttribute")
    part.attribute_type, part.attribute_name = "GEOMETRY", "simgen_part"
    body = nodes.new("ShaderNodeAttribute")
    body.attribute_type, body.attribute_name = "OBJECT", prop
    total = body.outputs["Fac"]
    for index, name in enumerate(PARTS[1:], 1):
        value = nodes.new("ShaderNodeAttribute")
        value.attribute_type, value.attribute_name = "OBJECT", f"{prop}_{name}"
        here, step, weighted, summed = (nodes.new("ShaderNodeMath") for _ in range(4))
        here.operation, step.operation, weighted.operation, summed.operation = "COMPARE", "SUBTRACT", "MULTIPLY", "ADD"
        links.new(part.outputs["Fac"], here.inputs[0])
        here.inputs[1].default_value, here.inputs[2].default_value = float(index), 0.5
        links.new(value.outputs["Fac"], step.inputs[0])
        links.new(body.outputs["Fac"], step.inputs[1])
        links.new(here.outputs[0], weighted.inputs[0])
        links.new(step.outputs[0], weighted.inputs[1])
        links.new(total, summed.inputs[0])
        links.new(weighted.outputs[0], summed.inputs[1])
        total = summed.outputs[0]
    return total


def _linear_keys(obj: bpy.types.Object) -> None:
    """Straight-line motion between an object's keys (Blender eases them by default)."""
    action = obj.animation_data.action if obj.animation_data else None
    if action is None:
        return
    curves = getattr(action, "fcurves", None)
    if curves is None:  # Blender 5: an action's curves live in its layers' channelbags
        curves = [c for layer in action.layers for strip in layer.strips
                  for bag in strip.channelbags for c in bag.fcurves]
    for curve in curves:
        for point in curve.keyframe_points:
            point.interpolation = "LINEAR"


def _reflectance_material(name: str, prop: str) -> bpy.types.Material:
    """A diffuse grey whose reflectance is each object's custom property ``prop`` (one material for all)."""
    material = bpy.data.materials.new(name)
    nodes, links = material.node_tree.nodes, material.node_tree.links
    for node in list(nodes):
        if node.type != "OUTPUT_MATERIAL":
            nodes.remove(node)
    attribute = nodes.new("ShaderNodeAttribute")
    attribute.attribute_type, attribute.attribute_name = "OBJECT", prop
    diffuse = nodes.new("ShaderNodeBsdfDiffuse")
    links.new(attribute.outputs["Fac"], diffuse.inputs["Color"])
    links.new(diffuse.outputs["BSDF"], nodes["Material Output"].inputs["Surface"])
    return material


def _dot_projector(name: str) -> bpy.types.Object:
    """A spot light that casts a fixed pseudo-random dot pattern: the direction of each ray it sends, in its
    own axes, as tangent-plane coordinates (x / -z, y / -z: a slide in front of the lens), cut into square
    cells with one dot at a random place in each (Voronoi F1 distance under the dot's radius)."""
    data = bpy.data.lights.new(name, "SPOT")
    data.use_nodes = True
    nodes, links = data.node_tree.nodes, data.node_tree.links
    coordinates, split = nodes.new("ShaderNodeTexCoord"), nodes.new("ShaderNodeSeparateXYZ")
    links.new(coordinates.outputs["Normal"], split.inputs[0])
    depth = nodes.new("ShaderNodeMath")
    depth.operation = "MULTIPLY"
    depth.inputs[1].default_value = -1.0
    links.new(split.outputs["Z"], depth.inputs[0])
    slide = nodes.new("ShaderNodeCombineXYZ")
    for axis in "XY":
        ratio = nodes.new("ShaderNodeMath")
        ratio.operation = "DIVIDE"
        links.new(split.outputs[axis], ratio.inputs[0])
        links.new(depth.outputs[0], ratio.inputs[1])
        links.new(ratio.outputs[0], slide.inputs[axis])
    cells = nodes.new("ShaderNodeTexVoronoi")
    cells.name = "cells"
    cells.voronoi_dimensions, cells.feature = "2D", "F1"
    cells.inputs["Randomness"].default_value = 0.7  # dots off a regular grid, as a diffraction pattern's are
    links.new(slide.outputs[0], cells.inputs["Vector"])
    dot = nodes.new("ShaderNodeMath")
    dot.name, dot.operation = "dot", "LESS_THAN"
    links.new(cells.outputs["Distance"], dot.inputs[0])
    links.new(dot.outputs[0], nodes["Emission"].inputs["Strength"])
    obj = bpy.data.objects.new(name, data)
    obj.hide_render = True
    return obj


def _thermal_material(name: str) -> bpy.types.Material:
    """Emission of each object's ``lwir`` radiance, weighted by its emissivity, mixed with a white diffuse
    reflection weighted by ``lwir_r`` = 1 - emissivity: a grey body in its surroundings. Faces of a part
    (``simgen_part``) take ``lwir_tyre``, ``lwir_r_glass``, ... instead."""
    material = bpy.data.materials.new(name)
    nodes, links = material.node_tree.nodes, material.node_tree.links
    for node in list(nodes):
        if node.type != "OUTPUT_MATERIAL":
            nodes.remove(node)
    emission, diffuse, mix = (nodes.new("ShaderNodeEmission"), nodes.new("ShaderNodeBsdfDiffuse"),
                              nodes.new("ShaderNodeMixShader"))
    emission.inputs["Color"].default_value = (1.0, 1.0, 1.0, 1.0)
    diffuse.inputs["Color"].default_value = (1.0, 1.0, 1.0, 1.0)
    links.new(_by_part(nodes, links, "lwir"), emission.inputs["Strength"])
    links.new(_by_part(nodes, links, "lwir_r"), mix.inputs["Fac"])
    links.new(emission.outputs["Emission"], mix.inputs[1])
    links.new(diffuse.outputs["BSDF"], mix.inputs[2])
    links.new(mix.outputs["Shader"], nodes["Material Output"].inputs["Surface"])
    return material


class BlenderBackend:
    """A long-lived Blender scene that renders FrameSpecs."""

    def __init__(self, preset: RenderPreset, device: str = "auto", gpu_indices: list[int] | None = None,
                 scratch_dir: Path | None = None):
        bpy.ops.wm.read_factory_settings(use_empty=True)
        self.preset = preset
        self.scene = bpy.context.scene
        self._scratch = tempfile.TemporaryDirectory(
            prefix="simgen-", dir=scratch_dir or ("/dev/shm" if os.path.isdir("/dev/shm") else None))
        self._exr_path = str(Path(self._scratch.name) / "passes.exr")
        self.device = configure_device(self.scene, preset.device if device == "preset" else device, gpu_indices)
        self.blender_version = bpy.app.version_string
        self._configure_render()
        self._collection = bpy.data.collections.new("simgen_objects")
        self.scene.collection.children.link(self._collection)
        self._library: dict[str, bpy.types.Object] = {}
        self._pools: dict[str, list[bpy.types.Object]] = {}  # labeled instances, by asset
        self._distractor_pools: dict[str, list[bpy.types.Object]] = {}  # never labeled, by asset
        self._materials: dict[str, SurfaceMaterial] = {}  # by object name
        self._jittered: dict[str, JitteredMaterials] = {}  # by object name, for mode: jitter
        self._weather_pools: dict[str, list[bpy.types.Object]] = {}  # rain streaks and snowflakes
        self._weather_materials: dict[str, SurfaceMaterial] = {}
        self._lights: list[bpy.types.Object] = []
        self._physics: RigidBodies | None = None  # created on first use: most scenarios never simulate
        self._shown_objects: list[bpy.types.Object] = []  # what apply() showed for the current frame
        self._shown_distractors: list[bpy.types.Object] = []
        self._see_through: list[bpy.types.Object] = []
        self._animated: list[bpy.types.Object] = []  # keyed for motion blur in the current frame
        self._images: dict[str, bpy.types.Image] = {}
        self._extra_passes: list = []  # simgen.outputs.RenderPass, from enable_passes
        self._views: dict[str, bpy.types.Material] = {}  # override materials of the NIR and thermal views
        self._illuminator: bpy.types.Object | None = None
        self._projector: bpy.types.Object | None = None  # camera.nir.projector: the dot pattern's light
        self._rig: dict[str, bpy.types.Object] = {}  # camera.rig: a camera object per rig camera, on the main one
        self._thermal_world: bpy.types.World | None = None
        self._rays = RayCaster()
        self.asset_vertices: dict[str, np.ndarray] = {}  # asset-local convex hull, for placement and extents
        self.asset_bounds: dict[str, AssetBounds] = {}
        self._build_camera()
        self._build_sun()
        self.world = World(self.scene, preset.world_map_resolution, self._image)
        self._build_ground()
        self.environment = EnvironmentBuilder(self.scene.collection)

    # ----------------------------------------------------------------- set-up, once per process
    def _configure_render(self) -> None:
        scene, p = self.scene, self.preset
        scene.render.engine = "CYCLES"
        scene.render.resolution_x, scene.render.resolution_y = p.resolution
        scene.render.resolution_percentage = 100
        scene.render.film_transparent = False
        # Persistent data keeps Cycles' scene between renders. Kept across frames, the order in which objects
        # and shaders entered it (the frames before) changes the next frame's noise; so unless the preset asks
        # otherwise it is dropped at the start of every frame (apply) and kept only for that frame's label
        # passes: a frame's pixels then depend on that frame alone, and resumed or sharded runs are identical.
        scene.render.use_persistent_data = True
        if p.threads:
            scene.render.threads_mode = "FIXED"
            scene.render.threads = p.threads
        scene.cycles.tile_size = p.tile_size
        scene.view_settings.view_transform = p.view_transform
        scene.view_settings.look = "None"
        layer = scene.view_layers[0]
        layer.use_pass_z = True
        layer.use_pass_object_index = True
        layer.use_pass_position = True  # each pixel's first hit: its camera ray, for amodal masks (rays.py)
        # Cycles passes a surface of alpha under this threshold at random (with a chance near its alpha), so
        # at the default 0.5 a car's windows left dithered holes in its masks and depth. Just above 0, every
        # surface that is there at all (glass included) is a label surface; cut-outs of alpha 0 stay holes.
        layer.pass_alpha_threshold = LABEL_ALPHA_THRESHOLD
        self.configure_sampling(p)

    def configure_sampling(self, p: RenderPreset, scale: float = 1.0,
                           crop: tuple[float, float, float, float] | None = None) -> None:
        """How Cycles samples and denoises, from a preset (the sampling half of it; resolution stays). The
        quality benchmark calls it between renders of one scene; ``scale`` renders at that fraction of the
        resolution (same field of view) and ``crop`` (x0, y0, x1, y1 in 0..1, y up) only that window."""
        scene, cycles = self.scene, self.scene.cycles
        scene.render.resolution_percentage = max(1, round(100 * scale))
        scene.render.use_border = scene.render.use_crop_to_border = crop is not None
        if crop is not None:
            (scene.render.border_min_x, scene.render.border_min_y,
             scene.render.border_max_x, scene.render.border_max_y) = crop
        cycles.samples = p.samples
        cycles.use_adaptive_sampling = p.adaptive_threshold > 0
        if p.adaptive_threshold > 0:
            cycles.adaptive_threshold = p.adaptive_threshold
        cycles.adaptive_min_samples = p.adaptive_min_samples
        cycles.use_denoising = p.denoise
        cycles.denoising_prefilter = p.denoise_prefilter.upper()
        cycles.denoising_input_passes = {"rgb": "RGB", "albedo": "RGB_ALBEDO",
                                         "albedo_normal": "RGB_ALBEDO_NORMAL"}[p.denoise_passes]
        cycles.denoising_quality = p.denoise_quality.upper()
        cycles.max_bounces = p.max_bounces
        for kind, default in BLENDER_BOUNCES.items():
            wanted = getattr(p.bounces, kind)
            setattr(cycles, f"{kind}_bounces", min(p.max_bounces, default if wanted is None else wanted))
        # transparent surfaces are passed through, not bounced off: max_bounces does not cap them
        cycles.transparent_max_bounces = 8 if p.bounces.transparent is None else p.bounces.transparent
        cycles.use_light_tree = p.light_tree
        cycles.use_guiding = p.guiding
        cycles.sample_clamp_direct, cycles.sample_clamp_indirect = p.clamp_direct, p.clamp_indirect
        cycles.caustics_reflective = cycles.caustics_refractive = p.caustics
        cycles.blur_glossy = p.filter_glossy
        cycles.texture_limit_render = str(p.texture_limit) if p.texture_limit else "OFF"

    def _build_camera(self) -> None:
        data = bpy.data.cameras.new("simgen_camera")
        data.sensor_fit = "HORIZONTAL"
        data.clip_start, data.clip_end = 0.01, 10000.0
        self.camera = bpy.data.objects.new("simgen_camera", data)
        self.scene.collection.objects.link(self.camera)
        self.scene.camera = self.camera

    def _build_sun(self) -> None:
        self.sun = bpy.data.objects.new("simgen_sun", bpy.data.lights.new("simgen_sun", "SUN"))
        self.scene.collection.objects.link(self.sun)

    def _build_ground(self) -> None:
        mesh = bpy.data.meshes.new("simgen_ground")
        mesh.from_pydata([(-0.5, -0.5, 0), (0.5, -0.5, 0), (0.5, 0.5, 0), (-0.5, 0.5, 0)], [], [(0, 1, 2, 3)])
        self.ground = bpy.data.objects.new("simgen_ground", mesh)
        self.scene.collection.objects.link(self.ground)
        self._ground_material = SurfaceMaterial("simgen_ground", self._image)
        mesh.materials.append(self._ground_material.material)

    # ----------------------------------------------------------------- assets, once per process
    def load_assets(self, refs: list[AssetRef]) -> dict[str, AssetBounds]:
        """Import each asset once; returns its bounds so the sampler can place it. A failure raises
        AssetError with ``key`` set, so the driver can name the scenario field that asked for the asset."""
        bounds = {}
        for ref in refs:
            try:
                bounds[ref.key] = self._load(ref)
            except AssetError as exc:
                exc.key = ref.key
                raise
        self.asset_bounds.update(bounds)
        return bounds

    def _load(self, ref: AssetRef) -> AssetBounds:
        if ref.key not in self._library:
            obj = self._create_primitive(ref.primitive) if ref.kind == "primitive" else self._import_file(ref)
            if not obj.data.materials:
                obj.data.materials.append(None)
            _tag_parts(obj.data)
            self._library[ref.key] = obj
            self._pools[ref.key] = []
        vertices = hull_vertices(self._library[ref.key].data)
        if len(vertices) == 0:
            raise AssetError(f"asset {ref.key} has no vertices")
        self.asset_vertices[ref.key] = vertices
        return AssetBounds(tuple(vertices.min(0).tolist()), tuple(vertices.max(0).tolist()))

    def mesh_triangles(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """A loaded asset's whole mesh in its own frame (metres, Z up): vertices (N, 3) and triangles (M, 3)."""
        mesh = self._library[key].data
        mesh.calc_loop_triangles()
        triangles = np.empty(len(mesh.loop_triangles) * 3, dtype=np.int32)
        mesh.loop_triangles.foreach_get("vertices", triangles)
        return mesh_vertices(mesh), triangles.reshape(-1, 3)

    def has_asset(self, key: str) -> bool:
        return key in self._library

    def library_object(self, key: str) -> bpy.types.Object:
        """The hidden imported original of a loaded asset, for previews and inspection."""
        return self._library[key]

    def _create_primitive(self, name: str) -> bpy.types.Object:
        """Unit-sized primitives (1 m across) centred on the origin."""
        ops = bpy.ops.mesh
        add = {
            "cube": lambda: ops.primitive_cube_add(size=1.0),
            "sphere": lambda: ops.primitive_uv_sphere_add(radius=0.5, segments=48, ring_count=24),
            "cylinder": lambda: ops.primitive_cylinder_add(radius=0.5, depth=1.0, vertices=48),
            "cone": lambda: ops.primitive_cone_add(radius1=0.5, depth=1.0, vertices=48),
            "torus": lambda: ops.primitive_torus_add(major_radius=0.375, minor_radius=0.125),
            "monkey": lambda: ops.primitive_monkey_add(size=1.0),
            "plane": lambda: ops.primitive_plane_add(size=1.0),
        }[name]
        add()
        obj = bpy.context.active_object
        if name != "cube":
            for polygon in obj.data.polygons:
                polygon.use_smooth = True
        return self._to_library(obj, f"primitive:{name}")

    def _import_file(self, ref: AssetRef) -> bpy.types.Object:
        assert ref.path is not None
        path, suffix = str(ref.path), ref.path.suffix.lower()
        before = set(bpy.data.objects)
        try:
            if suffix == ".blend":
                self._append_blend(path, ref)
            elif suffix == ".urdf":
                self._import_urdf(ref)
            else:
                _run_importer(path, suffix)
        except (RuntimeError, OSError) as exc:
            raise AssetError(f"cannot import asset {ref.key}: {str(exc).strip().splitlines()[-1]}") from None
        new = [o for o in bpy.data.objects if o not in before]
        meshes = [o for o in new if o.type == "MESH"]
        for obj in new:
            if obj.type != "MESH":
                bpy.data.objects.remove(obj)
        if not meshes:
            raise AssetError(f"asset {ref.key} contains no mesh")
        obj = self._join(meshes)
        _normalise(obj.data, ref, suffix)
        return self._to_library(obj, ref.key)

    def _import_urdf(self, ref: AssetRef) -> None:
        """A URDF's visuals as posed scene objects (meshes in their raw, Z-up coordinates, as URDF means them)."""
        assert ref.path is not None
        for visual in urdf_visuals(ref.path):
            before = set(bpy.data.objects)
            if visual.kind == "mesh":
                suffix = visual.source.suffix.lower()
                if suffix not in IMPORTERS:
                    raise AssetError(f"asset {ref.key}: URDF mesh {visual.source.name}: unsupported format "
                                     f"(use one of {', '.join(IMPORTERS)})")
                _run_importer(str(visual.source), suffix, raw_axes=True)
            else:
                _add_urdf_primitive(visual.kind, visual.source)
            parts = [o for o in bpy.data.objects if o not in before and o.type == "MESH"]
            if not parts:
                raise AssetError(f"asset {ref.key}: URDF visual {visual.source} contains no mesh")
            part = self._join(parts)
            part.matrix_world = Matrix(visual.transform.tolist()) @ part.matrix_world

    def _append_blend(self, path: str, ref: AssetRef) -> None:
        """Bring a .blend's objects into the scene: all of them, or one named collection or object."""
        with bpy.data.libraries.load(path, link=False) as (src, dst):
            available = sorted({*src.collections, *src.objects})
            if ref.member is None or ref.member in src.objects:
                dst.objects = [ref.member] if ref.member else list(src.objects)
            elif ref.member in src.collections:
                dst.collections = [ref.member]
        if ref.member is not None and not (dst.collections or dst.objects):
            close = difflib.get_close_matches(ref.member, available, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise AssetError(f"asset {ref.key}: {path} has no collection or object '{ref.member}'{hint} "
                             f"(it has {', '.join(available) or 'none'})")
        objects = list(dict.fromkeys(o for c in dst.collections for o in c.all_objects))
        objects += [o for o in dst.objects if o is not None]
        for obj in objects:
            self.scene.collection.objects.link(obj)
        for collection in dst.collections:  # its objects now live in the scene, to be joined
            bpy.data.collections.remove(collection)

    def _join(self, meshes: list[bpy.types.Object]) -> bpy.types.Object:
        """Bake each part's transform into its mesh and merge them: one asset, one object, one id."""
        bpy.context.view_layer.update()  # appended/imported objects have no evaluated matrix_world yet
        world = {obj.name: obj.matrix_world.copy() for obj in meshes}  # before any parent is reset
        for obj in meshes:
            obj.data = obj.data.copy() if obj.data.users > 1 else obj.data
            obj.data.transform(world[obj.name])
            obj.parent = None
            obj.matrix_world = Matrix.Identity(4)
        if len(meshes) > 1:
            with bpy.context.temp_override(active_object=meshes[0], selected_editable_objects=meshes,
                                           selected_objects=meshes):
                bpy.ops.object.join()
        return meshes[0]

    def _to_library(self, obj: bpy.types.Object, key: str) -> bpy.types.Object:
        """Keep the imported object out of the render; frames use duplicates of it."""
        for collection in list(obj.users_collection):
            collection.objects.unlink(obj)
        obj.name = f"asset:{key}"[:60]
        obj.matrix_world = Matrix.Identity(4)
        return obj

    # ----------------------------------------------------------------- per frame
    def apply(self, frame: FrameSpec) -> None:
        """Make the scene show ``frame``: objects, ids, materials, distractors, camera, lights, world, ground."""
        if not self.preset.persistent_data:
            self.scene.render.use_persistent_data = False  # frees the Cycles session the last frame left
            self.scene.render.use_persistent_data = True
        used: dict[str, int] = {}
        self._shown_objects = []  # in the frame's order: settle() and apply_motion() pair them with the specs
        for spec in frame.objects:
            obj = self._next_from_pool(self._pools, spec.asset, used)
            self._place(obj, spec.location, spec.rotation_euler, (spec.scale,) * 3, spec.material)
            obj.pass_index = spec.instance_id
            self._shown_objects.append(obj)
        self._hide_unused(self._pools, used)
        used_distractors: dict[str, int] = {}
        self._shown_distractors = []  # likewise, for solid_props(frame)
        self._see_through = []  # props that label passes leave out (hides_labels false)
        stuff = frame.environment is not None  # props carry stuff classes where every pixel is labeled
        for prop in solid_props(frame):
            obj = self._next_from_pool(self._distractor_pools, prop.asset, used_distractors)
            self._place(obj, prop.location, prop.rotation_euler, prop.scale, prop.material)
            obj.pass_index = stuff_pass_index(prop.stuff) if stuff else 0
            self._shown_distractors.append(obj)
            if not prop.hides_labels:
                self._see_through.append(obj)
        self._hide_unused(self._distractor_pools, used_distractors)
        self._apply_weather_particles(frame)
        self.environment.apply(frame.environment)
        self._apply_camera(frame)
        self._apply_sun(frame.sun)
        self._apply_lights(frame.lights)
        self.world.apply(frame.world, frame.sun, frame.fog, frame.camera.location)
        self.ground.hide_render = not frame.ground.enabled
        self.ground.scale = (frame.ground.size, frame.ground.size, 1.0)
        self._ground_material.apply(frame.ground.material)
        self.scene.cycles.seed = frame.index

    def _apply_weather_particles(self, frame: FrameSpec) -> None:
        """Rain streaks and snowflakes: hundreds of tiny objects sharing one material per kind."""
        used: dict[str, int] = {}
        for kind, particle in particles(frame):
            key = f"{kind}:{particle.asset}"
            if key not in self._weather_materials:
                self._weather_materials[key] = SurfaceMaterial(f"simgen_{kind}", self._image)
            shared = self._weather_materials[key]
            first = key not in used
            obj = self._next_from_pool(self._weather_pools, key, used, particle.asset,
                                       dress=lambda new: _link_material(new, shared.material))
            obj.location, obj.rotation_euler, obj.scale = particle.location, particle.rotation_euler, particle.scale
            obj.hide_render = False
            obj.pass_index = stuff_pass_index("precipitation") if frame.environment is not None else 0
            if not particle.hides_labels:
                self._see_through.append(obj)
            if first:
                shared.apply(particle.material)
        self._hide_unused(self._weather_pools, used)

    def _next_from_pool(self, pools: dict[str, list[bpy.types.Object]], key: str, used: dict[str, int],
                        asset: str | None = None, dress=None) -> bpy.types.Object:
        """The frame's next object of pool ``key``, creating linked duplicates of ``asset`` as needed.

        ``dress`` gives a new object its material; by default each object gets its own SurfaceMaterial.
        """
        index = used.get(key, 0)
        used[key] = index + 1
        pool = pools.setdefault(key, [])
        while len(pool) <= index:
            obj = self._library[asset or key].copy()  # shares the mesh: no geometry is copied
            obj.name = f"{key.rsplit('/', 1)[-1]}.{len(self._collection.objects)}"[:60]
            (dress or self._own_material)(obj)
            self._collection.objects.link(obj)
            pool.append(obj)
        return pool[index]

    def _own_material(self, obj: bpy.types.Object) -> None:
        self._materials[obj.name] = SurfaceMaterial(f"simgen_material.{obj.name}", self._image)

    def _place(self, obj: bpy.types.Object, location, rotation, scale, material: MaterialParams) -> None:
        obj.location = location
        obj.rotation_euler = rotation
        obj.scale = scale
        obj.hide_render = False
        if material.mode == "jitter":
            if obj.name not in self._jittered:
                for slot in obj.material_slots:
                    slot.link = "DATA"  # copy what the asset itself uses
                self._jittered[obj.name] = JitteredMaterials(obj)
            jittered = self._jittered[obj.name]
            jittered.apply(material)
            for slot, copy in zip(obj.material_slots, jittered.materials):
                slot.link = "OBJECT"
                slot.material = copy
            return
        own = self._materials[obj.name]
        own.apply(material)
        for slot in obj.material_slots:
            if material.mode == "keep":
                slot.link = "DATA"
            else:
                slot.link = "OBJECT"
                slot.material = own.material

    @staticmethod
    def _hide_unused(pools: dict[str, list[bpy.types.Object]], used: dict[str, int]) -> None:
        for key, pool in pools.items():
            for obj in pool[used.get(key, 0):]:
                obj.hide_render = True
                obj.pass_index = 0
                obj.location = (0.0, 0.0, PARKING_DEPTH_M)  # far below: hidden objects must not collide

    def settle(self, frame: FrameSpec, substeps: int = 10) -> tuple[list[Pose], list[Pose]]:
        """Let the frame's labeled objects and ground distractors fall and come to rest.

        Returns the resting (location, rotation_euler) of each labeled object and each solid distractor
        (see solid_props), in the frame's order; static props stay where they are.
        """
        if self._physics is None:
            self._physics = RigidBodies(self.scene)
        labeled, distractors, solid = self._shown_objects, self._shown_distractors, solid_props(frame)
        falling = labeled + [obj for obj, prop in zip(distractors, solid) if not prop.static]
        floating = [obj for obj, prop in zip(distractors, solid) if prop.static]
        parked = [obj for pool in (*self._pools.values(), *self._distractor_pools.values()) for obj in pool
                  if obj.hide_render]
        self._physics.exclude(parked)
        rest = dict(zip((o.name for o in falling), self._physics.settle(falling, floating, frame.physics_steps, substeps)))

        def pose(obj: bpy.types.Object) -> Pose:
            matrix = rest.get(obj.name, obj.matrix_world)
            return tuple(matrix.translation), tuple(matrix.to_euler("XYZ"))

        return [pose(o) for o in labeled], [pose(o) for o in distractors]

    def _apply_camera(self, frame: FrameSpec) -> None:
        cam = frame.camera
        self._main = cam
        self.camera.delta_location = (0.0, 0.0, 0.0)
        self.camera.matrix_world = Matrix(cam.matrix_world)
        self.scene.camera = self.camera
        self._lens(self.camera.data, cam)
        view = self.scene.view_settings
        view.exposure = cam.exposure_ev
        wanted = cam.view_transform or self.preset.view_transform
        if view.view_transform != wanted:
            view.view_transform = wanted

    def _lens(self, data: bpy.types.Camera, cam: CameraParams) -> None:
        render = self.scene.render
        data.lens = cam.focal_length_mm
        data.sensor_width = cam.sensor_width_mm
        data.shift_x, data.shift_y = cam.shift
        data.dof.use_dof = cam.f_stop is not None
        if cam.f_stop is not None:
            data.dof.aperture_fstop = cam.f_stop
            data.dof.focus_distance = cam.focus_distance_m
        if (render.resolution_x, render.resolution_y) != tuple(cam.resolution):
            render.resolution_x, render.resolution_y = cam.resolution

    def aim(self, cam: CameraParams, name: str | None = None) -> None:
        """Render from rig camera ``name`` (None: the frame's own camera again): a camera object parented
        to the main one at its place and turn relative to it, so the keys that move and turn the main
        camera (motion blur, a clip's motion vectors) carry the whole rig. The scene is left as it is."""
        if name is None:
            self.scene.camera = self.camera
            self._lens(self.camera.data, cam)
            return
        if name not in self._rig:
            child = bpy.data.objects.new(f"simgen_camera.{name}", bpy.data.cameras.new(f"simgen_camera.{name}"))
            self.scene.collection.objects.link(child)
            child.parent = self.camera
            self._rig[name] = child
        child = self._rig[name]
        child.matrix_parent_inverse = Matrix.Identity(4)
        child.matrix_basis = Matrix(self._main.matrix_world).inverted() @ Matrix(cam.matrix_world)
        self._lens(child.data, cam)
        self.scene.camera = child

    def _apply_sun(self, sun: SunParams | None) -> None:
        self.sun.hide_render = sun is None
        if sun is None:
            return
        el, az = math.radians(sun.elevation_deg), math.radians(sun.azimuth_deg)
        towards_sun = Vector((math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)))
        self.sun.rotation_euler = towards_sun.to_track_quat("Z", "Y").to_euler()  # a sun shines along its -Z
        self.sun.data.energy = sun.strength
        self.sun.data.color = sun.color
        self.sun.data.angle = math.radians(sun.angle_deg)

    def _apply_lights(self, lights: list[LightParams]) -> None:
        while len(self._lights) < len(lights):
            data = bpy.data.lights.new(f"simgen_light.{len(self._lights)}", "POINT")
            obj = bpy.data.objects.new(data.name, data)
            self.scene.collection.objects.link(obj)
            self._lights.append(obj)
        for obj, light in zip(self._lights, lights):
            obj.hide_render = False
            if obj.data.type != light.type.upper():
                obj.data.type = light.type.upper()
            obj.location = light.location
            aim = Vector(light.target) - Vector(light.location)
            obj.rotation_euler = aim.to_track_quat("-Z", "Y").to_euler()  # lights shine along their -Z
            obj.data.energy = light.power_w
            obj.data.color = light.color
            if light.type == "area":
                obj.data.size = light.size_m
            else:
                obj.data.shadow_soft_size = light.size_m
            if light.type == "spot":
                obj.data.spot_size = math.radians(light.spot_angle_deg)
        for obj in self._lights[len(lights):]:
            obj.hide_render = True

    def _image(self, name_or_path: str) -> bpy.types.Image:
        if name_or_path not in self._images:
            path = Path(name_or_path) if is_path_like(name_or_path) else bundled_hdri_file(name_or_path)
            if not path.is_file():
                raise AssetError(f"image '{name_or_path}' not found (looked for {path})")
            self._images[name_or_path] = bpy.data.images.load(str(path), check_existing=True)
        return self._images[name_or_path]

    # ----------------------------------------------------------------- render
    def render(self) -> None:
        """One Cycles render: RGB, depth and object index come out of the same pass."""
        bpy.ops.render.render()

    def apply_motion(self, frame: FrameSpec) -> None:
        """Motion: key each moving thing one frame time before and after its pose (the pose is the midpoint,
        which is where labels are taken), for motion blur and, in a clip, for Cycles' motion vectors (the
        optical flow). Blender frame 1 is now; frames 0 and 2 are the clip's previous and next frames."""
        for obj in self._animated:
            obj.animation_data_clear()
        self._animated = []
        render = self.scene.render
        render.use_motion_blur = frame.camera.shutter is not None
        if frame.camera.shutter is None and frame.clip is None:
            return
        if frame.camera.shutter is not None:
            render.motion_blur_shutter = frame.camera.shutter
        step = 1.0 / (render.fps / render.fps_base)
        bpy.context.view_layer.update()  # matrix_world holds the poses apply() just set, not the last frame's
        if frame.clip is not None:  # the real motion: where each thing is one frame before and after
            if frame.camera.path is not None:
                self._key_path(self.camera, [Matrix(m) for m in frame.camera.path])
            for obj, spec in zip(self._shown_objects, frame.objects):
                if spec.path is not None:
                    here = obj.matrix_world.copy()
                    self._key_path(obj, [Matrix.Translation(Vector(p) - here.translation) @ here for p in spec.path])
        else:  # one shot with a velocity: key one Blender frame (1/24 s) either way; the shutter takes its share
            moving = [(self.camera, frame.camera.velocity)]
            moving += [(obj, spec.velocity) for obj, spec in zip(self._shown_objects, frame.objects)
                       if any(spec.velocity)]
            for obj, velocity in moving:
                here = obj.matrix_world.translation.copy()
                for key, sign in ((0, -1), (2, 1)):
                    obj.location = here + sign * step * Vector(velocity)
                    obj.keyframe_insert("location", frame=key)
                obj.location = here
                self._animated.append(obj)
        for obj in self._animated:
            _linear_keys(obj)
        self.scene.frame_set(1)

    def _key_path(self, obj: bpy.types.Object, poses: list[Matrix]) -> None:
        """Key ``obj`` at its pose one frame before (Blender frame 0), now (1) and one frame after (2): a path
        that curves (a fall, an arc) is not the straight line from before to after."""
        here_location, here_rotation = obj.location.copy(), obj.rotation_euler.copy()
        for key, pose in zip((0, 2), poses):
            location, rotation, _ = pose.decompose()
            obj.location = location
            obj.rotation_euler = rotation.to_euler(obj.rotation_mode, here_rotation)  # no jump through 360
            obj.keyframe_insert("location", frame=key)
            obj.keyframe_insert("rotation_euler", frame=key)
        obj.location, obj.rotation_euler = here_location, here_rotation
        obj.keyframe_insert("location", frame=1)
        obj.keyframe_insert("rotation_euler", frame=1)
        self._animated.append(obj)

    @contextmanager
    def _label_settings(self) -> Iterator[None]:
        """A 1-sample, pinhole, bounce-free render: all that labels need, at a fraction of the cost.

        Cycles takes depth and object index from a pixel's first sample, whose position depends only
        on the pixel and the seed, not on the scene or the sample count; so label passes line up with
        the main render pixel for pixel.
        """
        cycles, dof, render = self.scene.cycles, self.scene.camera.data.dof, self.scene.render
        saved = (cycles.samples, cycles.use_adaptive_sampling, cycles.use_denoising, cycles.max_bounces, dof.use_dof,
                 render.use_motion_blur)
        cycles.samples, cycles.use_adaptive_sampling, cycles.use_denoising, cycles.max_bounces = 1, False, False, 0
        dof.use_dof = render.use_motion_blur = False
        see_through = [obj for obj in self._see_through if not obj.hide_render]
        for obj in see_through:  # translucent props (rain streaks) never hide what is behind them
            obj.hide_render = True
        volume = self.world.detach_volume()  # fog must not leak into label depth or masks
        try:
            yield
        finally:
            self.world.attach_volume(volume)
            for obj in see_through:
                obj.hide_render = False
            (cycles.samples, cycles.use_adaptive_sampling, cycles.use_denoising, cycles.max_bounces, dof.use_dof,
             render.use_motion_blur) = saved

    def render_labels(self) -> RenderPasses:
        """Sharp label passes for frames whose RGB is blurred by depth of field (labels follow the pinhole)."""
        with self._label_settings():
            bpy.ops.render.render()
            self._save_exr()
            return self._read_passes()

    def render_neighbours(self) -> tuple[RenderPasses, RenderPasses]:
        """The label passes of a clip's previous and next frames (Blender frames 0 and 2 of the keys that
        apply_motion set), for the flow's forward-backward check; the scene is back at now afterwards."""
        passes = []
        try:
            with self._label_settings():
                for key in (0, 2):
                    self.scene.frame_set(key)
                    bpy.ops.render.render()
                    self._save_exr()
                    passes.append(self._read_passes())
        finally:
            self.scene.frame_set(1)
        return passes[0], passes[1]

    def cast_amodal(self, ids: list[int], passes: RenderPasses,
                    windows: dict[int, tuple[int, int, int, int]]) -> tuple[dict[int, np.ndarray], list[int]]:
        """Unoccluded masks of ``ids`` from the rays of ``passes`` (the frame's label pass), each object's
        inside its window, without rendering (see rays.py). Returns the masks and the ids left to
        render_isolated: objects whose rendered shape is not their mesh's (modifiers, shape keys), whose
        alpha varies over a surface, or whose window holds more rays than a pass costs."""
        bpy.context.view_layer.update()  # matrices as rendered: a stereo view's camera move is undone by now
        threshold = self.scene.view_layers[0].pass_alpha_threshold
        limit = self.scene.cycles.transparent_max_bounces
        objects = {obj.pass_index: obj for obj in self._shown_objects}
        masks, rest = {}, []
        for i in ids:
            obj = objects[i]
            deformed = bool(obj.modifiers) or obj.data.shape_keys is not None
            opaque = None if deformed else self._rays.opaque_faces(obj, threshold)
            mask = None if opaque is None else self._rays.mask(obj, opaque, passes.instance, passes.points,
                                                               self.scene.camera, windows[i], limit)
            if mask is None:
                rest.append(i)
            else:
                masks[i] = mask
        return masks, rest

    def render_isolated(self, groups: list[list[int]],
                        windows: list[tuple[int, int, int, int]] | None = None) -> dict[int, np.ndarray]:
        """Unoccluded masks: each group of instances rendered without the rest of the scene, only inside its
        window of pixels (x0, y0, x1, y1) when given (a render border: the same pixels, the same samples).

        An instance seen alone covers exactly its visible pixels plus the ones others hid, so
        visibility is exact (see _label_settings for why the pixels line up).
        """
        if not groups:
            return {}
        render = self.scene.render
        width, height = render.resolution_x, render.resolution_y
        border = (render.use_border, render.use_crop_to_border, render.border_min_x, render.border_min_y,
                  render.border_max_x, render.border_max_y)
        pools = (*self._pools.values(), *self._distractor_pools.values(), *self._weather_pools.values())
        shown = [obj for pool in pools for obj in pool if not obj.hide_render] + self.environment.shown
        ground_hidden = self.ground.hide_render
        self.ground.hide_render = True
        masks = {}
        try:
            with self._label_settings():
                for index, group in enumerate(groups):
                    members = set(group)
                    for obj in shown:  # only what changes: setting a value, even the same one, makes Cycles
                        hide = obj.pass_index not in members  # sync the object again
                        if obj.hide_render != hide:
                            obj.hide_render = hide
                    render.use_border, render.use_crop_to_border = windows is not None, False
                    if windows is not None:  # Blender's border: shares of the frame, y up
                        x0, y0, x1, y1 = windows[index]
                        render.border_min_x, render.border_max_x = x0 / width, x1 / width
                        render.border_min_y, render.border_max_y = 1 - y1 / height, 1 - y0 / height
                    bpy.ops.render.render()
                    self._save_exr()
                    instance = self._read_passes().instance
                    masks.update({i: instance == i for i in group})
        finally:
            for obj in shown:
                obj.hide_render = False
            self.ground.hide_render = ground_hidden
            (render.use_border, render.use_crop_to_border, render.border_min_x, render.border_min_y,
             render.border_max_x, render.border_max_y) = border
        return masks

    def _save_exr(self) -> None:
        settings = self.scene.render.image_settings
        settings.media_type = "MULTI_LAYER_IMAGE"
        settings.file_format = "OPEN_EXR_MULTILAYER"
        settings.color_depth = "32"
        settings.exr_codec = "NONE"
        bpy.data.images["Render Result"].save_render(self._exr_path)

    def save_outputs(self, rgb_path: Path) -> RenderPasses:
        """Write the display-referred RGB PNG to ``rgb_path`` and return the label passes as arrays."""
        result = bpy.data.images["Render Result"]
        settings = self.scene.render.image_settings
        self._save_exr()
        settings.media_type = "IMAGE"
        settings.file_format = "PNG"
        settings.color_mode = "RGB"
        settings.color_depth = "8"
        settings.compression = 15
        result.save_render(str(rgb_path))
        return self._read_passes()

    def read_combined(self) -> np.ndarray:
        """The last saved render's linear RGB (H, W, 3), before the view transform and exposure."""
        channels = {}
        for part in OpenEXR.File(self._exr_path, separate_channels=True).parts:
            channels.update(part.channels)
        layer = self.scene.view_layers[0].name
        return np.dstack([channels[f"{layer}.Combined.{c}"].pixels for c in "RGB"]).astype(np.float32)

    def enable_passes(self, passes: list) -> None:
        """Render the passes outputs declared (simgen.outputs.RenderPass: a view-layer switch and its EXR layer)."""
        layer = self.scene.view_layers[0]
        for render_pass in passes:
            setattr(layer, render_pass.switch, True)
        self._extra_passes = list(passes)

    def render_right(self, frame: FrameSpec, rgb_path: Path) -> RenderPasses:
        """The stereo pair's right view: the camera moved along its own x axis (delta_location, so motion
        blur keys stay), rendered and saved to ``rgb_path``; returns that view's passes."""
        _, location = frame.camera.right_camera()
        here = self.camera.delta_location.copy()
        self.camera.delta_location = Vector(location) - Vector(self._main.location)
        try:
            self.render()
            return self.save_outputs(rgb_path)
        finally:
            self.camera.delta_location = here

    def render_nir(self, frame: FrameSpec) -> np.ndarray:
        """The frame seen by a near-infrared camera: one grey diffuse material for everything, each object's
        reflectance read from its ``nir`` property; the sun, sky and lamps at their NIR shares; an
        illuminator beside the lens. Returns linear radiance (H, W) float32; the scene is restored."""
        params = frame.nir
        assert params is not None
        if "nir" not in self._views:
            data = bpy.data.lights.new("simgen_illuminator", "SPOT")
            self._illuminator = bpy.data.objects.new("simgen_illuminator", data)
            self.scene.collection.objects.link(self._illuminator)
            self._views["nir"] = _reflectance_material("simgen_nir", "nir")
        beam = self._illuminator
        matrix = Matrix(frame.camera.matrix_world)
        beam.matrix_world = Matrix.Translation(matrix.col[0].xyz * params.offset_m) @ matrix  # lights shine along -Z
        beam.data.energy, beam.data.spot_size = params.illuminator_w, math.radians(params.cone_deg)
        beam.data.spot_blend, beam.data.shadow_soft_size = 0.15, 0.01
        beam.hide_render = False
        dots = params.projector
        if dots is not None:
            if self._projector is None:
                self._projector = _dot_projector("simgen_projector")
                self.scene.collection.objects.link(self._projector)
            self._projector.matrix_world = Matrix.Translation(matrix.col[0].xyz * dots.offset_m) @ matrix
            light, nodes = self._projector.data, self._projector.data.node_tree.nodes
            light.energy, light.spot_size = dots.power_w, math.radians(dots.fov_deg)
            light.spot_blend, light.shadow_soft_size = 0.0, 0.0  # a point source: sharp dots
            nodes["cells"].inputs["Scale"].default_value = 1.0 / math.tan(math.radians(dots.dot_spacing_deg))
            nodes["dot"].inputs[1].default_value = dots.dot_size / 2  # the radius, in cells
            self._projector.hide_render = False
        cycles = self.scene.cycles
        denoise = cycles.use_denoising
        cycles.use_denoising = denoise and dots is None  # a denoiser takes pixel-sized dots for noise
        try:
            return self._render_view(self._views["nir"], {"nir": (params.objects, params.props, params.ground,
                                                                  params.environment, 0.5)},
                                     params.sun_share, params.lamp_share, params.sky_share)
        finally:
            cycles.use_denoising = denoise
            beam.hide_render = True
            if self._projector is not None:
                self._projector.hide_render = True

    def render_thermal(self, frame: FrameSpec) -> np.ndarray:
        """The frame in long-wave infrared: every surface emits eps x its black-body radiance and reflects
        1 - eps of what reaches it; the sky is a grey body at its temperature; sun and lamps give no
        light (hot lamps emit as surfaces). Returns radiance relative to a 300 K black body, (H, W)."""
        from simgen.sampling.thermal import radiance

        params = frame.thermal
        assert params is not None
        if "thermal" not in self._views:
            self._views["thermal"] = _thermal_material("simgen_thermal")
            self._thermal_world = bpy.data.worlds.new("simgen_thermal_sky")  # a node tree from the start (5.0)
        sky = self._thermal_world
        background = sky.node_tree.nodes["Background"]
        background.inputs["Color"].default_value = (1.0, 1.0, 1.0, 1.0)
        background.inputs["Strength"].default_value = radiance(params.sky_c)
        def emitted(pairs: list[tuple[float, float]]) -> list[float]:
            return [radiance(t) for t, _ in pairs]

        def reflected(pairs: list[tuple[float, float]]) -> list[float]:
            return [1.0 - e for _, e in pairs]

        env = params.environment
        properties = {
            "lwir": (emitted(params.objects), emitted(params.props), radiance(params.ground[0]),
                     {g: radiance(t) for g, (t, _) in env.items()}, radiance(params.ambient_c)),
            "lwir_r": (reflected(params.objects), reflected(params.props), 1.0 - params.ground[1],
                       {g: 1.0 - e for g, (_, e) in env.items()}, 0.05)}
        for index, part in enumerate(PARTS[1:]):  # each object's parts; props' parts are their bodies
            parts = [own[index] for own in params.parts] if params.parts else params.objects
            for prop, values in (("lwir", emitted(parts)), ("lwir_r", reflected(parts))):
                _, props, ground, groups, particle = properties[prop]
                properties[f"{prop}_{part}"] = (values, props, ground, groups, particle)
        world = self.scene.world
        self.scene.world = sky
        try:
            return self._render_view(self._views["thermal"], properties, 0.0, 0.0, 1.0)
        finally:
            self.scene.world = world

    def _render_view(self, material: bpy.types.Material, properties: dict, sun_scale: float, light_scale: float,
                     sky_scale: float) -> np.ndarray:
        """Render the frame once more with ``material`` on everything, each object carrying the custom
        properties given as name -> (labeled objects, solid props, ground, environment groups, particles);
        the sun, lamps and sky scaled. Returns the mean of R, G, B, linear; the scene is restored."""
        for name, (objects, props, ground, groups, particle) in properties.items():
            for obj, value in zip(self._shown_objects, objects):
                obj[name] = value
            for obj, value in zip(self._shown_distractors, props):
                obj[name] = value
            for pool in self._weather_pools.values():
                for obj in pool:
                    obj[name] = particle
            self.ground[name] = ground
            self.environment.set_property(name, groups)
        layer, render = self.scene.view_layers[0], self.scene.render
        lights = [obj for obj in self._lights if not obj.hide_render]
        saved = (self.sun.data.energy, [obj.data.energy for obj in lights], self.world.strength)
        self.sun.data.energy *= sun_scale
        for obj in lights:
            obj.data.energy *= light_scale
        self.world.strength = saved[2] * sky_scale
        layer.material_override = material
        try:
            # a persistent Cycles session keeps the frame's shaders: drop it so the override is synced
            render.use_persistent_data = False
            render.use_persistent_data = True
            self.render()
            self._save_exr()
            channels = {}
            for part in OpenEXR.File(self._exr_path, separate_channels=True).parts:
                channels.update(part.channels)
            rgb = [channels[f"{layer.name}.Combined.{c}"].pixels for c in "RGB"]
            return np.mean(rgb, axis=0).astype(np.float32)
        finally:
            layer.material_override = None
            render.use_persistent_data = False  # and again, so the label passes see the frame's own shaders
            render.use_persistent_data = True
            self.sun.data.energy = saved[0]
            for obj, energy in zip(lights, saved[1]):
                obj.data.energy = energy
            self.world.strength = saved[2]

    def _read_passes(self) -> RenderPasses:
        channels = {}
        for part in OpenEXR.File(self._exr_path, separate_channels=True).parts:
            channels.update(part.channels)
        layer = self.scene.view_layers[0].name
        depth = channels[f"{layer}.Depth.Z"].pixels.astype(np.float32)
        depth[depth >= NO_SURFACE_DEPTH] = np.inf
        instance = np.rint(channels[f"{layer}.Object Index.X"].pixels).astype(np.int32)
        points = np.dstack([channels[f"{layer}.Position.{c}"].pixels for c in "XYZ"]).astype(np.float32)
        points[~np.isfinite(depth)] = np.nan
        extra = {p.name: np.dstack([channels[f"{layer}.{p.layer}.{c}"].pixels for c in p.channels]).astype(np.float32)
                 for p in self._extra_passes}
        return RenderPasses(depth=depth, instance=instance, points=points, extra=extra)

    def close(self) -> None:
        self._scratch.cleanup()
