"""The scenario schema: what a user may write in ``scenes/*.yaml``.

Every sampled number uses the distribution syntax of :mod:`simgen.config.distributions`,
so any value can be pinned to a constant. Unknown keys are errors, with the closest
valid key suggested, because a silently ignored typo wastes a whole render run.
"""

from __future__ import annotations

import difflib
from collections import Counter
from typing import Annotated, Any, Literal

from pathlib import Path

from pydantic import AfterValidator, Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from simgen.config.environment import EnvironmentSpec
from simgen.config.distributions import (
    ChoiceDist, Distribution, FloatDist, IntDist, constant, loguniform, non_negative, positive, uniform, within)
from simgen.config.limits import MAX_CLASSES, MAX_COUNT, MAX_FRAMES, MAX_INSTANCES, MAX_SEED, MAX_SIDE_PX
from simgen.config.strict import StrictModel

NonNegative = Annotated[FloatDist, AfterValidator(lambda d: non_negative(d))]
Positive = Annotated[FloatDist, AfterValidator(lambda d: positive(d))]
Count = Annotated[IntDist, AfterValidator(lambda d: within(d, 0, MAX_COUNT, "count"))]
Scale = Annotated[FloatDist, AfterValidator(lambda d: within(d, 0, 1000, "scale", open_low=True))]
Metres = Annotated[FloatDist, AfterValidator(lambda d: within(d, 0, 100_000, "distance in metres", open_low=True))]
Share = Annotated[FloatDist, AfterValidator(lambda d: within(d, 0, 1, "share (0..1)"))]
FieldOfView = Annotated[FloatDist, AfterValidator(
    lambda d: within(d, 0, 180, "field of view in degrees", open_low=True, open_high=True))]
FocalLength = Annotated[FloatDist, AfterValidator(
    lambda d: within(d, 0, 10_000, "focal length in mm", open_low=True))]


class Vector3(StrictModel):
    """A sampled 3D vector given per axis, e.g. ``{x: [-1, 1], y: 0, z: 0.5}``."""

    x: FloatDist = Field(default_factory=lambda: constant(0.0))
    y: FloatDist = Field(default_factory=lambda: constant(0.0))
    z: FloatDist = Field(default_factory=lambda: constant(0.0))


class ColorHSV(StrictModel):
    """Object colour sampled in HSV (each 0..1) because hue ranges are what people think in."""

    hue: FloatDist = Field(default_factory=lambda: uniform(0.0, 1.0))
    saturation: FloatDist = Field(default_factory=lambda: uniform(0.4, 0.9))
    value: FloatDist = Field(default_factory=lambda: uniform(0.3, 0.9))


PATTERNS = ("noise", "voronoi", "wave", "brick", "checker", "magic")
MATERIAL_MODES = ("sampled", "procedural", "image", "keep", "jitter")


class JitterSpec(StrictModel):
    """How far ``mode: jitter`` may push an asset's own material (each shift uniform in +-amount)."""

    hue: float = Field(0.05, ge=0, le=0.5)
    saturation: float = Field(0.2, ge=0, le=1)
    value: float = Field(0.2, ge=0, le=1)
    roughness: float = Field(0.15, ge=0, le=1)
    metallic: float = Field(0.0, ge=0, le=1)


class MaterialSpec(StrictModel):
    """How a surface is shaded.

    ``sampled``: one flat colour; ``procedural``: two colours mixed by a sampled pattern with bump;
    ``image``: a random image texture from ``textures``; ``keep``: the asset's own material;
    ``jitter``: the asset's own material with hue, saturation, value and roughness shifted.
    """

    mode: ChoiceDist = Field(default_factory=lambda: constant("sampled"),
                             description="sampled, procedural, image, keep or jitter (or {choice: [...]})")
    color: ColorHSV = Field(default_factory=ColorHSV)
    roughness: FloatDist = Field(default_factory=lambda: uniform(0.2, 0.9))
    metallic: FloatDist = Field(default_factory=lambda: constant(0.0))
    pattern: ChoiceDist = Field(default_factory=lambda: Distribution("choice", PATTERNS),
                                description=f"procedural pattern: {', '.join(PATTERNS)}")
    pattern_scale: Positive = Field(default_factory=lambda: loguniform(2.0, 30.0))
    bump: NonNegative = Field(default_factory=lambda: uniform(0.0, 0.5),
                              description="bump strength 0..1 for procedural patterns")
    textures: str | None = Field(None, description="folder or glob of images for mode: image "
                                                   "(relative to the scenario file)")
    jitter: JitterSpec = Field(default_factory=JitterSpec)

    @model_validator(mode="after")
    def _known_modes(self) -> "MaterialSpec":
        for value in self.mode.params:
            if value not in MATERIAL_MODES:
                raise PydanticCustomError("material_mode", "unknown material mode '{mode}'; use {all}",
                                          {"mode": value, "all": ", ".join(MATERIAL_MODES)})
        for value in self.pattern.params:
            if value not in PATTERNS:
                raise PydanticCustomError("pattern", "unknown pattern '{p}'; use {all}",
                                          {"p": value, "all": ", ".join(PATTERNS)})
        if "image" in self.mode.params and not self.textures:
            raise PydanticCustomError("textures", "mode image needs textures: a folder or glob of images", {})
        return self


class KeypointSpec(StrictModel):
    """Named 3D points on an asset (its own frame, metres before scale), projected into COCO keypoints."""

    names: list[str] = Field(min_length=1)
    points: list[tuple[float, float, float]] = Field(min_length=1)
    skeleton: list[tuple[int, int]] = Field(default_factory=list, description="1-based index pairs, as in COCO")

    @model_validator(mode="after")
    def _consistent(self) -> "KeypointSpec":
        if len(self.names) != len(self.points):
            raise PydanticCustomError("keypoints", "{n} names but {m} points: give one point per name",
                                      {"n": len(self.names), "m": len(self.points)})
        for a, b in self.skeleton:
            if not (1 <= a <= len(self.names) and 1 <= b <= len(self.names)):
                raise PydanticCustomError("keypoints", "skeleton pair [{a}, {b}] must index 1..{n}",
                                          {"a": a, "b": b, "n": len(self.names)})
        return self


