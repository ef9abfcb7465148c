"""The protocol as data: lifecycle states, severity, planning, gates and the engine."""
