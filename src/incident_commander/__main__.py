"""``python -m incident_commander``: the same ``ic``, for when its script is not on PATH."""

from incident_commander.cli.main import run

run()
