"""Errors a user can act on. The CLI prints them as one clear message and exits with status 2."""

from __future__ import annotations


class SimgenError(Exception):
    """A problem with the user's input or environment, explained in words (never a traceback)."""

    exit_code = 2


class ScenarioError(SimgenError):
    """A scenario or preset file that does not validate; the message names file, line and field."""


class AssetError(SimgenError):
    """An asset reference that resolves to nothing or cannot be loaded; ``key`` names the asset when known."""

    key: str | None = None


class DeviceError(SimgenError):
    """A render device that was asked for but is not available."""


class OutputError(SimgenError):
    """An output folder that cannot be used as asked (holds another dataset, not writable, disk full)."""


class DiskFullError(OutputError):
    """The output's disk is full: the run stops, keeps what finished and leaves a valid dataset."""


class PlacementError(SimgenError):
    """Objects that cannot be placed as the scenario demands."""


class DatasetError(OutputError):
    """A dataset's own files (annotations.json, frames.jsonl, predictions) that are malformed or point outside it."""


class Interrupted(SimgenError):
    """The run was asked to stop (Ctrl-C, SIGTERM); what finished is kept and the dataset left valid."""

    def __init__(self, message: str, signal_number: int):
        super().__init__(message)
        self.exit_code = 128 + signal_number
