"""The scenario schema: what a user may write in ``scenes/*.yaml``.

Every sampled number uses the distribution syntax of :mod:`simgen.config.distributions`,
so any value can be pinned to a constant. Unknown keys are errors, with the closest
valid key suggested, because a silently ignored typo wastes a whole render run.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal

from pathlib import Path

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, model_validator
from pydantic_core import PydanticCustomError

from simgen.config.distributions import ChoiceDist, Distribution, FloatDist, IntDist, non_negative, positive

NonNegative = Annotated[FloatDist, AfterValidator(lambda d: non_negative(d))]
Positive = Annotated[FloatDist, AfterValidator(lambda d: positive(d))]
Count = Annotated[IntDist, AfterValidator(lambda d: non_negative(d, "count"))]


class StrictModel(BaseModel):
    """Base for every schema section: unknown keys are refused with a suggestion."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = set(cls.model_fields) | {f.alias for f in cls.model_fields.values() if f.alias}
            for key in data:
                if key not in allowed:
                    close = difflib.get_close_matches(str(key), sorted(allowed), n=1, cutoff=0.5)
                    hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(sorted(allowed))}"
                    raise PydanticCustomError("unknown_key", "unknown key '{key}'{hint}", {"key": key, "hint": hint})
        return data


class Vector3(StrictModel):
    """A sampled 3D vector given per axis, e.g. ``{x: [-1, 1], y: 0, z: 0.5}``."""

    x: FloatDist = Field(default_factory=lambda: Distribution("constant", (0.0,)))
    y: FloatDist = Field(default_factory=lambda: Distribution("constant", (0.0,)))
    z: FloatDist = Field(default_factory=lambda: Distribution("constant", (0.0,)))


class ColorHSV(StrictModel):
    """Object colour sampled in HSV (each 0..1) because hue ranges are what people think in."""

    hue: FloatDist = Field(default_factory=lambda: Distribution("uniform", (0.0, 1.0)))
    saturation: FloatDist = Field(default_factory=lambda: Distribution("uniform", (0.4, 0.9)))
    value: FloatDist = Field(default_factory=lambda: Distribution("uniform", (0.3, 0.9)))


class MaterialSpec(StrictModel):
    """How a labeled object is shaded: ``sampled`` replaces the asset's material, ``keep`` leaves it."""

    mode: Literal["sampled", "keep"] = "sampled"
    color: ColorHSV = Field(default_factory=ColorHSV)
    roughness: FloatDist = Field(default_factory=lambda: Distribution("uniform", (0.2, 0.9)))
    metallic: FloatDist = Field(default_factory=lambda: Distribution("constant", (0.0,)))


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
    asset: str | list[str] = Field(
        description="primitive:cube|sphere|cylinder|cone|torus|monkey, ycb:<name>, or a file path/glob "
                    "(OBJ, PLY, STL, glTF/GLB, FBX, .blend); relative paths are relative to the scenario file")
    count: Count = Field(default_factory=lambda: Distribution("uniform", (1, 3), integer=True))
    scale: Positive = Field(default_factory=lambda: Distribution("constant", (1.0,)),
                            description="uniform scale factor applied to the asset")
    position: Vector3 | None = Field(
        default=None, description="sampled position (metres) instead of scatter placement; pins a pose exactly")
    rotation_deg: Vector3 | None = Field(
        default=None, description="XYZ Euler rotation in degrees; default: random yaw, upright")
    material: MaterialSpec = Field(default_factory=MaterialSpec)
    keypoints: KeypointSpec | None = None


class PlacementSpec(StrictModel):
    """Scatter of labeled objects on the ground without interpenetration."""

    area: tuple[float, float] = Field((1.0, 1.0), description="width and depth (metres) of the area, centred on the origin")
    min_gap: float = Field(0.01, ge=0, description="minimum clearance between object footprints (metres)")
    max_tries: int = Field(200, ge=1, description="attempts per object before giving up")
    on_failure: Literal["error", "drop"] = Field(
        "drop", description="when an object does not fit: drop it (and record that) or stop with an error")

    @model_validator(mode="after")
    def _positive_area(self) -> "PlacementSpec":
        if self.area[0] <= 0 or self.area[1] <= 0:
            raise PydanticCustomError("area", "area must be two positive sizes in metres, got {got}",
                                      {"got": list(self.area)})
        return self


class OrbitPose(StrictModel):
    """Camera on a sphere around a target, looking at it."""

    distance: Positive = Field(default_factory=lambda: Distribution("uniform", (2.0, 4.0)))
    elevation_deg: FloatDist = Field(default_factory=lambda: Distribution("uniform", (20.0, 60.0)))
    azimuth_deg: FloatDist = Field(default_factory=lambda: Distribution("uniform", (0.0, 360.0)))
    roll_deg: FloatDist = Field(default_factory=lambda: Distribution("constant", (0.0,)))
    look_at: Literal["objects", "origin"] | tuple[float, float, float] = Field(
        "objects", description="'objects' (centre of the labeled objects), 'origin', or [x, y, z]")


