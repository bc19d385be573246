"""The Blender backend: the only place that touches ``bpy``.

One persistent scene per process. Assets are imported once into a hidden library and
shown per frame as linked duplicates from a pool (move, re-colour, toggle visibility), so a
frame costs a scene update, not an import. One Cycles render per frame gives RGB, depth and
the object index together; instance ids are written into ``pass_index`` right before it.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np
import OpenEXR
from mathutils import Matrix, Vector

from simgen.assets.resolve import AssetRef
from simgen.blender.device import configure_device
from simgen.config.preset import RenderPreset
from simgen.errors import AssetError
from simgen.sampling.frame_spec import AssetBounds, FrameSpec, GroundParams, MaterialParams, SunParams, WorldParams

NO_SURFACE_DEPTH = 1e9  # Cycles writes 1e10 where a ray hits nothing


@dataclass
class RenderPasses:
    """What the annotator needs from one render (rows top-down, like the PNG)."""

    depth: np.ndarray  # float32 metres along the camera axis; inf where nothing was hit
    instance: np.ndarray  # int32 instance id per pixel; 0 = background / unlabeled


def _socket(sockets, identifier: str):
    """Socket by identifier: Mix nodes have several inputs named 'A', one per data type."""
    return next(socket for socket in sockets if socket.identifier == identifier)


def _hdri_dir() -> Path:
    return Path(bpy.utils.system_resource("DATAFILES", path="studiolights/world"))


def bundled_hdri_path(name: str) -> Path:
    return _hdri_dir() / f"{name}.exr"


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
        self._configure_render()
        self._collection = bpy.data.collections.new("simgen_objects")
        self.scene.collection.children.link(self._collection)
        self._library: dict[str, bpy.types.Object] = {}
        self._pools: dict[str, list[bpy.types.Object]] = {}
        self._images: dict[str, bpy.types.Image] = {}
        self.asset_vertices: dict[str, np.ndarray] = {}  # asset-local vertex positions, for amodal extents
        self._build_camera()
        self._build_sun()
        self._build_world()
        self._build_ground()

    # ----------------------------------------------------------------- set-up, once per process
    def _configure_render(self) -> None:
        scene, p = self.scene, self.preset
        scene.render.engine = "CYCLES"
        scene.render.resolution_x, scene.render.resolution_y = p.resolution
        scene.render.resolution_percentage = 100
        scene.render.film_transparent = False
        scene.render.use_persistent_data = True  # keep shaders and images compiled between frames
        if p.threads:
            scene.render.threads_mode = "FIXED"
            scene.render.threads = p.threads
        cycles = scene.cycles
        cycles.samples = p.samples
        cycles.use_adaptive_sampling = p.adaptive_threshold > 0
        if p.adaptive_threshold > 0:
            cycles.adaptive_threshold = p.adaptive_threshold
        cycles.use_denoising = p.denoise
        cycles.max_bounces = p.max_bounces
        cycles.diffuse_bounces = min(p.max_bounces, cycles.diffuse_bounces)
        cycles.glossy_bounces = min(p.max_bounces, cycles.glossy_bounces)
        cycles.transmission_bounces = min(p.max_bounces, cycles.transmission_bounces)
        cycles.tile_size = p.tile_size
        scene.view_settings.view_transform = p.view_transform
        scene.view_settings.look = "None"
        layer = scene.view_layers[0]
        layer.use_pass_z = True
        layer.use_pass_object_index = True

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

    def _build_world(self) -> None:
        world = bpy.data.worlds.new("simgen_world")
        self.scene.world = world
        # Blender's automatic importance map follows the HDRI size and is rebuilt whenever the world
        # changes, which costs ~1 s a frame on a CPU; a fixed map is as good for lighting and ~10x cheaper.
        world.cycles.sampling_method = "MANUAL" if self.preset.world_map_resolution else "NONE"
        if self.preset.world_map_resolution:
            world.cycles.sample_map_resolution = self.preset.world_map_resolution
        nodes, links = world.node_tree.nodes, world.node_tree.links
        self._background = nodes["Background"]
        self._env = nodes.new("ShaderNodeTexEnvironment")
        self._mapping = nodes.new("ShaderNodeMapping")
        coords = nodes.new("ShaderNodeTexCoord")
        links.new(coords.outputs["Generated"], self._mapping.inputs["Vector"])
        links.new(self._mapping.outputs["Vector"], self._env.inputs["Vector"])
        self._world_links = links

    def _build_ground(self) -> None:
        mesh = bpy.data.meshes.new("simgen_ground")
        mesh.from_pydata([(-0.5, -0.5, 0), (0.5, -0.5, 0), (0.5, 0.5, 0), (-0.5, 0.5, 0)], [], [(0, 1, 2, 3)])
        self.ground = bpy.data.objects.new("simgen_ground", mesh)
        self.scene.collection.objects.link(self.ground)
        material = bpy.data.materials.new("simgen_ground")
        nodes, links = material.node_tree.nodes, material.node_tree.links
        self._ground_bsdf = nodes["Principled BSDF"]
        self._ground_noise = nodes.new("ShaderNodeTexNoise")
        self._ground_mix = nodes.new("ShaderNodeMix")
        self._ground_mix.data_type = "RGBA"
        links.new(self._ground_noise.outputs["Fac"], _socket(self._ground_mix.inputs, "Factor_Float"))
        links.new(_socket(self._ground_mix.outputs, "Result_Color"), self._ground_bsdf.inputs["Base Color"])
        mesh.materials.append(material)

    # ----------------------------------------------------------------- assets, once per process
    def load_assets(self, refs: list[AssetRef]) -> dict[str, AssetBounds]:
        """Import each asset once; returns its bounds so the sampler can place it."""
        bounds = {}
        for ref in refs:
            if ref.key not in self._library:
                obj = self._create_primitive(ref.primitive) if ref.kind == "primitive" else self._import_file(ref)
                if not obj.data.materials:
                    obj.data.materials.append(None)
                self._library[ref.key] = obj
                self._pools[ref.key] = []
            mesh = self._library[ref.key].data
            vertices = np.empty(len(mesh.vertices) * 3, dtype=np.float64)
            mesh.vertices.foreach_get("co", vertices)
            vertices = vertices.reshape(-1, 3)
            if len(vertices) == 0:
                raise AssetError(f"asset {ref.key} has no vertices")
            self.asset_vertices[ref.key] = vertices
            bounds[ref.key] = AssetBounds(tuple(vertices.min(0).tolist()), tuple(vertices.max(0).tolist()))
        return bounds

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
                with bpy.data.libraries.load(path, link=False) as (src, dst):
                    dst.objects = list(src.objects)
                for obj in dst.objects:
                    if obj is not None:
                        self.scene.collection.objects.link(obj)
            else:
                importer = {
                    ".obj": bpy.ops.wm.obj_import, ".ply": bpy.ops.wm.ply_import, ".stl": bpy.ops.wm.stl_import,
                    ".glb": bpy.ops.import_scene.gltf, ".gltf": bpy.ops.import_scene.gltf,
                    ".fbx": bpy.ops.import_scene.fbx, ".usd": bpy.ops.wm.usd_import, ".usda": bpy.ops.wm.usd_import,
                    ".usdc": bpy.ops.wm.usd_import, ".usdz": bpy.ops.wm.usd_import,
                }[suffix]
                importer(filepath=path)
        except (RuntimeError, OSError) as exc:
            raise AssetError(f"cannot import asset {ref.key}: {str(exc).strip().splitlines()[-1]}") from None
        new = [o for o in bpy.data.objects if o not in before]
        meshes = [o for o in new if o.type == "MESH"]
        for obj in new:
            if obj.type != "MESH":
                bpy.data.objects.remove(obj)
        if not meshes:
            raise AssetError(f"asset {ref.key} contains no mesh")
        return self._to_library(self._join(meshes), ref.key)

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
        """Make the scene show ``frame``: objects, ids, materials, camera, light, world, ground."""
        used: dict[str, int] = {}
        for spec in frame.objects:
            index = used.get(spec.asset, 0)
            used[spec.asset] = index + 1
            obj = self._pool_object(spec.asset, index)
            obj.location = spec.location
            obj.rotation_euler = spec.rotation_euler
            obj.scale = (spec.scale,) * 3
            obj.pass_index = spec.instance_id
            obj.hide_render = False
            self._apply_material(obj, spec.material)
        for key, pool in self._pools.items():
            for obj in pool[used.get(key, 0):]:
                obj.hide_render = True
                obj.pass_index = 0
        self._apply_camera(frame)
        self._apply_sun(frame.sun)
        self._apply_world(frame.world)
        self._apply_ground(frame.ground)
        self.scene.cycles.seed = frame.index

    def _pool_object(self, key: str, index: int) -> bpy.types.Object:
        pool = self._pools[key]
        while len(pool) <= index:
            obj = self._library[key].copy()  # shares the mesh: no geometry is copied
            obj.name = f"{key.rsplit('/', 1)[-1]}.{len(pool)}"[:60]
            material = bpy.data.materials.new(f"simgen_object.{len(self._collection.objects)}")
            material["simgen_sampled"] = True
            obj["simgen_material"] = material.name
            self._collection.objects.link(obj)
            pool.append(obj)
        return pool[index]

    def _apply_material(self, obj: bpy.types.Object, params: MaterialParams) -> None:
        if params.mode == "keep":
            for slot in obj.material_slots:
                slot.link = "DATA"
            return
        material = bpy.data.materials[obj["simgen_material"]]
        bsdf = material.node_tree.nodes["Principled BSDF"]
        bsdf.inputs["Base Color"].default_value = (*params.base_color, 1.0)
        bsdf.inputs["Roughness"].default_value = params.roughness
        bsdf.inputs["Metallic"].default_value = params.metallic
        for slot in obj.material_slots:
            slot.link = "OBJECT"
            slot.material = material

    def _apply_camera(self, frame: FrameSpec) -> None:
        cam = frame.camera
        self.camera.matrix_world = Matrix(cam.matrix_world)
        self.camera.data.lens = cam.focal_length_mm
        self.camera.data.sensor_width = cam.sensor_width_mm

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

    def _apply_world(self, world: WorldParams) -> None:
        links, colour = self._world_links, self._background.inputs["Color"]
        if world.hdri is None:
            for link in list(colour.links):
                links.remove(link)
            colour.default_value = (*world.color, 1.0)
        else:
            image = self._image(world.hdri)
            if self._env.image != image:
                self._env.image = image
            self._mapping.inputs["Rotation"].default_value = (0.0, 0.0, math.radians(world.rotation_deg))
            if not colour.links:
                links.new(self._env.outputs["Color"], colour)
        self._background.inputs["Strength"].default_value = world.strength

    def _image(self, name_or_path: str) -> bpy.types.Image:
        if name_or_path not in self._images:
            path = Path(name_or_path) if ("/" in name_or_path or "." in name_or_path) else bundled_hdri_path(name_or_path)
            if not path.is_file():
                raise AssetError(f"HDRI '{name_or_path}' not found (looked for {path})")
            self._images[name_or_path] = bpy.data.images.load(str(path), check_existing=True)
        return self._images[name_or_path]

    def _apply_ground(self, ground: GroundParams) -> None:
        self.ground.hide_render = not ground.enabled
        self.ground.scale = (ground.size, ground.size, 1.0)
        _socket(self._ground_mix.inputs, "A_Color").default_value = (*ground.base_color, 1.0)
        darker = 0.55 if ground.pattern_scale > 0 else 1.0  # no pattern: both ends of the mix are equal
        _socket(self._ground_mix.inputs, "B_Color").default_value = (*(darker * c for c in ground.base_color), 1.0)
        self._ground_noise.inputs["Scale"].default_value = max(ground.pattern_scale, 1e-3)
        self._ground_bsdf.inputs["Roughness"].default_value = ground.roughness

    # ----------------------------------------------------------------- render
    def render(self) -> None:
        """One Cycles render: RGB, depth and object index come out of the same pass."""
        bpy.ops.render.render()

    def render_isolated(self, groups: list[list[int]]) -> dict[int, np.ndarray]:
        """Unoccluded masks: each group of instances rendered without the rest of the scene, at 1 sample.

        Cycles takes the object index from a pixel's first sample, and that sample's position depends
        only on the pixel and the seed, not on the scene or the sample count. So an instance seen
        alone covers exactly its visible pixels plus the ones others hid: visibility is exact.
        """
        if not groups:
            return {}
        cycles = self.scene.cycles
        saved = (cycles.samples, cycles.use_adaptive_sampling, cycles.use_denoising, cycles.max_bounces,
                 self.ground.hide_render)
        shown = [obj for pool in self._pools.values() for obj in pool if not obj.hide_render]
        cycles.samples, cycles.use_adaptive_sampling, cycles.use_denoising, cycles.max_bounces = 1, False, False, 0
        self.ground.hide_render = True
        masks = {}
        try:
            for group in groups:
                members = set(group)
                for obj in shown:
                    obj.hide_render = obj.pass_index not in members
                bpy.ops.render.render()
                self._save_exr()
                instance = self._read_passes().instance
                masks.update({i: instance == i for i in group})
        finally:
            for obj in shown:
                obj.hide_render = False
            (cycles.samples, cycles.use_adaptive_sampling, cycles.use_denoising, cycles.max_bounces,
             self.ground.hide_render) = saved
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

    def _read_passes(self) -> RenderPasses:
        channels = {}
        for part in OpenEXR.File(self._exr_path, separate_channels=True).parts:
            channels.update(part.channels)
        layer = self.scene.view_layers[0].name
        depth = channels[f"{layer}.Depth.Z"].pixels.astype(np.float32)
        depth[depth >= NO_SURFACE_DEPTH] = np.inf
        instance = np.rint(channels[f"{layer}.Object Index.X"].pixels).astype(np.int32)
        return RenderPasses(depth=depth, instance=instance)

    def close(self) -> None:
        self._scratch.cleanup()
