"""Edge-case conditions: what each one changes, and which frames carry it.

A condition is a named override of scenario sections (``night`` dims the sun to moonlight and
the sky to a glow, adds lamps of so many lux, and exposes like a camera at its limits). Frames are given conditions by a seeded
low-discrepancy rule: frame i carries a condition with fraction f when
floor((i + 1) f + phase) > floor(i f + phase). Every prefix of N frames then holds
round-down or round-up of f N of them, so any run, resumed, extended or split into shards and
merged, meets every target within one frame, and frame i's conditions never depend on N.
"""

from __future__ import annotations

import copy
import math
import zlib
from typing import Any

from simgen.config.distributions import NAMED
from simgen.plugins import CONDITIONS

# The CIE overcast sky, grey with a little blue: 7 pi / 9 x 0.83 x 683 = 1,380 lx per unit of strength.
OVERCAST: dict[str, Any] = {"type": "overcast", "color": [0.80, 0.83, 0.88], "strength": {"loguniform": [0.75, 4.3]}}

BUILTIN_CONDITIONS: dict[str, dict[str, Any]] = {
    "fog": {"weather": {"fog": {"density": None, "visibility_m": None,  # the scenario's fog mode is kept
                                "relative_visibility": {"loguniform": [1.2, 5.0]}}}},
    # rain and snow fall outdoors: a tabletop environment's table moves onto a patio for them
    # Rain and snow fall from thick cloud (optical depth 20-100: the sun's disc is gone), so the light is an
    # overcast sky's, soft and shadowless: 1,000-6,000 lx on the ground, with at most a trace of direct sun
    # (0-200 lx) through a thinner patch. In lux, so a scenario's own sun (in lux or W/m^2) gives way.
    "rain": {"weather": {"rain": {"lens_drops": [0, 6]}}, "sun": {"illuminance_lux": [0.0, 200.0]},
             "world": OVERCAST, "environment": {"table": {"outdoors": 1.0}}},
    "snow": {"weather": {"snow": {"rate_mm_h": {"loguniform": [0.5, 5.0]}}}, "sun": {"illuminance_lux": [0.0, 200.0]},
             "world": OVERCAST, "environment": {"table": {"outdoors": 1.0}}},
    # Night by its light, in lux at the objects whatever the scene's scale: moonlight 0.05-0.3 lx, a sky glow
    # of about 0.1-1 lx (the night HDRI gives 341 lx at strength 1), lamps and headlights of lit streets
    # 5-30 lx each at the objects; exposed by a camera that can lift 4-6 stops and shows the gain as noise.
    "night": {"sun": {"illuminance_lux": {"loguniform": [0.05, 0.3]}, "elevation_deg": [15, 60],
                      "color_temperature_k": [4100, 4500]},
              "world": {"type": "hdri", "hdri": "night", "strength": {"loguniform": [0.0003, 0.003]}},
              "lights": {"count": [1, 3], "type": {"choice": ["point", "spot"]}, "camera_spots": [0, 2],
                         "illuminance_lux": {"loguniform": [5, 30]}, "color_temperature_k": [2200, 4000],
                         "relative_distance": [0.3, 0.8], "elevation_deg": [35, 75]},
              "camera": {"auto_exposure": {}, "bloom": [0.02, 0.08]}},
    "dusk": {"sun": {"elevation_deg": [-2, 4], "strength": [0.2, 1.5], "color_temperature_k": [1900, 2600]},
             "world": {"type": "sky", "strength": [0.05, 0.4]}},
    "golden_hour": {"sun": {"elevation_deg": [4, 15], "strength": [1.0, 4.0], "color_temperature_k": [2500, 3500]},
                    "world": {"type": "sky", "strength": [0.3, 1.0]}},
    "glare": {"sun": {"facing_camera": True, "azimuth_deg": [-15, 15], "elevation_deg": [3, 20],
                      "strength": [4.0, 10.0], "angle_deg": [0.5, 2.0]},
              "world": {"type": "sky", "strength": [0.5, 1.5]}},
    "overexposed": {"camera": {"exposure_ev": [1.5, 3.0]}},
    "underexposed": {"camera": {"exposure_ev": [-4.0, -2.0]}},
    "heavy_occlusion": {"distractors": {"count": [3, 6], "near_camera": 1.0, "scale": [0.03, 0.1],
                                        "target_visibility": [0.2, 0.7]}},
    "truncation": {"camera": {"truncate_share": [0.2, 0.6], "min_in_view": 0.0}},  # a share cut, at any scale
    "tiny_objects": {"camera": {"max_object_pixels": [10.0, 36.0]}},  # COCO small at any scale, any pose sampler
    "motion_blur": {"camera": {"motion_blur": {"p": 1.0}}},
    "crowded": {"placement": {"count_multiplier": [2.5, 4.0], "on_failure": "drop"},
                "distractors": {"count": [8, 20], "near_camera": 0.1}},
    "unusual_pose": {"placement": {"rotation": "free"}},
    "tiny_objects_px": {"camera": {"orbit": {"object_pixels": [6, 16]}}},
}
for _name, _override in BUILTIN_CONDITIONS.items():
    CONDITIONS.register(_name, _override)  # plug-ins add theirs the same way (entry points: simgen.conditions)