class ClassSpec(StrictModel):
    """One labeled category: which assets, how many per frame, how big, how posed."""

    name: str = Field(min_length=1, description="COCO category name")
    asset: str | Annotated[list[str], Field(min_length=1)] = Field(
        description="primitive:cube|sphere|cylinder|cone|torus|monkey, ycb:<name>, catalog:<catalog>/<entry>, "
                    "or a file path/glob (OBJ, PLY, STL, glTF/GLB, FBX, USD, .blend, 'scene.blend#Collection'); "
                    "relative paths are relative to the scenario file")
    count: Count = Field(default_factory=lambda: Distribution("uniform", (1, 3), integer=True))
    scale: Scale = Field(default_factory=lambda: constant(1.0),
                         description="uniform scale factor applied to the asset")
    position: Vector3 | None = Field(
        default=None, description="sampled position (metres) instead of scatter placement; pins a pose exactly")
    rotation: Literal["upright", "free"] = Field(
        "upright", description="upright: random yaw only; free: uniform over all 3D rotations")
    rotation_deg: Vector3 | None = Field(
        default=None, description="XYZ Euler rotation in degrees (overrides rotation)")
    size_m: Metres | None = Field(
        default=None, description="scale each asset so its longest side is this many metres (before scale)")
    material: MaterialSpec = Field(default_factory=MaterialSpec)
    keypoints: KeypointSpec | None = None
    stands_on: str | Annotated[list[str], Field(min_length=1)] | None = Field(
        None, description="with an environment: floor, table, road, lane, sidewalk, crosswalk, or another "
                          "class's name (on top of one of its objects); default: the environment's own (rooms: "
                          "floor, tabletop: table, street: road); lane: aligned with the lane, heading its way")
    against: Literal["wall"] | None = Field(None, description="with a room: its back to a wall, facing into the room")
    facing: str | None = Field(
        None, description="with an environment: turn its front towards 'centre' (of the room or table) or towards "
                          "the nearest object of the class named")
    around: str | None = Field(
        None, description="with an environment: stand close around an object of the class named (chairs around a "
                          "table), on the same support, facing it unless facing says otherwise")
    nir_reflectance: Share | None = Field(
        None, description="reflectance at 850 nm for labels.outputs: [nir] (default: from the material, see "
                          "simgen/sampling/nir.py)")
    temperature_c: FloatDist | None = Field(
        None, description="surface temperature for labels.outputs: [thermal] (default: the air's, warmer for "
                          "people and vehicles; see simgen/sampling/thermal.py)")
    emissivity: Share | None = Field(None, description="thermal emissivity (default 0.95; metals 0.3)")
    speed_mps: NonNegative = Field(default_factory=lambda: constant(0.0),
                                   description="in a sequence: each object moves straight ahead (towards its "
                                               "front) at this speed; vehicles in a lane drive along it")
    drop_m: NonNegative = Field(default_factory=lambda: constant(0.0),
                                description="in a sequence: each object starts this high above where it rests and "
                                            "falls under gravity, landing on its support")
    launch_mps: NonNegative = Field(default_factory=lambda: constant(0.0),
                                    description="in a sequence: thrown upwards at this speed at the clip's start "
                                                "(with speed_mps ahead: a throw), falling back to its support")
    parts_c: dict[Literal["tyre", "glass", "lamp"], FloatDist] | None = Field(
        None, description="temperatures of the asset's parts, by their materials' names (tyres, glass, lamps); "
                          "default: warm tyres and lit lamps on running vehicles, else the body's (see "
                          "simgen/sampling/thermal.py)")
    front: Literal["-y", "+y", "-x", "+x"] = Field(
        "-y", description="the asset's front in its own frame (-y: Blender's front view), for against, facing, lane")


class PhysicsSpec(StrictModel):
    """Drop the objects and let Blender's rigid-body simulation settle them, so nothing floats."""

    steps: int = Field(100, ge=1, le=2000, description="simulation frames (24 per second)")
    drop_height_m: NonNegative = Field(default_factory=lambda: uniform(0.0, 0.15),
                                       description="start this far above the resting height")
    substeps: int = Field(10, ge=1, le=1000, description="solver substeps per frame")


