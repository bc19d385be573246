"""FrameSpec: every sampled value of one frame, as plain data.

The Blender backend only *applies* a FrameSpec; it never draws a random number. So a frame
can be re-made exactly from its spec, and the spec doubles as the ``params`` record in COCO.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simgen.sampling.nir import NirParams
    from simgen.sampling.thermal import ThermalParams

Vec3 = tuple[float, float, float]
CONTRAST_LN = math.log(20.0)  # visibility: the distance over which contrast falls to 5 % (Koschmieder)


@dataclass(frozen=True)
class AssetBounds:
    """Axis-aligned bounds of an asset in its own frame (metres, Z up), as loaded by the backend."""

    minimum: Vec3
    maximum: Vec3

    @property
    def size(self) -> Vec3:
        return tuple(b - a for a, b in zip(self.minimum, self.maximum))  # type: ignore[return-value]


@dataclass
class MaterialParams:
    mode: str  # sampled | procedural | image | keep
    base_color: Vec3  # linear RGB
    hsv: Vec3
    roughness: float
    metallic: float
    second_color: Vec3 = (0.0, 0.0, 0.0)  # procedural: the pattern's other colour
    pattern: str = "noise"
    pattern_scale: float = 10.0
    bump: float = 0.0
    texture: str | None = None  # image mode: file path
    jitter: tuple[float, ...] = (0.0,) * 5  # jitter mode: hue, saturation, value, roughness, metallic shifts
    wetness: float = 0.0  # rain: darker, glossier
    snow: float = 0.0  # snow cover on up-facing parts, 0..1
    puddles: float = 0.0  # rain on the ground: share of mirror-like standing water patches, 0..1


@dataclass
class ObjectSpec:
    """One labeled object instance."""

    instance_id: int
    class_name: str
    category_id: int
    asset: str
    location: Vec3
    rotation_euler: Vec3  # radians, XYZ order, as Blender applies it
    scale: float
    material: MaterialParams
    velocity: Vec3 = (0.0, 0.0, 0.0)  # m/s, for motion blur
    path: tuple[Vec3, Vec3] | None = None  # in a clip: where it is one frame before and after (blur, flow)


@dataclass
class PropParams:
    """An unlabeled object in the scene (the placement surface, the backdrop, a rain streak): never labeled.

    Two properties say how it meets the labels and the physics, whatever kind of prop it is:
    ``hides_labels`` (it cuts the masks and lowers the visibility of labeled objects behind it;
    false for translucent rain, which label passes leave out) and ``static`` (the simulation
    leaves it where it is instead of letting it fall).
    """

    asset: str
    location: Vec3
    rotation_euler: Vec3
    scale: Vec3  # per axis: props may be stretched
    material: MaterialParams
    hides_labels: bool = True
    static: bool = False
    stuff: str = "clutter"  # its class in the semantic and panoptic maps (simgen/annotate/stuff.py)


@dataclass
class DistractorParams(PropParams):
    """A random shape scattered on the ground or floating before the camera to hide labeled objects."""

    near_camera: bool = False  # floats between camera and objects (static), instead of standing on the ground
    aimed_at: int | None = None  # instance id this occluder was placed to hide part of
    aimed_visibility: float | None = None  # the visibility it was aimed for (the label holds the measured one)


@dataclass
class CameraParams:
    """Pose in Blender's convention plus the OpenCV-convention matrices written to COCO."""

    location: Vec3
    matrix_world: list[list[float]]  # 4x4 camera-to-world, Blender camera axes (-Z forward, +Y up)
    focal_length_mm: float
    sensor_width_mm: float
    resolution: tuple[int, int]
    K: list[list[float]]  # OpenCV intrinsics, pixel centres at integer coordinates
    world_to_camera: list[list[float]]  # OpenCV extrinsics: x right, y down, z forward
    look_at: Vec3
    shift: tuple[float, float] = (0.0, 0.0)  # Blender lens shift, from a K matrix's principal point
    exposure_ev: float = 0.0
    view_transform: str | None = None  # None: the preset's
    f_stop: float | None = None  # depth of field when set
    focus_distance_m: float | None = None
    pose_tries: int = 1
    truncated: int | None = None  # camera.truncate_share: the instance turned to be cut by an image edge
    truncated_share: float | None = None  # the share of its box asked to lie outside
    shutter: float | None = None  # motion blur when set: open time as a fraction of a frame
    velocity: Vec3 = (0.0, 0.0, 0.0)  # m/s
    stereo_baseline_m: float | None = None  # labels.outputs stereo: the right camera's offset along x
    path: tuple[list[list[float]], list[list[float]]] | None = None  # in a clip: matrix_world one frame before, after
    bloom: float | None = None  # the share of over-white light the lens spreads into a glow

    def right_camera(self) -> tuple[list[list[float]], tuple[float, float, float]]:
        """The rectified right camera of a stereo pair: its world_to_camera (OpenCV) and location."""
        assert self.stereo_baseline_m is not None
        w2c = [list(row) for row in self.world_to_camera]
        w2c[0][3] -= self.stereo_baseline_m  # x_right = x_left - B in the shared camera axes
        axis = [self.matrix_world[i][0] for i in range(3)]  # Blender camera +X = OpenCV x, in world axes
        location = tuple(c + self.stereo_baseline_m * a for c, a in zip(self.location, axis))
        return w2c, location  # type: ignore[return-value]


