"""The base of every schema model: unknown keys refused with a suggestion, numbers finite and bounded."""

from __future__ import annotations

import difflib
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from pydantic_core import PydanticCustomError

from simgen.config.limits import MAX_VALUE


class StrictModel(BaseModel):
    """Base for every schema section: unknown keys are refused with a suggestion."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, populate_by_name=True,
                              allow_inf_nan=False)

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

    @field_validator("*")
    @classmethod
    def _sizes_a_scene_can_have(cls, value: Any) -> Any:
        """Plain numbers (and tuples of them) are finite and at most MAX_VALUE: 1e308 is a typo, not a size."""
        numbers = value if isinstance(value, (tuple, list)) else (value,)
        for number in numbers:
            if isinstance(number, float) and not (math.isfinite(number) and abs(number) <= MAX_VALUE):
                raise PydanticCustomError("too_large", "expected a finite number of magnitude at most {limit}, "
                                          "got {got}", {"limit": f"{MAX_VALUE:g}", "got": repr(number)})
        return value
