"""The one distribution syntax used wherever a scenario samples a value.

A value may be written as
  * a constant:            ``0.5``  or ``"studio"``
  * a uniform range:       ``[low, high]``
  * a named distribution:  ``{uniform: [a, b]}``, ``{loguniform: [a, b]}``,
                           ``{normal: [mean, std]}`` (optional ``clip: [lo, hi]``),
                           ``{choice: [v1, v2, ...]}`` (optional ``weights: [...]``).

Keeping a single syntax everywhere keeps the schema small and lets a user pin any
value to a constant to reproduce an exact scene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

from simgen.config.limits import MAX_VALUE

NAMED = ("uniform", "loguniform", "normal", "choice")


@dataclass(frozen=True)
class Distribution:
    """A parsed distribution. ``kind`` is constant/uniform/loguniform/normal/choice."""

    kind: str
    params: tuple[Any, ...]
    weights: tuple[float, ...] | None = None
    clip: tuple[float, float] | None = None
    integer: bool = False

    def sample(self, rng: np.random.Generator) -> Any:
        """Draw one value. Every kind consumes exactly one draw so stages stay aligned."""
        u = rng.random()
        if self.kind == "constant":
            return self.params[0]
        if self.kind == "uniform":
            low, high = self.params
            if self.integer:
                return int(min(high, math.floor(low + u * (high - low + 1))))
            return float(low + u * (high - low))
        if self.kind == "loguniform":
            low, high = self.params
            return float(math.exp(math.log(low) + u * (math.log(high) - math.log(low))))
        if self.kind == "normal":
            mean, std = self.params
            value = mean + std * _normal_ppf(u)
            if self.clip is not None:
                value = min(max(value, self.clip[0]), self.clip[1])
            return int(round(value)) if self.integer else float(value)
        if self.kind == "choice":
            cumulative = np.cumsum(self.weights if self.weights else [1.0] * len(self.params))
            index = int(np.searchsorted(cumulative / cumulative[-1], u, side="right"))
            return self.params[min(index, len(self.params) - 1)]
        raise AssertionError(self.kind)

    @property
    def bounds(self) -> tuple[float, float] | None:
        """Smallest and largest value it can produce (None when unbounded or not numeric)."""
        if self.kind == "constant" and _is_number(self.params[0]):
            return (self.params[0], self.params[0])
        if self.kind in ("uniform", "loguniform"):
            return (self.params[0], self.params[1])
        if self.kind == "normal":
            return self.clip
        if self.kind == "choice" and all(_is_number(p) for p in self.params):
            return (min(self.params), max(self.params))
        return None

    def to_yaml(self) -> Any:
        """The value as a user would write it (used in the resolved scenario of the manifest)."""
        if self.kind == "constant":
            return self.params[0]
        out: dict[str, Any] = {self.kind: list(self.params)}
        if self.weights:
            out["weights"] = list(self.weights)
        if self.clip:
            out["clip"] = list(self.clip)
        return out


def _normal_ppf(u: float) -> float:
    """Inverse normal CDF (Acklam's rational approximation; |error| < 1.2e-9)."""
    u = min(max(u, 1e-12), 1 - 1e-12)
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549671010318400e00, 4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    if u < 0.02425:
        q = math.sqrt(-2 * math.log(u))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    if u > 1 - 0.02425:
        return -_normal_ppf(1 - u)
    q = u - 0.5
    r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (
        ((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fail(message: str, **ctx: Any) -> PydanticCustomError:
    """Pydantic fills ``{name}`` templates with str(); the offending value reads better as repr()."""
    if "got" in ctx:
        ctx["got"] = repr(ctx["got"])
    return PydanticCustomError("distribution", message, ctx)


def _bounded(value: Any) -> Any:
    """Numbers in a scenario are finite and of a size a scene can have (NaN, inf, 1e308 are typos)."""
    if _is_number(value) and not (math.isfinite(value) and abs(value) <= MAX_VALUE):
        raise _fail("expected a finite number of magnitude at most {limit}, got {got}", limit=f"{MAX_VALUE:g}",
                    got=value)
    return value


def _pair(value: Any, what: str, integer: bool, ordered: bool = True) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(_is_number(v) for v in value):
        raise _fail("{what} takes two numbers [low, high], got {got}", what=what, got=value)
    for v in value:
        _bounded(v)
    low, high = value
    if integer and not all(float(v).is_integer() for v in value):
        raise _fail("{what} of a count takes whole numbers, got {got}", what=what, got=list(value))
    if ordered and low > high:
        raise _fail("inverted range [{low}, {high}]: low must not exceed high", low=low, high=high)
    return (int(low), int(high)) if integer else (float(low), float(high))


def parse_distribution(value: Any, *, integer: bool = False, numeric: bool = True) -> Distribution:
    """Turn YAML into a Distribution, with messages that say what was expected."""
    if isinstance(value, Distribution):
        return value
    if _is_number(value) or (not numeric and isinstance(value, str)):
        _bounded(value)
        if integer and not float(value).is_integer():
            raise _fail("expected a whole number, got {got}", got=value)
        return Distribution("constant", (int(value) if integer else value,), integer=integer)
    if isinstance(value, (list, tuple)) and numeric:
        return Distribution("uniform", _pair(value, "a range", integer), integer=integer)
    if isinstance(value, dict):
        names = [k for k in value if k in NAMED]
        extras = [k for k in value if k not in NAMED + ("weights", "clip")]
        if len(names) != 1 or extras:
            raise _fail(
                "a distribution is a mapping with exactly one of uniform, loguniform, normal, choice "
                "(plus optional weights/clip); got keys {keys}", keys=sorted(value))
        name = names[0]
        if name != "choice" and "weights" in value:
            raise _fail("weights only go with choice")
        if name != "normal" and "clip" in value:
            raise _fail("clip only goes with normal")
        if name == "choice":
            options = value["choice"]
            if not isinstance(options, list) or not options:
                raise _fail("choice takes a non-empty list of options, got {got}", got=options)
            if numeric and not all(_is_number(o) for o in options):
                raise _fail("choice here takes numbers, got {got}", got=options)
            for option in options:
                _bounded(option)
            weights = value.get("weights")
            if weights is not None:
                if (not isinstance(weights, list) or len(weights) != len(options)
                        or not all(_is_number(w) and math.isfinite(w) and w >= 0 for w in weights)
                        or not 0 < sum(weights) < math.inf):
                    raise _fail("weights must be {n} non-negative numbers with a positive sum, got {got}",
                                n=len(options), got=weights)
                weights = tuple(float(w) for w in weights)
            if integer and not all(float(o).is_integer() for o in options):
                raise _fail("choice of a count takes whole numbers, got {got}", got=options)
            return Distribution("choice", tuple(options), weights=weights, integer=integer)
        if not numeric:
            raise _fail("only a constant or {{choice: [...]}} fits here, got {name}", name=name)
        params = _pair(value[name], name, integer and name == "uniform", ordered=name != "normal")
        if name == "loguniform" and params[0] <= 0:
            raise _fail("loguniform needs positive bounds, got {got}", got=list(params))
        if name == "normal" and params[1] < 0:
            raise _fail("normal takes [mean, std] with std >= 0, got {got}", got=list(params))
        clip = _pair(value["clip"], "clip", False) if "clip" in value else None
        return Distribution(name, params, clip=clip, integer=integer)
    expected = "a number, [low, high]" if numeric else "a value"
    raise _fail(f"expected {expected} or {{uniform|loguniform|normal|choice: ...}}, got {{got}}", got=value)


def _json_schema(numeric: bool) -> dict[str, Any]:
    pair = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
    scalar = {"type": "number"} if numeric else {"type": ["string", "number", "boolean"]}
    named = [
        {"type": "object", "properties": {"uniform": pair}, "required": ["uniform"], "additionalProperties": False},
        {"type": "object", "properties": {"loguniform": pair}, "required": ["loguniform"],
         "additionalProperties": False},
        {"type": "object", "properties": {"normal": pair, "clip": pair}, "required": ["normal"],
         "additionalProperties": False},
    ] if numeric else []
    choice = {"type": "object", "properties": {"choice": {"type": "array", "items": scalar, "minItems": 1},
                                                "weights": {"type": "array", "items": {"type": "number"}}},
              "required": ["choice"], "additionalProperties": False}
    return {"anyOf": [scalar] + ([pair] if numeric else []) + named + [choice],
            "description": "constant, [low, high], or {uniform|loguniform|normal|choice: ...}"}


class _DistributionType:
    """Pydantic glue: validates with parse_distribution and exports a JSON schema."""

    integer = False
    numeric = True

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            lambda v: parse_distribution(v, integer=cls.integer, numeric=cls.numeric),
            serialization=core_schema.plain_serializer_function_ser_schema(lambda d: d.to_yaml()),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return _json_schema(cls.numeric)


class FloatDist(_DistributionType):
    """A sampled real number."""


class IntDist(_DistributionType):
    """A sampled whole number (``[a, b]`` is inclusive at both ends)."""

    integer = True


class ChoiceDist(_DistributionType):
    """A sampled categorical value: a constant or ``{choice: [...]}``."""

    numeric = False


def constant(value: Any) -> Distribution:
    """Shorthands for schema defaults, read like the YAML a user would write."""
    return Distribution("constant", (value,))


def uniform(low: float, high: float) -> Distribution:
    return Distribution("uniform", (low, high))


def loguniform(low: float, high: float) -> Distribution:
    return Distribution("loguniform", (low, high))


def non_negative(dist: Distribution, what: str = "value") -> Distribution:
    """Reject distributions that can produce negative numbers (counts, sizes, strengths)."""
    bounds = dist.bounds
    if dist.kind == "normal" and bounds is None:
        raise _fail("a normal {what} needs clip: [lo, hi] with lo >= 0", what=what)
    if bounds is not None and bounds[0] < 0:
        raise _fail("{what} must not be negative, got {got}", what=what, got=dist.to_yaml())
    return dist


def within(dist: Distribution, low: float, high: float, what: str = "value", open_low: bool = False,
           open_high: bool = False) -> Distribution:
    """Reject distributions that can leave [low, high] (or the open ends asked for): a field of view of
    180 degrees or more, a focal length of a kilometre."""
    bounds = dist.bounds
    if dist.kind == "normal" and bounds is None:
        raise _fail("a normal {what} needs clip: [lo, hi] within {low}..{high}", what=what, low=f"{low:g}",
                    high=f"{high:g}")
    if bounds is not None and (bounds[0] < low or bounds[1] > high or (open_low and bounds[0] <= low)
                               or (open_high and bounds[1] >= high)):
        interval = f"{'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
        raise _fail("{what} must lie in {interval}, got {got}", what=what, interval=interval, got=dist.to_yaml())
    return dist


def positive(dist: Distribution, what: str = "value") -> Distribution:
    non_negative(dist, what)
    bounds = dist.bounds
    if bounds is not None and bounds[0] <= 0:
        raise _fail("{what} must be positive, got {got}", what=what, got=dist.to_yaml())
    return dist

