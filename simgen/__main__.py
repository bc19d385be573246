"""``python -m simgen``: the same as the ``simgen`` command."""

from simgen.cli import run

run()
