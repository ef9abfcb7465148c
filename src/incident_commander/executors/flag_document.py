"""Finding one value's text in a JSON or YAML document, so it can be changed in place.

A flag is turned off by replacing the few characters of its value and nothing else: comments,
key order, indentation, quoting and line endings stay byte for byte what they were. ``locate``
returns where a value's text starts and ends; ``replace_value`` swaps it and proves, by parsing
the result, that the document now differs in that value alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import yaml

__all__ = [
    "DocumentError",
    "Edit",
    "Span",
    "Syntax",
    "locate",
    "parse",
    "replace_value",
    "value_text",
]

Syntax = Literal["json", "yaml"]

_DECODER = json.JSONDecoder()
# YAML 1.1 booleans as PyYAML reads them, each with the word that says the opposite.
_YAML_FALSE = {"true": "false", "yes": "no", "on": "off"}


class DocumentError(ValueError):
    """The document does not parse, or the path does not lead to one plain value."""


@dataclass(frozen=True)
class Span:
    """A value found in a document: what it is and where its text lies (character offsets)."""

    value: Any
    start: int
    end: int
    style: str | None = None  # YAML only: the scalar's quoting ('"', "'", or None when plain)


def parse(text: str, syntax: Syntax) -> Any:
    """The whole document, as the consumer of the file would read it."""
    try:
        if syntax == "json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"not valid JSON: {exc}") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        raise DocumentError(f"not valid YAML: {getattr(exc, 'problem', exc)}{at}") from None


def _dotted(path: Sequence[str]) -> str:
    return ".".join(path) or "the document"


def _skip(text: str, pos: int) -> int:
    """The position of the first character at or after ``pos`` that is not white space."""
    while pos < len(text) and text[pos] in " \t\n\r":
        pos += 1
    return pos


def _json_members(text: str, pos: int, where: str) -> list[tuple[str, int, int, Any]]:
    """Each ``"key": value`` of the JSON object starting at ``pos``: key, value span, value."""
    if text[pos] != "{":
        raise DocumentError(f"{where} is not a map")
    members: list[tuple[str, int, int, Any]] = []
    pos = _skip(text, pos + 1)
    if text[pos] == "}":
        return members
    while True:
        key, pos = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
        pos = _skip(text, _skip(text, pos) + 1)  # past the ':'
        value, end = _DECODER.raw_decode(text, pos)
        members.append((str(key), pos, end, value))
        pos = _skip(text, end)
        if text[pos] == "}":
            return members
        pos = _skip(text, pos + 1)  # past the ','


def _one(found: list[Any], key: str, where: str) -> Any | None:
    if len(found) > 1:
        raise DocumentError(f"key {key!r} appears {len(found)} times in {where}")
    return found[0] if found else None


def _locate_json(text: str, path: Sequence[str]) -> Span | None:
    parse(text, "json")  # a clear message for a broken file; the walk below assumes valid JSON
    pos = _skip(text, 0)
    span: Span | None = None
    for depth, key in enumerate(path):
        where = _dotted(path[:depth])
        members = _json_members(text, pos, where)
        hit = _one([m for m in members if m[0] == key], key, where)
        if hit is None:
            return None
        _, pos, end, value = hit
        span = Span(value=value, start=pos, end=end)
    return span


def _locate_yaml(text: str, path: Sequence[str]) -> Span | None:
    data = parse(text, "yaml")
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    value = data
    for depth, key in enumerate(path):
        where = _dotted(path[:depth])
        if not isinstance(node, yaml.MappingNode) or not isinstance(value, dict):
            raise DocumentError(f"{where} is not a map")
        found = [v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key]
        node = _one(found, key, where)
        if node is None or key not in value:
            return None
        value = value[key]
    if not isinstance(node, yaml.ScalarNode):
        raise DocumentError(f"{_dotted(path)} is not a plain value")
    return Span(value=value, start=node.start_mark.index, end=node.end_mark.index, style=node.style)


def locate(text: str, syntax: Syntax, path: Sequence[str]) -> Span | None:
    """Where the value at ``path`` (keys of nested maps) is; ``None`` when a key is missing."""
    if not path:
        raise DocumentError("no key to look for")
    if syntax == "json":
        return _locate_json(text, path)
    return _locate_yaml(text, path)


def value_text(value: bool | str, syntax: Syntax, old: Span, old_text: str) -> str:
    """The text that writes ``value`` in the place of ``old``, in the style the file uses."""
    if syntax == "json":
        return json.dumps(value)
    if isinstance(value, bool):
        word = "true" if value else "false"
        lowered = old_text.lower()
        if not value and lowered in _YAML_FALSE:
            word = _YAML_FALSE[lowered]
        if old_text.isupper():
            return word.upper()
        return word.capitalize() if old_text[:1].isupper() else word
    if old.style == "'":
        return "'" + value.replace("'", "''") + "'"
    return json.dumps(value)  # a JSON string is a valid double-quoted YAML scalar


def _set(data: Any, path: Sequence[str], value: Any) -> Any:
    """A copy of ``data`` with the value at ``path`` replaced."""
    if not path:
        return value
    copied = dict(data)
    copied[path[0]] = _set(data[path[0]], path[1:], value)
    return copied


@dataclass(frozen=True)
class Edit:
    """A document with one value's text replaced: the new document, and the old and new text."""

    text: str
    old: str
    new: str


def replace_value(text: str, syntax: Syntax, path: Sequence[str], value: bool | str) -> Edit:
    """The document with the value at ``path`` set to ``value``, every other character kept.

    Refused (``DocumentError``) when the result would read differently anywhere else, as
    when the value is shared through a YAML anchor.
    """
    span = locate(text, syntax, path)
    if span is None:
        raise DocumentError(f"{_dotted(path)} is not in the document")
    new_text = value_text(value, syntax, span, text[span.start : span.end])
    changed = text[: span.start] + new_text + text[span.end :]
    expected = _set(parse(text, syntax), path, value)
    try:
        same = parse(changed, syntax) == expected
    except DocumentError:
        same = False
    if not same:
        raise DocumentError(
            f"changing {_dotted(path)} in place would change more than that value "
            "(is it shared through an anchor?)"
        )
    return Edit(text=changed, old=text[span.start : span.end], new=new_text)
