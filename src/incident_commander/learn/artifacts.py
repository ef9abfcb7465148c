"""``ic artifact validate``: a decision memo's front matter and required sections, checked.

A memo is Markdown that opens with a YAML front matter block between two ``---`` lines. The
check names every problem with the file, the key or section, and what was expected, so a person
(or CI) can fix them all in one pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "MEMO_TYPE",
    "REQUIRED_KEYS",
    "REQUIRED_SECTIONS",
    "STATUSES",
    "MemoFormatError",
    "MemoText",
    "Problem",
    "parse_memo",
    "validate_artifact",
]

MEMO_TYPE = "decision-memo"
STATUSES = ("draft", "review", "final")
REQUIRED_KEYS = ("id", "type", "status", "depends_on", "created", "updated", "severity")
REQUIRED_SECTIONS = (
    "Context",
    "Decision",
    "Options considered",
    "Consequences",
    "Timeline",
    "Root cause",
    "Action items",
    "Evidence",
)
MAX_BYTES = 2 * 1024 * 1024
_ID = re.compile(r"^INC-[A-Za-z0-9][A-Za-z0-9-]{0,60}$")
_HEADING = re.compile(r"^## +(.+?)\s*$", re.M)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file: where (a key or section) and what was expected."""

    path: str
    where: str
    expected: str

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: {self.expected}"


@dataclass(frozen=True)
class MemoText:
    """A memo split into its front matter (parsed) and its Markdown body."""

    front: dict[str, Any]
    body: str


class MemoFormatError(Exception):
    """The file has no readable front matter: where, and what was expected."""

    def __init__(self, where: str, expected: str) -> None:
        super().__init__(expected)
        self.where = where
        self.expected = expected


def parse_memo(text: str) -> MemoText:
    """Split ``text`` at its front matter; raise ``MemoFormatError`` saying what is wrong."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise MemoFormatError("front matter", "missing: the file must open with a '---' line")
    try:
        end = next(n for n, line in enumerate(lines[1:], 1) if line.strip() == "---")
    except StopIteration:
        raise MemoFormatError("front matter", "not closed: expected a second '---' line") from None
    try:
        front = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 2}" if mark else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise MemoFormatError("front matter", f"not valid YAML{at}: {problem}") from None
    if not isinstance(front, dict):
        raise MemoFormatError(
            "front matter", f"expected a mapping of keys, got {type(front).__name__}"
        )
    return MemoText(front=front, body="\n".join(lines[end + 1 :]))


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _front_problems(front: dict[str, Any], stem: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for key in REQUIRED_KEYS:
        if key not in front:
            found.append((f"front matter: {key}", "missing"))
    memo_id = front.get("id")
    if "id" in front:
        if not isinstance(memo_id, str) or not _ID.match(memo_id):
            found.append(
                (
                    "front matter: id",
                    f"expected an incident id like INC-20260101-0001 (got {memo_id!r})",
                )
            )
        elif memo_id != stem:
            found.append(
                ("front matter: id", f"expected {stem!r}, the file's name (got {memo_id!r})")
            )
    if "type" in front and front["type"] != MEMO_TYPE:
        found.append(("front matter: type", f"expected {MEMO_TYPE!r} (got {front['type']!r})"))
    if "status" in front and front["status"] not in STATUSES:
        found.append(
            (
                "front matter: status",
                f"expected one of {', '.join(STATUSES)} (got {front['status']!r})",
            )
        )
    depends = front.get("depends_on")
    if "depends_on" in front and not (
        isinstance(depends, list) and all(isinstance(d, str) and d.strip() for d in depends)
    ):
        found.append(
            (
                "front matter: depends_on",
                f"expected a list of artifact ids or paths (got {depends!r})",
            )
        )
    dates = {}
    for key in ("created", "updated"):
        if key in front:
            dates[key] = _date(front[key])
            if dates[key] is None:
                found.append(
                    (f"front matter: {key}", f"expected a date YYYY-MM-DD (got {front[key]!r})")
                )
    created, updated = dates.get("created"), dates.get("updated")
    if created and updated and updated < created:
        found.append(("front matter: updated", f"expected on or after created ({created})"))
    severity = front.get("severity")
    if "severity" in front and not (isinstance(severity, str) and severity.strip()):
        found.append(("front matter: severity", f"expected a severity level (got {severity!r})"))
    return found


def _section_problems(body: str) -> list[tuple[str, str]]:
    headings = list(_HEADING.finditer(body))
    bodies: dict[str, str] = {}
    for n, match in enumerate(headings):
        end = headings[n + 1].start() if n + 1 < len(headings) else len(body)
        bodies.setdefault(match.group(1), body[match.end() : end])
    found = []
    for name in REQUIRED_SECTIONS:
        if name not in bodies:
            found.append((f"section '## {name}'", "missing"))
        elif not bodies[name].strip():
            found.append((f"section '## {name}'", "empty: expected its content"))
    return found


def validate_artifact(path: Path) -> list[Problem]:
    """Every problem of one memo file; an empty list when it is valid."""
    shown = str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        return [Problem(shown, "file", f"cannot be read: {exc.strerror or exc}")]
    if len(raw) > MAX_BYTES:
        return [Problem(shown, "file", f"expected at most {MAX_BYTES // 1024 // 1024} MiB")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [Problem(shown, "file", f"expected UTF-8 (byte {exc.start} is not)")]
    try:
        memo = parse_memo(text.replace("\r\n", "\n"))
    except MemoFormatError as exc:
        return [Problem(shown, exc.where, exc.expected)]
    problems = _front_problems(memo.front, path.stem) + _section_problems(memo.body)
    return [Problem(shown, where, expected) for where, expected in problems]
