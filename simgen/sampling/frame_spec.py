"""FrameSpec: every sampled value of one frame, as plain data.

The Blender backend only *applies* a FrameSpec; it never draws a random number. So a frame
can be re-made exactly from its spec, and the spec doubles as the ``params`` record in COCO.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

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
    type: str  # hdri | sky | color
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
    dropped: list[str] = field(default_factory=list)  # classes of objects that did not fit
    conditions: list[str] = field(default_factory=list)

    def params(self) -> dict[str, Any]:
        """The full record for COCO ``images[].params`` and the journal."""
        return asdict(self)


def solid_props(frame: FrameSpec) -> list[PropParams]:
    """The props that are objects (surface, backdrop, distractors), in the order the backend shows them."""
    return [p for p in (frame.surface, frame.backdrop) if p is not None] + list(frame.distractors)


def particles(frame: FrameSpec) -> list[tuple[str, PropParams]]:
    """Weather particles with their kind ("rain", "snow"): many small copies sharing a material per kind."""
    return [("rain", p) for p in frame.rain] + [("snow", p) for p in frame.snow]


def all_props(frame: FrameSpec) -> list[PropParams]:
    return solid_props(frame) + [p for _, p in particles(frame)]
