"""Fuzzing the scenario loader: any file either loads into a Scenario whose frames sample, or is refused
with one ScenarioError (file:line: field). No other exception, no hang, whatever the input.

The inputs are the shipped scenarios with random values swapped in at random places (NaN, inf,
huge and negative numbers, wrong types, junk keys, deleted keys), plus raw byte soup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simgen.config import load_scenario
from simgen.errors import SimgenError
from simgen.run.batch import resolve_assets
from simgen.sampling.frame_spec import AssetBounds
from simgen.sampling.sampler import FrameSampler

ROOT = Path(__file__).resolve().parents[1]
BASES = {name: yaml.safe_load((ROOT / "scenes" / name).read_text())
         for name in ("quickstart.yaml", "domain_randomization.yaml", "edge_cases.yaml")}
UNIT = AssetBounds((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5))

scalars = st.one_of(
    st.integers(-3, 60), st.floats(-400, 400), st.tuples(st.floats(-5, 50), st.floats(-5, 50)).map(sorted).map(list),
    st.none(), st.booleans(), st.integers(-10**15, 10**15), st.sampled_from([0, 1, -1, 2**63, 10**308]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["", "x", "primitive:cube", "[1, 2]", "nan"]),
    st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(["uniform", "choice", "p", "x", "count"]), inner,
                                                 max_size=3)), max_leaves=8)


def paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a nested document a value can be put."""
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths(value, prefix + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += paths(value, prefix + (index,))
    return found


def mutate(data: Any, path: tuple, value: Any, action: str) -> Any:
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    if action == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif action == "add_key" and isinstance(parent, dict):
        parent[f"junk_{path[-1]}"] = value
    else:
        parent[path[-1]] = value
    return data


numbers = st.one_of(st.sampled_from([0, 1e-9, 1e-4, 0.5, 1, 89.9, 90, 179.9, 1e5, 999_999, -1e-9, -90]),
                    st.floats(-1e3, 1e3), st.integers(0, 40))


def number_paths(data: Any) -> list[tuple]:
    """The places that hold a number: nudging these keeps most documents valid and reaches the sampler."""
    found = []
    for path in paths(data):
        value = data
        for key in path:
            value = value[key]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            found.append(path)
    return found


@st.composite
def documents(draw) -> Any:
    import copy

    data = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()) and number_paths(data):
            data = mutate(data, draw(st.sampled_from(number_paths(data))), draw(numbers), "replace")
            continue
        where = paths(data)
        if not where:
            break
        data = mutate(data, draw(st.sampled_from(where)), draw(values),
                      draw(st.sampled_from(["replace", "replace", "delete", "add_key"])))
    return data


def load_and_sample(path: Path) -> None:
    try:
        scenario = load_scenario(path)
        assets = resolve_assets(scenario)
        sampler = FrameSampler(scenario, assets, {ref.key: UNIT for ref in assets.all()}, (96, 72))
        for index in range(2):
            sampler.sample(index)
    except SimgenError:
        pass  # refused with a message: what a bad input should get


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(documents())
def test_mutated_scenarios_load_or_are_refused(tmp_path_factory, document) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "scenario.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    load_and_sample(path)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_byte_soup_is_refused(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("soup") / "scenario.yaml"
    path.write_bytes(data)
    with pytest.raises(SimgenError):
        load_scenario(path)
