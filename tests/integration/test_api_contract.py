"""Schemathesis against a real `ic serve`: /api answers only what /openapi.json documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.server import Server
from tests.workspace import Workspace

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Per operation and mode: 22 operations x 2 modes stay well under half a minute.
EXAMPLES = 12


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def test_every_reference_in_the_document_resolves(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, f"sqlite:///{tmp_path / 'ic.db'}")
    ws.configure()
    server = Server(tmp_path, ws.env, "--no-probes")
    try:
        spec = server.client.get("/openapi.json").json()
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    finally:
        server.stop()
    known = {f"#/components/schemas/{name}" for name in spec["components"]["schemas"]}
    found = set(_references(spec))
    assert "#/components/schemas/AlertmanagerAlert" in found
    assert found <= known, sorted(found - known)
    assert "$defs" not in json.dumps(spec)
    assert [str(w) for w in schema.iter_schema_warnings()] == []


def test_the_api_answers_as_its_schema_says(server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json").include(
        path_regex="^/api/"
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 22
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def exercise(case: schemathesis.Case) -> None:
                case.call_and_validate(checks=CHECKS)

            try:
                exercise()
            except (Exception, BaseExceptionGroup) as exc:  # every operation reported together
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert failures == [], f"{len(failures)} failures:\n" + "\n\n".join(failures)
