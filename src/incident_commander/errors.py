"""One exception tree for the whole tool.

Every error a user can cause derives from :class:`ICError` and carries the exit code the CLI
returns for it (the web door maps the same classes to HTTP statuses)::

    ICError (exit 1)
    ├── ConfigError (exit 2)            ic.yaml missing, unreadable or invalid
    ├── IncidentNotFound (exit 3)       no incident with that id
    ├── InvalidInput (exit 2)           an argument or answer that makes no sense
    ├── ApprovalNotPending (exit 4)     answering a prompt nobody asked
    ├── TransitionRejected (exit 4)     the lifecycle does not allow the move now
    │   └── ExecutionRefused (exit 4)   nothing runs without severity + approval
    ├── StoreError (exit 5)             the database cannot be reached or migrated
    ├── EvidenceError (exit 6)          the evidence folder does not verify
    └── ListenError (exit 7)            ``ic serve`` cannot listen on the address and port

Two exit codes are not errors of this tree: 8, ``ic run`` stopped for a person's answer, and
70, an internal error (a bug): one line naming it, never a traceback, and the store and
evidence unchanged beyond the last completed step.
"""

from __future__ import annotations

__all__ = [
    "ApprovalNotPending",
    "ConfigError",
    "EvidenceError",
    "ExecutionRefused",
    "ICError",
    "IncidentNotFound",
    "InvalidInput",
    "ListenError",
    "StoreError",
    "TransitionRejected",
]


class ICError(Exception):
    """Base of every error Incident Commander reports to its user."""

    exit_code = 1
    http_status = 400

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(ICError):
    """The configuration is missing, unreadable or invalid."""

    exit_code = 2
    http_status = 500


class InvalidInput(ICError):
    """An argument or answer that cannot be used."""

    exit_code = 2
    http_status = 422


class IncidentNotFound(ICError):
    """No incident has the given id."""

    exit_code = 3
    http_status = 404


class ApprovalNotPending(ICError):
    """An answer was given to an approval that is not waiting for one."""

    exit_code = 4
    http_status = 409


class TransitionRejected(ICError):
    """The lifecycle does not allow this step now."""

    exit_code = 4
    http_status = 409


class ExecutionRefused(TransitionRejected):
    """A mitigation was asked to run without confirmed severity or recorded approval."""


class StoreError(ICError):
    """The database cannot be reached or brought up to date."""

    exit_code = 5
    http_status = 503


class EvidenceError(ICError):
    """The evidence folder does not match what was recorded."""

    exit_code = 6
    http_status = 409


class ListenError(ICError):
    """The server cannot listen where it was asked to (the port is taken, or not ours)."""

    exit_code = 7
    http_status = 500
