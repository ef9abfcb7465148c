"""Incident Commander: the incident-response-and-rollback protocol, end to end.

The package imports lazily so that small entry points (the demo service) start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from incident_commander.errors import (
    ApprovalNotPending,
    ConfigError,
    EvidenceError,
    ExecutionRefused,
    ICError,
    IncidentNotFound,
    InvalidInput,
    ListenError,
    StoreError,
    TransitionRejected,
)

if TYPE_CHECKING:
    from incident_commander.app import Commander

__version__ = "0.1.0"

__all__ = [
    "ApprovalNotPending",
    "Commander",
    "ConfigError",
    "EvidenceError",
    "ExecutionRefused",
    "ICError",
    "IncidentNotFound",
    "InvalidInput",
    "ListenError",
    "StoreError",
    "TransitionRejected",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name == "Commander":
        from incident_commander.app import Commander

        return Commander
    raise AttributeError(name)