@dataclass
class ViewSpec:
    """One rig camera of a frame: its name (its folder is cameras/NAME), camera, and the extra outputs it writes."""

    name: str
    camera: CameraParams
    outputs: list[str]


@dataclass
class ClipInfo:
    """Where a frame sits in its clip (``sequence:``): clip ``video`` (from 0), frame ``frame_id`` of ``length``."""

    video: int
    frame_id: int
    length: int
    fps: float


@dataclass
class SunParams:
    elevation_deg: float
    azimuth_deg: float
    strength: float
    color_temperature_k: float
    color: Vec3
    angle_deg: float


@dataclass
class LightParams:
    type: str  # point | spot | area
    location: Vec3
    target: Vec3
    power_w: float
    color_temperature_k: float
    color: Vec3
    size_m: float
    spot_angle_deg: float


@dataclass
class WorldParams:
    type: str  # hdri | sky | overcast | color
    hdri: str | None  # bundled name or file path
    strength: float
    rotation_deg: float
    color: Vec3


@dataclass
class GroundParams:
    enabled: bool
    size: float
    material: MaterialParams


@dataclass
class FogParams:
    mode: str  # analytic | volume
    density: float  # extinction per metre, at the ground for ground fog
    color: Vec3
    anisotropy: float
    height_m: float | None = None  # ground fog scale height; None = homogeneous

    @property
    def visibility_m(self) -> float:
        """Meteorological visibility: where a target keeps 5 % of its contrast, exp(-density * V) = 0.05."""
        return CONTRAST_LN / self.density


@dataclass
class RainfallParams:
    """Analytic rain: what the drops in view during the exposure are drawn from (simgen/postprocess/rain.py)."""

    rate_mm_h: float
    exposure_s: float
    wind: Vec3  # m/s, horizontal
    splashes: bool = True  # crowns on up-facing surfaces (simgen/postprocess/splashes.py)


@dataclass
class EnvMaterial:
    """The look of one environment surface group: a tiled pattern in metres on the surface's own
    plane (bricks or planks or tiles with mortar, a fine grain, bands), so planks run along floors and
    bricks stand upright on walls. ``family`` names what it is meant to look like."""

    family: str  # planks, tiles, carpet, concrete, plaster, wallpaper, bricks, asphalt, paving, paint, glass, ...
    color: Vec3  # linear RGB
    second_color: Vec3  # brick/plank/tile colour variation
    mortar_color: Vec3
    brick_m: tuple[float, float] = (1.0, 1.0)  # brick (plank, tile) length and row height, metres
    mortar_m: float = 0.0  # joint width; 0 = no joints
    offset: float = 0.5  # row offset as a share of a brick
    grain: float = 0.0  # fine noise darkening, 0..1
    grain_scale: float = 20.0  # per metre
    bands: float = 0.0  # wave bands (wood grain, wallpaper stripes), 0..1
    bands_scale: float = 5.0  # per metre
    bump: float = 0.0
    roughness: float = 0.5
    metallic: float = 0.0
    emission: float = 0.0  # W/m^2-like strength when lit (lamps, lit windows)
    emission_color: Vec3 = (1.0, 0.85, 0.6)
    transparency: float = 0.0  # window glass: share of light passing straight through
    wetness: float = 0.0
    snow: float = 0.0
    puddles: float = 0.0


@dataclass
class EnvPiece:
    """One box of the environment (a wall segment, a kerb, a lamp post), in the group whose material it has."""

    group: str  # material group: floor, wall, window, road, building.3, ...
    stuff: str  # semantic class of its pixels
    centre: Vec3
    size: Vec3
    yaw_deg: float = 0.0


