"""Channels through Apprise: Slack, Teams, Discord, e-mail, PagerDuty, Opsgenie, ntfy, plain JSON
or form webhooks and the rest of what Apprise supports, with no vendor code of ours.

The URL is a secret (it holds tokens and passwords): it comes from the environment (``$VAR`` or
``${VAR}`` in ``url``) or from a file (``url_file``), is checked by Apprise when the settings
load (without sending anything), and is shown only in Apprise's privacy form, with every
credential masked.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import Field, PrivateAttr, SecretStr, model_validator

from incident_commander.notify.base import Delivery, Message, Notifier, NotifierConfig

__all__ = ["AppriseNotifier", "check_url"]

_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)
MASK = "****"
_loading = threading.Lock()


def _apprise() -> ModuleType:
    """Apprise with its plugins loaded, imported on first use (it takes a moment, and only
    workspaces with Apprise channels need it). A plugin's own deprecation notices are muted."""
    with _loading, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise
        from apprise.plugins import N_MGR

        N_MGR.load_modules()  # type: ignore[no-untyped-call]
    return apprise


def _expand(value: str) -> tuple[str, list[str]]:
    """``value`` with ``$VAR``/``${VAR}`` filled from the environment, and the values used."""
    used: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        found = os.environ.get(name)
        if found is None:
            raise ValueError(f"environment variable {name} is not set")
        used.append(found)
        return found

    return _VARIABLE.sub(fill, value), used


def check_url(url: str) -> tuple[str, str | None]:
    """Ask Apprise whether it can use ``url``, sending nothing.

    Returns the URL as Apprise shows it with credentials masked (without its query), or the
    reason Apprise gave for refusing it (as the second item).
    """
    apprise = _apprise()
    capture = apprise.LogCapture(level=logging.WARNING, fmt="%(message)s")
    with capture as captured:
        service = apprise.Apprise.instantiate(url)
    if service is None:
        said = "; ".join(line for line in captured.getvalue().splitlines() if line.strip())
        return "", said or "Apprise does not know this URL"
    shown: str = service.url(privacy=True)
    return shown.split("?", 1)[0], None


class AppriseNotifier(Notifier):
    """Send through one Apprise URL."""

    slug = "apprise"
    title = "Apprise (chat, e-mail, paging and webhook services)"

    class Config(NotifierConfig):
        kind: str = "apprise"
        url: SecretStr | None = None
        url_file: str | None = None
        timeout_seconds: float = Field(default=10, gt=0, le=300)
        _resolved: str = PrivateAttr(default="")
        _shown: str = PrivateAttr(default="")
        _secrets: list[str] = PrivateAttr(default_factory=list)

        @model_validator(mode="after")
        def _one_source(self) -> AppriseNotifier.Config:
            if (self.url is None) == (self.url_file is None):
                raise ValueError(f"channel {self.name!r}: give either 'url' or 'url_file'")
            if self.url is not None and not self._resolved:
                self._settle(self.url.get_secret_value())
            return self

        def _settle(self, raw: str) -> None:
            try:
                url, used = _expand(raw.strip())
            except ValueError as exc:
                raise ValueError(f"channel {self.name!r}: {exc}") from None
            shown, refused = check_url(url)
            if refused is not None:
                raise ValueError(f"channel {self.name!r}: Apprise refused the URL: {refused}")
            self._resolved, self._shown = url, shown
            parts = [*(value for value in used if value != url), *_credentials(url)]
            self._secrets = [s for s in parts if len(s) >= 3]

        def prepared(self, base_dir: Path) -> AppriseNotifier.Config:
            """Read ``url_file`` (relative to the workspace folder) and check its URL."""
            if self.url_file is None:
                return self
            path = Path(self.url_file)
            path = path if path.is_absolute() else base_dir / path
            try:
                raw = path.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(
                    f"channel {self.name!r}: cannot read url_file {path}: {exc}"
                ) from None
            ready = self.model_copy()
            ready._settle(raw)
            return ready

        def target(self) -> str:
            return self.scrub(self._shown)

        def scrub(self, text: str) -> str:
            """``text`` with the URL shown in its privacy form and every credential masked."""
            if self._resolved:
                text = text.replace(self._resolved, self._shown)
            for secret in sorted(self._secrets, key=len, reverse=True):
                text = text.replace(secret, MASK)
            return text

        @property
        def resolved_url(self) -> str:
            return self._resolved

    def send(self, config: NotifierConfig, message: Message) -> Delivery:
        assert isinstance(config, AppriseNotifier.Config)
        apprise = _apprise()
        sender = apprise.Apprise(asset=apprise.AppriseAsset(service_timeout=config.timeout_seconds))
        if not sender.add(config.resolved_url):
            return Delivery(ok=False, detail=f"Apprise refused {config.target()}")
        result: Any = sender.notify(
            body=message.body or " ",
            title=message.subject,
            body_format=message.format,
        )
        if bool(result):
            return Delivery(ok=True, detail=f"delivered to {config.target()}")
        return Delivery(
            ok=False, detail=config.scrub(f"{config.target()}: {_reason(result)}")[:500]
        )


def _credentials(url: str) -> list[str]:
    """The password and the path/query tokens of a URL: anything that may be a secret."""
    found: list[str] = []
    userinfo = re.match(r"^[a-z0-9+.-]+://([^@/]*)@", url, re.IGNORECASE)
    if userinfo:
        found += [part for part in userinfo.group(1).split(":")[1:] if part]
    found += [value for value in re.findall(r"[=/]([A-Za-z0-9_\-]{16,})", url)]
    return found


def _reason(result: Any) -> str:
    """What Apprise logged about a failed send (warnings and errors), or its status."""
    logs = getattr(result, "logs", None)
    said: list[str] = []
    if callable(logs):
        said = [
            str(entry.message)
            for entry in logs()
            if str(getattr(entry, "level", "")).upper() in ("WARNING", "ERROR", "CRITICAL")
        ]
    if said:
        return "; ".join(dict.fromkeys(said))
    status = getattr(result, "status", None)
    return f"Apprise reported a failure ({getattr(status, 'name', 'no reason given')})"
