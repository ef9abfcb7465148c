"""On a terminal, `ic postmortem ID` with no answers given asks the review's questions."""

from __future__ import annotations

from tests.integration.test_interactive import Terminal
from tests.integration.test_postmortem_gate import resolved_incident
from tests.workspace import Workspace


def test_postmortem_asks_the_questions_on_a_terminal(workspace: Workspace) -> None:
    ws = workspace
    incident = resolved_incident(ws)
    term = Terminal(ws, "postmortem", incident, "--as", "on-call")
    answers = [
        ("Symptom: what was seen first?", "HTTP 500 on /health"),
        ("Ask why up to five times", "health checks failed on v2"),
        ("2", "v2 needs a config key production lacks"),
        ("3", ""),
        ("Proximate cause", "the v2 deploy"),
        ("Contributing factors", "no config check in the pipeline"),
        ("2", ""),
        ("Root cause", "releases are not checked against production config"),
        ("Systemic issue", "config and code are released separately"),
        ("What went well?", "the rollback took under a second"),
        ("2", ""),
        ("What went poorly?", ""),
        ("Where did we get lucky?", ""),
        ("Prevention", "check config keys in CI"),
        ("2", ""),
        ("title", "check config keys in CI"),
        ("owner", "platform team"),
        ("due (YYYY-MM-DD)", "2026-12-15"),
        ("kind", ""),
        ("priority", "high"),
        ("title", ""),
    ]
    for prompt, reply in answers:
        term.expect(prompt)
        term.say(reply)
        term.seen = term.seen[term.seen.index(prompt) + len(prompt) :]

    assert term.finish() == 0, term.seen
    assert "Blameless check: no finding." in term.seen
    report = ws.read(incident, "INCIDENT-REPORT.md")
    assert "2. Why? v2 needs a config key production lacks" in report
    assert "| Systemic issue | config and code are released separately |" in report
    row = "| check config keys in CI | platform team | 2026-12-15 | prevention | high | open |"
    assert row in report
    assert ws.ok("gate", "check", incident, "--gate", "4").returncode == 0
