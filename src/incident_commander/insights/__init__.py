"""Learning across incidents: metrics, similar past incidents, alert tuning over the history.

Everything here only reads the store (and the evidence folder's feedback files); it never
changes an incident, and it sits below the protocol, so the report can show similar incidents.
"""

from __future__ import annotations