# The order conditions merge in when a frame carries several, whatever order the scenario lists them in:
# cloud (rain, snow) after the times of day, since it hides their sun and sky; night last, since its
# light (moon, sky glow, lamps) must win over the absolute sun and sky of all of them.
MERGE_RANK = {"rain": 1, "snow": 1, "night": 2}  # every other condition: 0

DISTRIBUTION_KEYS = set(NAMED)  # a dict with one of these keys is a value, not a section


def merge(base: Any, override: Any) -> Any:
    """Deep merge of YAML-shaped data: sections merge key by key; values, distributions and None replace."""
    is_distribution = isinstance(override, dict) and DISTRIBUTION_KEYS & set(override)
    if isinstance(base, dict) and isinstance(override, dict) and not is_distribution:
        result = copy.deepcopy(base)
        for key, value in override.items():
            result[key] = merge(result.get(key), value)
        return result
    return copy.deepcopy(override)


def override_for(name: str, target: Any) -> dict[str, Any]:
    own = getattr(target, "override", None)
    return own if own is not None else (CONDITIONS.get(name) if name in CONDITIONS else {})


def condition_fractions(scenario: Any) -> dict[str, float]:
    """Every condition's target as a fraction of the scenario's frames."""
    return {name: fraction_of(target, scenario.frames) for name, target in scenario.conditions.items()}


def fraction_of(target: Any, frames: int) -> float:
    """Targets as fractions; an exact count is a fraction of the run's frame count."""
    if isinstance(target, (int, float)):
        return float(target)
    if target.count is not None:
        return min(target.count / max(frames, 1), 1.0)
    return float(target.fraction)


def _phase(seed: int, name: str) -> float:
    return (zlib.crc32(f"{seed}:{name}".encode()) & 0xFFFFFF) / float(0x1000000)


def has_condition(index: int, fraction: float, seed: int, name: str) -> bool:
    phase = _phase(seed, name)
    return math.floor((index + 1) * fraction + phase) > math.floor(index * fraction + phase)


def conditions_of(index: int, targets: dict[str, float], seed: int) -> tuple[str, ...]:
    """The conditions frame ``index`` carries, in the scenario's order."""
    return tuple(name for name, fraction in targets.items() if has_condition(index, fraction, seed, name))


def variant(scenario: Any, names: tuple[str, ...]) -> Any:
    """The scenario as frames carrying ``names`` see it: each condition's override merged in, in order."""
    from pydantic import ValidationError

    from simgen.config.scenario import Scenario
    from simgen.errors import ScenarioError

    data = scenario.model_dump(mode="json")
    names = tuple(sorted(names, key=lambda name: MERGE_RANK.get(name, 0)))
    for name in names:
        data = merge(data, override_for(name, scenario.conditions[name]))
    data["conditions"] = {}
    try:
        result = Scenario.model_validate(data)
    except ValidationError as exc:
        from simgen.config.loader import data_path, dotted, locate

        problem = exc.errors(include_url=False)[0]
        field = dotted(data_path(data, problem["loc"])) if problem["loc"] else "the scenario"
        together = f" (together with {', '.join(names[:-1])})" if len(names) > 1 else ""
        raise ScenarioError(f"{locate(scenario, 'conditions', names[-1])}: the condition's settings{together} make "
                            f"{field} invalid: {problem['msg'].removeprefix('Value error, ')}") from None
    result._source = scenario.source
    return result
