"""The distribution syntax: constants, ranges, named distributions, and their errors."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic_core import PydanticCustomError

from simgen.config.distributions import parse_distribution


def draws(value, n=2000, **kw):
    dist = parse_distribution(value, **kw)
    rng = np.random.default_rng(0)
    return [dist.sample(rng) for _ in range(n)]


def test_constant_is_exact():
    assert set(draws(0.25, n=10)) == {0.25}
    assert set(draws("studio", n=10, numeric=False)) == {"studio"}


def test_uniform_range_stays_inside():
    values = np.array(draws([2.0, 3.0]))
    assert values.min() >= 2.0 and values.max() <= 3.0 and 2.4 < values.mean() < 2.6


def test_integer_range_is_inclusive_at_both_ends():
    assert set(draws([1, 3], integer=True)) == {1, 2, 3}


def test_loguniform_median_is_geometric_mean():
    assert 0.9 < np.median(draws({"loguniform": [0.1, 10.0]})) < 1.1


def test_normal_with_clip():
    values = np.array(draws({"normal": [0, 1], "clip": [-1, 1]}))
    assert values.min() >= -1 and values.max() <= 1 and abs(values.mean()) < 0.1


def test_weighted_choice_follows_weights():
    values = draws({"choice": ["a", "b"], "weights": [3, 1]}, n=4000, numeric=False)
    assert 0.7 < values.count("a") / len(values) < 0.8


@pytest.mark.parametrize("value, message", [
    ([3, 1], "inverted range"),
    ([1, 2, 3], "two numbers"),
    ({"gauss": [0, 1]}, "exactly one of"),
    ({"uniform": [0, 1], "weights": [1]}, "weights only go with choice"),
    ({"loguniform": [0, 1]}, "positive bounds"),
    ({"normal": [0, -1]}, "std >= 0"),
    ({"choice": []}, "non-empty list"),
    ({"choice": [1, 2], "weights": [1]}, "weights must be 2"),
    ("abc", "expected a number"),
])
def test_bad_distributions_explain_themselves(value, message):
    with pytest.raises(PydanticCustomError, match=message):
        parse_distribution(value)


def test_fractional_count_is_refused():
    with pytest.raises(PydanticCustomError, match="whole number"):
        parse_distribution(1.5, integer=True)