class PlacementSpec(StrictModel):
    """Where labeled objects go: scattered or on a grid without interpenetration, or dropped into a pile."""

    mode: str = Field(
        "scatter", description="scatter: random, no overlap; grid: jittered grid; pile: dropped onto each other "
                               "(needs physics); or a mode a plug-in registers",
        json_schema_extra={"examples": ["scatter", "grid", "pile"]})
    physics: PhysicsSpec | None = Field(None, description="settle objects with rigid-body physics")
    count_multiplier: Scale = Field(default_factory=lambda: constant(1.0),
                                       description="scales every class's sampled count (crowded scenes)")
    rotation: Literal["upright", "free"] | None = Field(
        None, description="overrides every class's rotation (free: objects upside down, on their sides)")
    grid_jitter: float = Field(0.2, ge=0, le=0.5, description="grid: random offset as a fraction of a cell")
    surface: str | None = Field(
        None, description="place objects on the top of this asset (e.g. 'room.blend#Table'), which is rendered "
                          "unlabeled at its own pose; area then defaults to the top face's extent")

    area: tuple[float, float] | None = Field(
        None, description="width and depth (metres) of the area, centred on the origin (or on the surface); "
                          "default 1 x 1, or the surface's top")
    min_gap: float = Field(0.01, ge=0, le=1000, description="minimum clearance between object footprints (metres)")
    max_tries: int = Field(200, ge=1, le=100_000, description="attempts per object before giving up")
    on_failure: Literal["error", "drop"] = Field(
        "drop", description="when an object does not fit: drop it (and record that) or stop with an error")

    @model_validator(mode="after")
    def _positive_area(self) -> "PlacementSpec":
        from simgen.plugins import PLACEMENTS

        if self.mode not in PLACEMENTS:
            close = difflib.get_close_matches(self.mode, PLACEMENTS.names(), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise PydanticCustomError("placement_mode", "unknown placement mode '{mode}': {hint}available: {all}",
                                      {"mode": self.mode, "hint": hint, "all": ", ".join(PLACEMENTS.names())})
        if self.mode == "pile" and self.physics is None:
            raise PydanticCustomError("pile", "mode pile drops objects onto each other and needs physics: "
                                      "add physics: {steps: 100}", {})
        if self.area is None:
            return self
        if not all(0 < side <= 100_000 for side in self.area):
            raise PydanticCustomError("area", "area must be two positive sizes in metres (at most 100 km), got {got}",
                                      {"got": list(self.area)})
        return self


class OrbitPose(StrictModel):
    """Camera on a sphere around a target, looking at it."""

    distance: Metres = Field(default_factory=lambda: uniform(2.0, 4.0))
    elevation_deg: FloatDist = Field(default_factory=lambda: uniform(20.0, 60.0))
    azimuth_deg: FloatDist = Field(default_factory=lambda: uniform(0.0, 360.0))
    roll_deg: FloatDist = Field(default_factory=lambda: constant(0.0))
    look_at: Literal["objects", "origin"] | tuple[float, float, float] = Field(
        "objects", description="'objects' (centre of the labeled objects), 'origin', or [x, y, z]")
    object_pixels: Positive | None = Field(
        None, description="instead of distance: how many pixels across the typical object should appear "
                          "(e.g. [6, 16] for tiny, far objects); the distance follows from the focal length")


class FixedPose(StrictModel):
    """Camera at an exact place looking at an exact point: for scenes designed by hand."""

    location: tuple[float, float, float]
    look_at: tuple[float, float, float] = (0.0, 0.0, 0.0)
    roll_deg: float = 0.0


class BandPose(StrictModel):
    """Camera anywhere in a box at a height band, looking along a sampled heading (a vehicle or a person)."""

    x: FloatDist = Field(default_factory=lambda: uniform(-1.0, 1.0))
    y: FloatDist = Field(default_factory=lambda: uniform(-6.0, -4.0))
    height: FloatDist = Field(default_factory=lambda: uniform(1.2, 1.8))
    yaw_deg: FloatDist = Field(default_factory=lambda: uniform(80.0, 100.0),
                               description="heading; 90 looks along +y")
    pitch_deg: FloatDist = Field(default_factory=lambda: uniform(-15.0, 0.0))
    roll_deg: FloatDist = Field(default_factory=lambda: constant(0.0))


class Intrinsics(StrictModel):
    """A real camera's OpenCV matrix, for the preset's resolution (pixel centres at integers)."""

    fx: float = Field(gt=0)
    fy: float = Field(gt=0)
    cx: float
    cy: float

    @model_validator(mode="after")
    def _square_pixels(self) -> "Intrinsics":
        if abs(self.fx - self.fy) > 1e-6 * self.fx:
            raise PydanticCustomError("intrinsics", "fx ({fx}) and fy ({fy}) differ: non-square pixels are not "
                                      "supported; resample your calibration to square pixels",
                                      {"fx": self.fx, "fy": self.fy})
        return self


class DepthOfField(StrictModel):
    p: float = Field(0.0, ge=0, le=1, description="probability that a frame has depth of field")
    f_stop: Positive = Field(default_factory=lambda: loguniform(1.4, 8.0))
    focus: Literal["objects", "distance"] = "objects"
    focus_distance_m: Positive = Field(default_factory=lambda: uniform(1.0, 5.0))


class MotionBlurSpec(StrictModel):
    p: float = Field(0.0, ge=0, le=1, description="probability that a frame has motion blur")
    shutter: Positive = Field(default_factory=lambda: uniform(0.3, 1.0),
                              description="open time as a fraction of a 1/24 s frame")
    camera_speed_mps: NonNegative = Field(default_factory=lambda: uniform(0.0, 3.0))
    object_speed_mps: NonNegative = Field(default_factory=lambda: uniform(0.0, 0.5))


BUILTIN_POSES = ("orbit", "fixed", "band")


def _pose_sampler(pose: dict[str, Any]) -> tuple[str, Any]:
    """``{sampler: NAME, **options}`` -> (NAME, its options model), checked against the registry."""
    from simgen.plugins import CAMERA_POSES

    options = dict(pose)
    name = options.pop("sampler", None)
    if not isinstance(name, str) or name not in CAMERA_POSES:
        close = difflib.get_close_matches(str(name), CAMERA_POSES.names(), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise PydanticCustomError("pose_sampler", "unknown camera pose sampler {name}: "
                                  "{hint}available: {all}",
                                  {"name": repr(name), "hint": hint, "all": ", ".join(CAMERA_POSES.names())})
    try:
        return name, CAMERA_POSES.get(name).options.model_validate(options)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PydanticCustomError("pose_options", "{name}: {where}{message}",
                                  {"name": name, "where": f"{where}: " if where else "", "message": first["msg"]}) from None


class ProjectorSpec(StrictModel):
    """A structured-light dot projector beside the NIR camera (as in Kinect-style depth cameras): a fixed
    pseudo-random pattern of dots, one per cell of a grid of directions, so each dot's place in the image
    shifts with the depth it lands at, by f x baseline / Z pixels."""

    power_w: NonNegative = Field(default_factory=lambda: constant(2.0),
                                 description="Blender W of the light without its pattern: each dot is as bright "
                                             "as a plain spot of this power; the spaces between are dark")
    offset_m: float = Field(-0.075, ge=-10, le=10, description="the baseline: beside the lens along the camera's "
                                                              "x axis (negative: to its left)")
    fov_deg: float = Field(70.0, gt=0, lt=170, description="the pattern's full angle")
    dot_spacing_deg: float = Field(0.5, gt=0, le=20, description="one dot per cell of this many degrees")
    dot_size: float = Field(0.4, gt=0, le=1, description="a dot's diameter as a share of the spacing")


class NirSpec(StrictModel):
    """A near-infrared camera (``labels.outputs: [nir]``): monochrome, lit by its own illuminator beside
    the lens plus the infrared share of the sun, sky and lamps; surfaces by their NIR reflectance."""

    illuminator_w: NonNegative = Field(default_factory=lambda: uniform(2.0, 8.0),
                                       description="the active illuminator's radiant power (Blender W)")
    cone_deg: Positive = Field(default_factory=lambda: constant(90.0), description="its beam's full angle")
    offset_m: float = Field(0.05, ge=0, le=10, description="beside the lens, along the camera's x axis")
    sun_share: NonNegative = Field(default_factory=lambda: constant(0.5),
                                   description="the sun's power in the camera's NIR band, as a share of its visible")
    sky_share: NonNegative = Field(default_factory=lambda: constant(0.175),
                                   description="likewise for the sky: a clear sky's light is Rayleigh-scattered, "
                                               "(550 nm / 850 nm)^4 = 0.175 as strong in the NIR")
    lamp_share: NonNegative = Field(default_factory=lambda: constant(0.05),
                                    description="likewise for lamps (LEDs give almost none, halogen a lot)")
    projector: ProjectorSpec | None = Field(None, description="a structured-light dot projector (default: none)")


class ThermalSpec(StrictModel):
    """A radiometric thermal camera (``labels.outputs: [thermal]``, 8-14 um; see simgen/sampling/thermal.py)."""

    ambient_c: FloatDist = Field(default_factory=lambda: uniform(0.0, 30.0), description="air temperature")
    sky_below_ambient_c: FloatDist = Field(default_factory=lambda: uniform(20.0, 40.0),
                                           description="how much colder than the air a clear sky reads")
    noise_k: NonNegative = Field(default_factory=lambda: constant(0.05), description="NETD: noise std in kelvin")
    blur_px: NonNegative = Field(default_factory=lambda: constant(0.7), description="optics: Gaussian blur sigma")


class AutoExposureSpec(StrictModel):
    """A camera's automatic exposure for the illuminance where it looks (see simgen/sampling/photometry.py)."""

    max_boost_ev: NonNegative = Field(default_factory=lambda: uniform(4.0, 6.0),
                                      description="stops it can lift a dark scene (longest shutter, highest gain)")
    max_cut_ev: NonNegative = Field(default_factory=lambda: constant(6.0),
                                    description="stops it can cut a bright one (shortest shutter, smallest aperture)")
    gain_noise: NonNegative = Field(default_factory=lambda: constant(0.006),
                                    description="std of the sensor noise (linear, 0..1) per doubling of gain's "
                                                "square root: noise = gain_noise * 2^(boost / 2)")


def known_outputs(names: list[str]) -> list[str]:
    """``names`` without repeats, each an output ``labels.outputs`` may name."""
    from simgen.outputs import optional_names

    known = optional_names()
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise PydanticCustomError("output", "unknown output '{name}': {hint}available: {all}",
                                      {"name": name, "hint": hint, "all": ", ".join(known)})
    return list(dict.fromkeys(names))


class RigCamera(StrictModel):
    """One more camera fixed to the main one (a rig: front/left/right, or RGB beside thermal). It sees the
    same scene at the same instant and gets its own files and labels under ``cameras/NAME/``."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$",
                      description="its folder under cameras/ (lower case letters, digits, _)")
    position_m: tuple[float, float, float] = Field(
        (0.0, 0.0, 0.0), description="where it sits in the main camera's axes: x right, y down, z forward")
    yaw_deg: float = Field(0.0, ge=-180, le=180, description="turned right of the main camera (negative: left)")
    pitch_deg: float = Field(0.0, ge=-90, le=90, description="tilted up from the main camera (negative: down)")
    roll_deg: float = Field(0.0, ge=-180, le=180, description="turned clockwise, seen from behind the camera")
    focal_length_mm: float | None = Field(None, gt=0, le=10_000, description="its own lens; default: the main's")
    fov_deg: float | None = Field(None, gt=0, lt=180, description="its horizontal field of view; overrides "
                                                                  "focal_length_mm")
    resolution: tuple[Annotated[int, Field(ge=1, le=MAX_SIDE_PX)], Annotated[int, Field(ge=1, le=MAX_SIDE_PX)]] | \
        None = Field(None, description="width, height in pixels; default: the preset's")
    outputs: list[str] | None = Field(None, description="its extra outputs (labels.outputs names); default: "
                                                        "labels.outputs")

    @field_validator("outputs")
    @classmethod
    def _known_outputs(cls, names: list[str] | None) -> list[str] | None:
        return None if names is None else known_outputs(names)


class CameraSpec(StrictModel):
    """Intrinsics (focal length on a sensor, field of view, or a K matrix) and a pose sampler."""

    focal_length_mm: FocalLength = Field(default_factory=lambda: constant(35.0))
    sensor_width_mm: float = Field(36.0, gt=0, le=1000)
    fov_deg: FieldOfView | None = Field(None, description="horizontal field of view in degrees, in (0, 180); "
                                                          "overrides focal_length_mm")
    K: Intrinsics | None = Field(None, description="full intrinsics; overrides focal length and field of view")
    orbit: OrbitPose | None = None
    fixed: FixedPose | None = None
    band: BandPose | None = None
    pose: dict[str, Any] | None = Field(
        None, description="any registered pose sampler by name, with its options: {sampler: NAME, ...}; "
                          "orbit, fixed and band are the built-ins, plug-ins add more",
        json_schema_extra={"examples": [{"sampler": "orbit", "distance": [2, 4]}]})
    look_at_jitter_m: NonNegative = Field(default_factory=lambda: constant(0.0),
                                          description="random offset of the look-at point (orbit)")
    max_object_pixels: Positive | None = Field(
        None, description="move the camera back along its line of sight until every labeled object spans at most "
                          "this many pixels (its bounding sphere): tiny, far objects at any scene scale and with "
                          "any pose sampler; [10, 36] keeps them COCO-small (area under 32 x 32)")
    truncate_share: Share | None = Field(
        None, description="turn the camera until one labeled object has this share of its box past an image edge "
                          "(0..1, e.g. [0.2, 0.6]): truncation by its effect, the same at any scene scale")
    min_in_view: float = Field(0.0, ge=0, le=1, description="re-sample the pose until this fraction of labeled "
                                                            "object centres projects into the image")
    max_pose_tries: int = Field(25, ge=1, le=10_000)
    exposure_ev: FloatDist = Field(default_factory=lambda: constant(0.0),
                                   description="exposure in stops (night shots: negative)")
    view_transform: ChoiceDist | None = Field(None, description="Standard, AgX, Filmic, Khronos PBR Neutral; "
                                                                "default: the preset's")
    auto_exposure: AutoExposureSpec | None = Field(
        None, description="expose like a camera does: lift or cut the exposure towards a day scene's, within the "
                          "limits of shutter and gain, and add the noise the gain brings (night stays dark and "
                          "grainy instead of lifted to day)")
    bloom: Share | None = Field(
        None, description="the share of over-white light (lamps at night, the sun in glass) the lens spreads "
                          "into a glow around it (see simgen/postprocess/bloom.py); the night condition sets "
                          "[0.02, 0.08]")
    nir: NirSpec = Field(default_factory=NirSpec, description="the near-infrared camera of labels.outputs: [nir]")
    thermal: ThermalSpec = Field(default_factory=ThermalSpec, description="the thermal camera of labels.outputs: "
                                                                         "[thermal]")
    stereo_baseline_m: Positive = Field(default_factory=lambda: constant(0.12),
                                        description="labels.outputs: [stereo]: the right camera this far along "
                                                    "the left one's x axis (rectified: same lens and orientation)")
    dof: DepthOfField = Field(default_factory=DepthOfField)
    motion_blur: MotionBlurSpec = Field(default_factory=MotionBlurSpec)
    rig: list[RigCamera] = Field(
        default_factory=list, max_length=16,
        description="more cameras fixed to this one, rendered from the same scene in the same frame, each "
                    "with its own lens, files and labels (cameras/NAME/annotations.json); cheaper than "
                    "rendering the scene again per camera")

    _sampler: tuple[str, Any] = PrivateAttr(default=("orbit", None))

    @model_validator(mode="after")
    def _one_pose(self) -> "CameraSpec":
        given = [name for name in (*BUILTIN_POSES, "pose") if getattr(self, name) is not None]
        if len(given) > 1:
            raise PydanticCustomError("camera_pose", "give one camera pose sampler, not {given}",
                                      {"given": " and ".join(given)})
        if not given:
            self.orbit = OrbitPose()
            given = ["orbit"]
        if given[0] != "pose":
            self._sampler = (given[0], getattr(self, given[0]))
            return self
        self._sampler = _pose_sampler(self.pose or {})
        if self._sampler[0] in BUILTIN_POSES:  # one spelling for the built-ins, so conditions can override them
            setattr(self, self._sampler[0], self._sampler[1])
            self.pose = None
        return self

    @field_validator("rig")
    @classmethod
    def _unique_cameras(cls, rig: list[RigCamera]) -> list[RigCamera]:
        names = [camera.name for camera in rig]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise PydanticCustomError("rig", "two rig cameras are named '{name}': each needs its own folder",
                                          {"name": name, "at": ("camera", "rig", index, "name")})
        return rig

    @field_validator("pose")
    @classmethod
    def _known_sampler(cls, pose: dict[str, Any] | None) -> dict[str, Any] | None:
        if pose is not None:
            _pose_sampler(pose)  # here, so that an error points at camera.pose
        return pose

    @property
    def sampler(self) -> tuple[str, Any]:
        """The pose sampler's registered name and its validated options."""
        return self._sampler


class SunSpec(StrictModel):
    facing_camera: bool = Field(False, description="azimuth_deg is relative to the camera's heading: the sun in "
                                                   "front of the camera, for backlight and glare")
    elevation_deg: FloatDist = Field(default_factory=lambda: uniform(20.0, 70.0))
    azimuth_deg: FloatDist = Field(default_factory=lambda: uniform(0.0, 360.0))
    strength: NonNegative = Field(default_factory=lambda: uniform(1.0, 4.0),
                                  description="irradiance in W/m^2 as Blender's sun strength")
    illuminance_lux: NonNegative | None = Field(
        None, description="instead of strength: lux on a surface facing it (a full moon 0.05-0.3, overcast day "
                          "1000-10000); strength = lux / 683")
    color_temperature_k: Positive = Field(default_factory=lambda: constant(5500.0))
    angle_deg: NonNegative = Field(default_factory=lambda: constant(1.0),
                                   description="angular diameter; larger gives softer shadows")


class LightsSpec(StrictModel):
    """Extra point, spot and area lights on a shell around the scene, all aimed at it."""

    count: Count = Field(default_factory=lambda: Distribution("uniform", (0, 2), integer=True))
    type: ChoiceDist = Field(default_factory=lambda: Distribution("choice", ("point", "spot", "area")))
    distance: Positive = Field(default_factory=lambda: uniform(1.5, 4.0))
    relative_distance: Positive | None = Field(
        None, description="instead of distance: in multiples of the camera's distance to the objects, so lamps "
                          "stand as far out on a street as on a table")
    elevation_deg: FloatDist = Field(default_factory=lambda: uniform(15.0, 75.0))
    azimuth_deg: FloatDist = Field(default_factory=lambda: uniform(0.0, 360.0))
    power_w: NonNegative = Field(default_factory=lambda: loguniform(50.0, 800.0))
    illuminance_lux: NonNegative | None = Field(
        None, description="instead of power_w: the lux each lamp gives where the camera looks (lit streets 5-30, "
                          "indoor lamps 50-300), its power following from its distance, so a night is the same "
                          "night at any scene scale; also sets the camera_spots")
    color_temperature_k: Positive = Field(default_factory=lambda: uniform(2700.0, 7000.0))
    size_m: Positive = Field(default_factory=lambda: uniform(0.05, 1.0))
    spot_angle_deg: Positive = Field(default_factory=lambda: uniform(30.0, 90.0))
    camera_spots: Count = Field(default_factory=lambda: Distribution("constant", (0,), integer=True),
                                description="headlight-like spots beside the camera, aimed where it looks")

    @model_validator(mode="after")
    def _known_types(self) -> "LightsSpec":
        for value in self.type.params:
            if value not in ("point", "spot", "area"):
                raise PydanticCustomError("light_type", "unknown light type '{t}'; use point, spot or area",
                                          {"t": value})
        return self


def is_path_like(name: str) -> bool:
    """An HDRI or image given as a file, folder or glob rather than by a bundled name."""
    return "/" in name or "." in name


BUNDLED_HDRIS = ("city", "courtyard", "forest", "interior", "night", "studio", "sunrise", "sunset")


class WorldSpec(StrictModel):
    """Environment light and background: an HDRI (bundled, file or folder), a physical sky, an overcast
    sky, or a colour."""

    type: ChoiceDist = Field(default_factory=lambda: constant("hdri"),
                             description="hdri, sky (follows the sun), overcast (the CIE standard overcast sky: "
                                         "`color` x strength at the zenith, a third of it at the horizon) or color")
    hdri: ChoiceDist | None = Field(
        default_factory=lambda: Distribution("choice", BUNDLED_HDRIS),
        description=f"one of {', '.join(BUNDLED_HDRIS)}, or a path/glob of .exr/.hdr files; null = plain colour")
    strength: NonNegative = Field(default_factory=lambda: uniform(0.5, 1.5))
    rotation_deg: FloatDist = Field(default_factory=lambda: uniform(0.0, 360.0))
    color: tuple[float, float, float] | ColorHSV = Field(
        (0.05, 0.05, 0.05), description="linear RGB, or {hue, saturation, value} ranges for a random colour")

    @model_validator(mode="after")
    def _known_types(self) -> "WorldSpec":
        for value in self.type.params:
            if value not in ("hdri", "sky", "overcast", "color"):
                raise PydanticCustomError("world_type", "unknown world type '{t}'; use hdri, sky, overcast or color",
                                          {"t": value})
        return self

    @field_validator("hdri")
    @classmethod
    def _known_hdris(cls, hdri: Distribution | None) -> Distribution | None:
        for name in hdri.params if hdri is not None else ():
            if not isinstance(name, str) or not (is_path_like(name) or name in BUNDLED_HDRIS):
                close = difflib.get_close_matches(str(name), BUNDLED_HDRIS, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise PydanticCustomError("hdri", "unknown bundled HDRI '{name}': {hint}bundled ones are {all}; or "
                                          "give a path, folder or glob of .exr/.hdr files",
                                          {"name": name, "hint": hint, "all": ", ".join(BUNDLED_HDRIS)})
        return hdri


class GroundSpec(StrictModel):
    """The surface objects stand on."""

    enabled: bool = True
    size: float = Field(20.0, gt=0, le=100_000, description="edge length of the square ground plane (metres)")
    fit_view: bool = Field(False, description="grow the plane, when needed, until the camera cannot see past its "
                                              "edge (it then ends within 0.3 degrees of the horizon); planes of "
                                              "several hundred metres can make a resumed frame's RGB differ by a "
                                              "few levels from an uninterrupted run's (labels stay exact)")
    material: MaterialSpec = Field(default_factory=lambda: MaterialSpec(
        mode=constant("procedural"),
        color=ColorHSV(hue=uniform(0.0, 1.0), saturation=uniform(0.0, 0.3),
                       value=uniform(0.2, 0.6)),
        roughness=uniform(0.4, 1.0), bump=uniform(0.0, 0.3)))


class DistractorSpec(StrictModel):
    """Unlabeled clutter: never labeled, but it hides labeled objects exactly as it would in reality."""

    count: Count = Field(default_factory=lambda: Distribution("constant", (0,), integer=True))
    shapes: ChoiceDist = Field(default_factory=lambda: Distribution(
        "choice", ("primitive:cube", "primitive:sphere", "primitive:cylinder", "primitive:cone", "primitive:torus")),
        description="asset strings (primitives, ycb:, files) to draw distractors from")
    scale: Positive = Field(default_factory=lambda: uniform(0.1, 0.4))
    deform: NonNegative = Field(default_factory=lambda: uniform(0.0, 0.5),
                                description="per-axis stretch: each axis scaled by 1 +- this")
    near_camera: float = Field(0.0, ge=0, le=1, description="fraction of distractors floating between the "
                                                            "camera and the objects, as occluders")
    target_visibility: FloatDist | None = Field(
        None, description="aim each near-camera occluder at a labeled object so that about this fraction of it "
                          "stays visible (the exact visibility is measured and labeled)")
    material: MaterialSpec = Field(default_factory=lambda: MaterialSpec(
        mode=Distribution("choice", ("sampled", "procedural"))))


class BackdropSpec(StrictModel):
    """A large plane behind the objects, facing the camera: a random image or pattern as background."""

    p: float = Field(1.0, ge=0, le=1, description="probability that a frame has a backdrop")
    distance_m: Positive = Field(default_factory=lambda: uniform(0.5, 2.0),
                                 description="behind the look-at point, away from the camera")
    size_m: Positive = Field(default_factory=lambda: uniform(3.0, 6.0))
    material: MaterialSpec = Field(default_factory=lambda: MaterialSpec(
        mode=constant("procedural"), roughness=uniform(0.5, 1.0)))


class FogSpec(StrictModel):
    """Fog, haze or mist: far things fade more, as the depth pass says they should."""

    mode: Literal["analytic", "volume"] = Field(
        "analytic", description="analytic: exact Beer-Lambert fade from the depth pass, applied after the render "
                                "(free); volume: Cycles volume scattering in the scene (glows around lights, "
                                "several times slower)")
    visibility_m: Metres | None = Field(
        None, description="meteorological visibility: the distance at which a target keeps 5 % of its contrast "
                          "(extinction = ln 20 / visibility per metre)")
    relative_visibility: Positive | None = Field(
        None, description="visibility as a multiple of the camera's distance to what it looks at, so fog looks "
                          "the same at any scene scale (default [1.5, 8] when neither this, visibility_m nor "
                          "density is given)")
    density: Positive | None = Field(None, description="extinction per metre (visibility = ln 20 / density)")
    color: tuple[float, float, float] | ColorHSV = Field((0.7, 0.72, 0.75), description="linear RGB of the haze")
    anisotropy: FloatDist = Field(default_factory=lambda: uniform(0.0, 0.6),
                                  description="volume mode: forward scattering, -1..1")
    height_m: Positive | None = Field(None, description="ground fog: density falls by e every this many metres "
                                                        "of height (visibility is that at the ground); none = the "
                                                        "same everywhere")
    relative_height: Positive | None = Field(
        None, description="ground fog's scale height as a multiple of the camera's distance to what it looks at "
                          "(instead of height_m), so a table and a street get the same layer")

    @model_validator(mode="after")
    def _one_strength(self) -> "FogSpec":
        given = [name for name in ("visibility_m", "relative_visibility", "density") if getattr(self, name) is not None]
        if len(given) > 1:
            raise PydanticCustomError("fog_strength", "give one of visibility_m, relative_visibility and density, "
                                      "not {given}", {"given": " and ".join(given)})
        if not given:
            self.relative_visibility = loguniform(1.5, 8.0)
        if self.height_m is not None and self.relative_height is not None:
            raise PydanticCustomError("fog_height", "give height_m or relative_height, not both", {})
        return self


class RainSpec(StrictModel):
    """Falling rain (never labeled, never hiding labels: drops are transparent) and wet surfaces.

    ``analytic``: the drops a camera would catch at ``rate_mm_h`` during ``exposure_s``, from the
    rain's drop-size distribution and terminal velocities, drawn as thin, faint streaks over the
    render (see simgen/postprocess/rain.py). ``streaks``: ``streaks`` rods of ``length_m`` in the 3D
    scene, rendered by Cycles.
    """

    mode: Literal["analytic", "streaks"] = "analytic"
    rate_mm_h: Positive = Field(default_factory=lambda: loguniform(1.0, 30.0),
                                description="analytic: rain rate (drizzle 0.5-2, moderate 2-8, heavy 8-50, "
                                            "violent over 50 mm/h)")
    exposure_s: Positive = Field(default_factory=lambda: loguniform(1 / 500, 1 / 30),
                                 description="analytic: exposure time; streaks are the distance a drop falls in it")
    wind_mps: NonNegative = Field(default_factory=lambda: uniform(0.0, 3.0),
                                  description="analytic: horizontal wind (random heading) that slants the streaks")
    streaks: Count = Field(default_factory=lambda: Distribution("uniform", (150, 400), integer=True),
                           description="streaks mode: rods in view")
    length_m: Positive = Field(default_factory=lambda: uniform(0.03, 0.12), description="streaks mode: rod length")
    wetness: FloatDist = Field(default_factory=lambda: uniform(0.5, 1.0),
                               description="0..1: darker, glossier surfaces")
    splashes: bool = Field(True, description="analytic: crowns thrown up where drops hit up-facing surfaces, as many "
                                             "as the rain rate brings (simgen/postprocess/splashes.py)")
    lens_drops: Count = Field(default_factory=lambda: Distribution("constant", (0,), integer=True),
                              description="water drops on the lens, out of focus, each showing a small upside-down "
                                          "picture of the scene around it (the rain condition: 0-6)")
    lens_drop_radius: Share = Field(default_factory=lambda: loguniform(0.01, 0.05),
                                    description="a lens drop's radius as a share of the image width")


class SnowSpec(StrictModel):
    """Falling flakes (opaque: they do hide what is behind them) and snow on up-facing surfaces."""

    rate_mm_h: Positive | None = Field(
        None, description="snowfall in mm/h of water (light 0.1-1, heavy over 2.5): the flakes in view and their "
                          "sizes follow (Gunn-Marshall); instead of flakes and size_m")
    flakes: Count = Field(default_factory=lambda: Distribution("uniform", (150, 400), integer=True))
    size_m: Positive = Field(default_factory=lambda: uniform(0.004, 0.012))
    cover: FloatDist = Field(default_factory=lambda: uniform(0.3, 1.0),
                             description="0..1: how white up-facing surfaces turn, labeled objects included")


class WeatherSpec(StrictModel):
    fog: FogSpec | None = None
    rain: RainSpec | None = None
    snow: SnowSpec | None = None


class ConditionTarget(StrictModel):
    """How many frames carry a condition, and (for your own conditions) what it changes."""

    fraction: float | None = Field(None, ge=0, le=1)
    count: int | None = Field(None, ge=0, le=MAX_FRAMES, description="an exact number of frames instead of a fraction")
    override: dict[str, Any] | None = Field(
        None, description="scenario sections replaced in frames with this condition (deep-merged); "
                          "built-in conditions have their own")

    @model_validator(mode="after")
    def _one_target(self) -> "ConditionTarget":
        if (self.fraction is None) == (self.count is None):
            raise PydanticCustomError("condition", "give either fraction or count", {})
        return self


class EffectSpec(StrictModel):
    """One post-render sensor effect: applied with probability ``p``, strength sampled."""

    p: float = Field(0.0, ge=0, le=1)
    amount: FloatDist = Field(default_factory=lambda: constant(0.0))


class SensorSpec(StrictModel):
    """Camera imperfections applied to the rendered image (labels are unaffected)."""

    noise: EffectSpec = Field(default_factory=lambda: EffectSpec(amount=uniform(0.005, 0.03)),
                              description="amount: std of Gaussian noise on linear intensities")
    exposure_error: EffectSpec = Field(default_factory=lambda: EffectSpec(amount=uniform(-1, 1)),
                                       description="amount: stops")
    vignetting: EffectSpec = Field(default_factory=lambda: EffectSpec(amount=uniform(0.1, 0.5)),
                                   description="amount: darkening at the corners, 0..1")
    chromatic_aberration: EffectSpec = Field(
        default_factory=lambda: EffectSpec(amount=uniform(0.5, 2.0)),
        description="amount: red/blue shift at the corners in pixels")
    jpeg: EffectSpec = Field(default_factory=lambda: EffectSpec(amount=uniform(30, 90)),
                             description="amount: JPEG quality")


class SequenceCamera(StrictModel):
    """How the camera moves during a clip: ahead, turning, shaken by hand."""

    speed_mps: NonNegative = Field(default_factory=lambda: constant(0.0),
                                   description="along its horizontal line of sight (a car's camera: its speed)")
    turn_deg_s: FloatDist = Field(default_factory=lambda: constant(0.0),
                                  description="turning left (positive) or right about the vertical")
    orbit_deg_s: FloatDist = Field(default_factory=lambda: constant(0.0),
                                   description="circling the point it looks at, anticlockwise seen from above "
                                               "(negative: clockwise), still looking at it")
    shake_deg: NonNegative = Field(default_factory=lambda: constant(0.0),
                                   description="handheld: a smooth random wobble of about this many degrees")


class SequenceSpec(StrictModel):
    """Clips instead of independent frames: each clip samples its scene once and moves it for ``length``
    frames (frame i is frame i % length of clip i // length)."""

    length: int = Field(ge=2, le=10_000, description="frames per clip")
    fps: float = Field(10.0, gt=0, le=1000, description="frames per second")
    shutter: float = Field(0.5, ge=0, le=1, description="motion blur: the open share of a frame's time (0.5 is "
                                                        "a 180-degree shutter); 0: none")
    camera: SequenceCamera = Field(default_factory=SequenceCamera)
    sun_deg_s: FloatDist = Field(default_factory=lambda: constant(0.0),
                                 description="time of day: the sun's elevation changes this fast (negative: sunset)")


class LabelSpec(StrictModel):
    """Which instances become training targets, and which extra labels to write."""

    @field_validator("outputs")
    @classmethod
    def _known_outputs(cls, names: list[str]) -> list[str]:
        return known_outputs(names)

    min_visibility: float = Field(0.0, ge=0, le=1, description="visible / unoccluded pixels below this are filtered")
    min_area_px: int = Field(1, ge=1, description="visible pixel count below this is filtered")
    filtered: Literal["drop", "ignore"] = Field(
        "drop", description="drop filtered instances, or keep them as iscrowd=1 / ignore=1 regions")
    amodal_masks: bool = Field(False, description="also write the unoccluded mask (RLE) of every instance")
    depth_float: Literal["none", "npy", "exr"] = Field(
        "none", description="also write depth as float32 metres (inf = no surface): depth/NNNNNN.npy or .exr")
    keypoint_depth_tolerance_m: float = Field(0.02, gt=0, description="a keypoint counts as visible when the "
                                              "depth pass at its pixel is within this of the keypoint's depth")
    outputs: list[str] = Field(
        default_factory=list, description="extra per-frame outputs by name: normals (camera-space, 16-bit PNG), "
                                          "normals_float (.npy), albedo (diffuse colour), stereo (a right camera's "
                                          "image and the disparity), nir (a near-infrared camera), thermal (a "
                                          "radiometric thermal camera), and any a plug-in adds")
    panoptic: bool | None = Field(
        None, description="also write COCO panoptic output (panoptic/NNNNNN.png, panoptic.json); default: on "
                          "with an environment, whose every pixel is a thing, a stuff class or sky")


class Scenario(StrictModel):
    """A whole scenario file."""

    name: str = Field(min_length=1)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    frames: int = Field(16, ge=1, le=MAX_FRAMES)
    render: str = Field("draft", description="a preset in render_configs/ (preview, draft, production) or a path")
    classes: list[ClassSpec] = Field(min_length=1, max_length=MAX_CLASSES)
    placement: PlacementSpec = Field(default_factory=PlacementSpec)
    camera: CameraSpec = Field(default_factory=CameraSpec)
    sun: SunSpec | None = Field(default_factory=SunSpec)
    lights: LightsSpec | None = None
    world: WorldSpec = Field(default_factory=WorldSpec)
    ground: GroundSpec = Field(default_factory=GroundSpec)
    distractors: DistractorSpec | None = None
    backdrop: BackdropSpec | None = None
    environment: EnvironmentSpec = Field(default_factory=EnvironmentSpec)
    weather: WeatherSpec = Field(default_factory=WeatherSpec)
    conditions: dict[str, float | ConditionTarget] = Field(
        default_factory=dict, description="edge-case coverage: condition name -> fraction of frames (or "
                                          "{count: N}); built-in: fog, rain, snow, night, dusk, golden_hour, glare, "
                                          "overexposed, underexposed, heavy_occlusion, truncation, tiny_objects, "
                                          "tiny_objects_px, crowded, unusual_pose, motion_blur")
    sensor: SensorSpec | None = None
    sequence: SequenceSpec | None = Field(None, description="render clips: the same scene moving over "
                                                            "time, with tracks and optical flow")
    labels: LabelSpec = Field(default_factory=LabelSpec)
    lineage: list[dict[str, Any]] = Field(
        default_factory=list, description="what this scenario came from, written by simgen fit and focus: each "
                                          "step, the dataset it read (by identity) and the changes it made")

    _source: Path | None = PrivateAttr(default=None)
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)  # key path -> line, from the loader

    def camera_outputs(self) -> dict[str | None, list[str]]:
        """The extra outputs of each camera: None is the main one, then the rig's by name."""
        return {None: self.labels.outputs,
                **{c.name: self.labels.outputs if c.outputs is None else c.outputs for c in self.camera.rig}}

    def wanted_outputs(self) -> set[str]:
        """Every extra output some camera writes (what the frame must sample and the renderer enable)."""
        return {name for names in self.camera_outputs().values() for name in names}

    @property
    def source_dir(self) -> Path:
        """Folder that relative asset paths are resolved against."""
        return self._source.parent if self._source else Path.cwd()

    @property
    def source(self) -> Path | None:
        return self._source

    @model_validator(mode="after")
    def _known_conditions(self) -> "Scenario":
        from simgen.plugins import CONDITIONS

        for name, target in self.conditions.items():
            if isinstance(target, (int, float)) and not 0 <= target <= 1:
                raise PydanticCustomError("condition", "condition '{name}': a fraction between 0 and 1, got {got}",
                                          {"name": name, "got": target})
            own = getattr(target, "override", None)
            if own is None and name not in CONDITIONS:
                close = difflib.get_close_matches(name, sorted(CONDITIONS.names()), n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise PydanticCustomError(
                    "condition", "unknown condition '{name}': {hint}built-in ones are {all}; for your own, give "
                    "{{fraction: F, override: {{...}}}}", {"name": name, "hint": hint,
                                                           "all": ", ".join(CONDITIONS.names())})
        return self

    @field_validator("classes", mode="before")
    @classmethod
    def _bounded_classes(cls, classes: Any) -> Any:
        """Refuse a list too long before each entry is validated: 20,000 classes would take seconds to read."""
        if isinstance(classes, list) and len(classes) > MAX_CLASSES:
            raise PydanticCustomError("too_long", "at most {limit} classes, got {got}",
                                      {"limit": MAX_CLASSES, "got": len(classes)})
        return classes

    @model_validator(mode="after")
    def _clips(self) -> "Scenario":
        """Flow needs motion over time (a sequence); a clip's objects move on their paths, not by physics."""
        for camera, names in self.camera_outputs().items():
            asked = {"flow", "flow_float"} & set(names)
            if asked and self.sequence is None:
                at = ("labels", "outputs") if camera is None else \
                    ("camera", "rig", [c.name for c in self.camera.rig].index(camera), "outputs")
                raise PydanticCustomError("flow", "{name} is the motion between a clip's frames: add a sequence: "
                                          "{{length: N, fps: F}} section", {"name": sorted(asked)[0], "at": at})
        if self.sequence is not None and self.placement.physics is not None:
            raise PydanticCustomError("sequence", "a sequence moves its objects along their paths; placement.physics "
                                      "(a settling drop per frame) cannot run in it: remove one of the two",
                                      {"at": ("placement", "physics")})
        return self

    @model_validator(mode="after")
    def _environment_defaults(self) -> "Scenario":
        """An environment labels every pixel (panoptic on) and is lit by its own lamps at a few hundred lux
        indoors: a camera there sets its exposure for that light (auto_exposure on), as a phone does."""
        if self.labels.panoptic is None:
            self.labels.panoptic = self.environment.type != "open"
        if self.environment.type != "open" and "auto_exposure" not in self.camera.model_fields_set:
            self.camera.auto_exposure = AutoExposureSpec()
        return self

    @model_validator(mode="after")
    def _supports_exist(self) -> "Scenario":
        """``stands_on`` names a support of the environment or a class; physics needs the open ground."""
        env = self.environment.type
        known = {"open": {"ground", "floor"}, "room": {"floor"}, "tabletop": {"floor", "table"},
                 "street": {"road", "lane", "sidewalk", "crosswalk"}}[env]
        names = [c.name for c in self.classes]
        for index, cls in enumerate(self.classes):
            at = ("classes", index)
            supports = [cls.stands_on] if isinstance(cls.stands_on, str) else list(cls.stands_on or [])
            for support in supports:
                if support not in known and support not in names:
                    raise PydanticCustomError(
                        "stands_on", "class '{cls}': stands_on '{got}': expected one of {known} (environment type "
                        "{env}) or a class name", {"cls": cls.name, "got": support, "known": ", ".join(sorted(known)),
                                                   "env": env, "at": (*at, "stands_on")})
                if support == cls.name:
                    raise PydanticCustomError("stands_on", "class '{cls}' cannot stand on itself",
                                              {"cls": cls.name, "at": (*at, "stands_on")})
            for field, named in (("facing", cls.facing), ("around", cls.around)):
                if named is not None and named not in names and not (field == "facing" and named == "centre"):
                    raise PydanticCustomError(field, "class '{cls}': {field} '{got}': expected a class name"
                                              "{centre}", {"cls": cls.name, "field": field, "got": named,
                                                           "centre": " or 'centre'" if field == "facing" else "",
                                                           "at": (*at, field)})
            if cls.against == "wall" and env not in ("room", "tabletop"):
                raise PydanticCustomError("against", "class '{cls}': against: wall needs environment type room or "
                                          "tabletop, not {env}", {"cls": cls.name, "env": env, "at": (*at, "against")})
        if env != "open" and self.placement.physics is not None:
            raise PydanticCustomError("physics", "placement.physics settles objects on the open ground plane; "
                                      "environment type {env} places them on its supports exactly instead",
                                      {"env": env, "at": ("placement", "physics")})
        return self

    @model_validator(mode="after")
    def _unique_class_names(self) -> "Scenario":
        counts = Counter(c.name for c in self.classes)
        duplicates = sorted(name for name, n in counts.items() if n > 1)
        if duplicates:
            raise PydanticCustomError("duplicate_class", "class names must be unique; repeated: {names}",
                                      {"names": ", ".join(duplicates[:10])})
        return self

    @model_validator(mode="after")
    def _instance_ids_fit(self) -> "Scenario":
        """Instance ids travel in Blender's object index (at most 32767), whose top range is stuff classes."""
        multiplier = self.placement.count_multiplier.bounds or (1.0, 1.0)
        most = sum((c.count.bounds or (0, MAX_COUNT))[1] for c in self.classes) * multiplier[1]
        if most > MAX_INSTANCES:
            raise PydanticCustomError("too_many", "up to {most} labeled objects per frame; at most {limit} fit the "
                                      "object index instance ids travel in", {"most": int(most), "limit": MAX_INSTANCES})
        return self
