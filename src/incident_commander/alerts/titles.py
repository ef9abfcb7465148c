"""The title of an incident an alert opens: its name and its summary, each said once."""

from __future__ import annotations

__all__ = ["MAX_TITLE", "incident_title"]

MAX_TITLE = 500


def _plain(text: str) -> str:
    return " ".join(text.split())


def incident_title(alertname: str, summary: str) -> str:
    """``"alertname: summary"``, without saying the same thing twice.

    The name alone when the summary is empty or repeats it (letter case and spacing aside),
    the summary alone when it is empty of a name or already begins with it. At most
    ``MAX_TITLE`` characters.
    """
    name, text = _plain(alertname), _plain(summary)
    if not text or text.casefold() == name.casefold():
        title = name
    elif not name or text.casefold().startswith(name.casefold()):
        title = text
    else:
        title = f"{name}: {text}"
    return title[:MAX_TITLE]
