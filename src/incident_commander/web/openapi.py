"""The OpenAPI document: every ``$ref`` resolvable, every refusal documented."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from incident_commander.web.guard import DESCRIPTIONS, Problem

__all__ = ["WEBHOOK_RESPONSES", "hoist_definitions", "install_openapi"]

WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": DESCRIPTIONS[status]}
    for status in (400, 401, 413, 415, 422)
}

_LOCAL = "#/$defs/"
_SHARED = "#/components/schemas/"


def _rewrite(node: Any, names: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_LOCAL):
                out[key] = _SHARED + names.get(value[len(_LOCAL) :], value[len(_LOCAL) :])
            else:
                out[key] = _rewrite(value, names)
        return out
    if isinstance(node, list):
        return [_rewrite(item, names) for item in node]
    return node


def _hoist(node: Any, shared: dict[str, Any]) -> Any:
    """``node`` without its ``$defs``, which move to ``shared`` under names free there."""
    if isinstance(node, list):
        return [_hoist(item, shared) for item in node]
    if not isinstance(node, dict):
        return node
    local = node.get("$defs")
    names: dict[str, str] = {}
    if isinstance(local, dict):
        for name, schema in local.items():
            chosen, n = name, 1
            while chosen in shared and shared[chosen] != schema:
                n += 1
                chosen = f"{name}{n}"
            names[name] = chosen
        for name, schema in local.items():
            shared[names[name]] = _hoist(_rewrite(schema, names), shared)
        node = _rewrite({k: v for k, v in node.items() if k != "$defs"}, names)
    return {key: _hoist(value, shared) for key, value in node.items()}


def hoist_definitions(spec: dict[str, Any]) -> dict[str, Any]:
    """Move the ``$defs`` of schemas embedded in operations (a model's own JSON schema, whose
    ``#/$defs/...`` references do not resolve inside an OpenAPI document) to
    ``components/schemas`` and point their references there."""
    components = spec.setdefault("components", {})
    shared = components.setdefault("schemas", {})
    spec["paths"] = _hoist(spec.get("paths", {}), shared)
    return spec


def install_openapi(app: FastAPI) -> None:
    """Serve the generated document with its embedded definitions hoisted."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = hoist_definitions(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
