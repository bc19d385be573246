"""Scenario and preset loading: YAML in, validated models out, errors with file and line."""

from simgen.config.loader import load_preset, load_scenario
from simgen.config.preset import RenderPreset
from simgen.config.scenario import Scenario

__all__ = ["Scenario", "RenderPreset", "load_scenario", "load_preset"]
