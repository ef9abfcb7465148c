"""The Jinja2 environment of the Markdown reports (``reports/templates``): one for all of them."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined

from incident_commander.clock import isoformat

__all__ = ["MARKDOWN_TEMPLATES"]

MARKDOWN_TEMPLATES = Environment(
    loader=PackageLoader("incident_commander.reports", "templates"),
    undefined=StrictUndefined,
    autoescape=False,  # noqa: S701 - Markdown, not HTML
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
MARKDOWN_TEMPLATES.filters["iso"] = isoformat