class FixedPose(StrictModel):
    """Camera at an exact place looking at an exact point: for scenes designed by hand."""

    location: tuple[float, float, float]
    look_at: tuple[float, float, float] = (0.0, 0.0, 0.0)
    roll_deg: float = 0.0


class CameraSpec(StrictModel):
    """Intrinsics (focal length on a sensor) and a pose sampler."""

    focal_length_mm: Positive = Field(default_factory=lambda: Distribution("constant", (35.0,)))
    sensor_width_mm: float = Field(36.0, gt=0)
    orbit: OrbitPose | None = None
    fixed: FixedPose | None = None

    @model_validator(mode="after")
    def _one_pose(self) -> "CameraSpec":
        if self.orbit is not None and self.fixed is not None:
            raise PydanticCustomError("camera_pose", "give either orbit or fixed, not both", {})
        if self.orbit is None and self.fixed is None:
            self.orbit = OrbitPose()
        return self


class SunSpec(StrictModel):
    elevation_deg: FloatDist = Field(default_factory=lambda: Distribution("uniform", (20.0, 70.0)))
    azimuth_deg: FloatDist = Field(default_factory=lambda: Distribution("uniform", (0.0, 360.0)))
    strength: NonNegative = Field(default_factory=lambda: Distribution("uniform", (1.0, 4.0)),
                                  description="irradiance in W/m^2 as Blender's sun strength")
    color_temperature_k: Positive = Field(default_factory=lambda: Distribution("constant", (5500.0,)))
    angle_deg: NonNegative = Field(default_factory=lambda: Distribution("constant", (1.0,)),
                                   description="angular diameter; larger gives softer shadows")


BUNDLED_HDRIS = ("city", "courtyard", "forest", "interior", "night", "studio", "sunrise", "sunset")


class WorldSpec(StrictModel):
    """Environment light and background: a bundled HDRI by name, an HDRI file, or a plain colour."""

    hdri: ChoiceDist | None = Field(
        default_factory=lambda: Distribution("choice", BUNDLED_HDRIS),
        description=f"one of {', '.join(BUNDLED_HDRIS)}, or a path to an .exr/.hdr file; null for a plain colour")
    strength: NonNegative = Field(default_factory=lambda: Distribution("uniform", (0.5, 1.5)))
    rotation_deg: FloatDist = Field(default_factory=lambda: Distribution("uniform", (0.0, 360.0)))
    color: tuple[float, float, float] = Field((0.05, 0.05, 0.05), description="linear RGB when hdri is null")


class GroundSpec(StrictModel):
    """The surface objects stand on."""

    enabled: bool = True
    size: float = Field(20.0, gt=0, description="edge length of the square ground plane (metres)")
    color: ColorHSV = Field(default_factory=lambda: ColorHSV(
        hue=Distribution("uniform", (0.0, 1.0)), saturation=Distribution("uniform", (0.0, 0.3)),
        value=Distribution("uniform", (0.2, 0.6))))
    roughness: FloatDist = Field(default_factory=lambda: Distribution("uniform", (0.4, 1.0)))
    pattern_scale: NonNegative = Field(default_factory=lambda: Distribution("uniform", (2.0, 20.0)),
                                       description="scale of the procedural noise texture; 0 for a plain colour")


class LabelSpec(StrictModel):
    """Which instances become training targets, and which extra labels to write."""

    min_visibility: float = Field(0.0, ge=0, le=1, description="visible / unoccluded pixels below this are filtered")
    min_area_px: int = Field(1, ge=1, description="visible pixel count below this is filtered")
    filtered: Literal["drop", "ignore"] = Field(
        "drop", description="drop filtered instances, or keep them as iscrowd=1 / ignore=1 regions")
    amodal_masks: bool = Field(False, description="also write the unoccluded mask (RLE) of every instance")
    keypoint_depth_tolerance_m: float = Field(0.02, gt=0, description="a keypoint counts as visible when the "
                                              "depth pass at its pixel is within this of the keypoint's depth")


class Scenario(StrictModel):
    """A whole scenario file."""

    name: str = Field(min_length=1)
    seed: int = 0
    frames: int = Field(16, ge=1)
    render: str = Field("draft", description="a preset in render_configs/ (preview, draft, production) or a path")
    classes: list[ClassSpec] = Field(min_length=1)
    placement: PlacementSpec = Field(default_factory=PlacementSpec)
    camera: CameraSpec = Field(default_factory=CameraSpec)
    sun: SunSpec | None = Field(default_factory=SunSpec)
    world: WorldSpec = Field(default_factory=WorldSpec)
    ground: GroundSpec = Field(default_factory=GroundSpec)
    labels: LabelSpec = Field(default_factory=LabelSpec)

    _source: Path | None = PrivateAttr(default=None)

    @property
    def source_dir(self) -> Path:
        """Folder that relative asset paths are resolved against."""
        return self._source.parent if self._source else Path.cwd()

    @property
    def source(self) -> Path | None:
        return self._source

    @model_validator(mode="after")
    def _unique_class_names(self) -> "Scenario":
        names = [c.name for c in self.classes]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise PydanticCustomError("duplicate_class", "class names must be unique; repeated: {names}",
                                      {"names": ", ".join(duplicates)})
        return self