@dataclass
class Support:
    """A horizontal rectangle things stand on: a floor, a table top, a sidewalk, a lane."""

    name: str  # floor, table, sidewalk, road, lane, crosswalk
    centre: tuple[float, float]
    size: tuple[float, float]  # along its own x (the yaw direction) and y
    z: float
    yaw_deg: float = 0.0
    heading_deg: float | None = None  # lanes: the direction traffic moves


@dataclass
class Wall:
    """The inner face of a wall, from ``start`` to ``end`` (xy), facing ``normal`` into the room."""

    start: tuple[float, float]
    end: tuple[float, float]
    normal: tuple[float, float]
    openings: list[tuple[float, float]] = field(default_factory=list)  # door spans along it (metres from start)


@dataclass
class EnvironmentParams:
    """A generated place (room, street, tabletop): its boxes, materials, where things may stand and where
    the camera may be. ``pieces`` are left out of ``params`` (they follow from type, seed and layout)."""

    type: str  # room | street | tabletop
    layout: int  # which layout of the run: frame index // every
    key: str  # identifies the geometry: the backend rebuilds meshes only when it changes
    summary: dict[str, Any]
    materials: dict[str, EnvMaterial]
    pieces: list[EnvPiece]
    supports: list[Support]
    walls: list[Wall]
    free_space: list[tuple[Vec3, Vec3]]  # boxes (min, max) the camera may stand in
    obstacles: list[tuple[Vec3, Vec3]]  # boxes labeled objects must keep out of (table legs and top, posts)
    lamps: list[LightParams] = field(default_factory=list)  # the fixtures' lights, when on
    lamps_on: bool = False
    daylight_factor: float = 1.0  # share of outdoor daylight that reaches inside (rooms: through windows)
    outdoors: bool = False  # under the sky: rain and snow fall on it

    @property
    def default_support(self) -> str:
        return {"room": "floor", "tabletop": "table", "street": "road"}.get(self.type, "floor")


@dataclass
class FrameSpec:
    """Everything needed to render and label frame ``index`` of a scenario."""

    index: int
    seed: int
    objects: list[ObjectSpec]
    camera: CameraParams
    sun: SunParams | None
    world: WorldParams
    ground: GroundParams
    lights: list[LightParams] = field(default_factory=list)
    surface: PropParams | None = None  # the placement surface asset, where its file puts it
    backdrop: PropParams | None = None  # a plane behind the objects, facing the camera
    distractors: list[DistractorParams] = field(default_factory=list)
    rain: list[PropParams] = field(default_factory=list)  # streaks in view
    snow: list[PropParams] = field(default_factory=list)  # flakes in view
    sensor: dict[str, float] = field(default_factory=dict)  # applied post-render effects and their amounts
    physics_steps: int = 0  # > 0: poses below are the settled ones, written back after the simulation
    fog: FogParams | None = None
    rainfall: RainfallParams | None = None
    environment: EnvironmentParams | None = None
    nir: "NirParams | None" = None  # labels.outputs nir: the near-infrared view's light and reflectances
    thermal: "ThermalParams | None" = None  # labels.outputs thermal: temperatures and emissivities
    dropped: list[str] = field(default_factory=list)  # classes of objects that did not fit
    conditions: list[str] = field(default_factory=list)
    views: list[ViewSpec] = field(default_factory=list)  # camera.rig: the other cameras of this instant
    clip: ClipInfo | None = None  # sequence: the clip this frame belongs to
    lens_drops: list[tuple[float, float, float]] = field(default_factory=list)  # x, y (shares), radius (of width)
    snowfall_mm_h: float | None = None  # snow by its rate: the far flakes' veil is drawn over the render

    def params(self) -> dict[str, Any]:
        """The full record for COCO ``images[].params`` and the journal (an environment's boxes as a count)."""
        env = self.environment
        if env is None:
            return asdict(self)
        pieces, env.pieces = env.pieces, []  # thousands of boxes: counted, not copied
        try:
            record = asdict(self)
        finally:
            env.pieces = pieces
        record["environment"]["pieces"] = len(pieces)
        return record


def solid_props(frame: FrameSpec) -> list[PropParams]:
    """The props that are objects (surface, backdrop, distractors), in the order the backend shows them."""
    return [p for p in (frame.surface, frame.backdrop) if p is not None] + list(frame.distractors)


def particles(frame: FrameSpec) -> list[tuple[str, PropParams]]:
    """Weather particles with their kind ("rain", "snow"): many small copies sharing a material per kind."""
    return [("rain", p) for p in frame.rain] + [("snow", p) for p in frame.snow]


def all_props(frame: FrameSpec) -> list[PropParams]:
    return solid_props(frame) + [p for _, p in particles(frame)]
