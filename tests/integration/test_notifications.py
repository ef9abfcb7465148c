"""Channels through Apprise to a real SMTP server and real HTTP receivers: what arrives, for whom,
escaped and cut; routing by severity; secrets kept out of the record; bad URLs refused."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from tests.conftest import assert_clean_error
from tests.receivers import http_receiver, smtp_server
from tests.workspace import Workspace

HOSTILE = "<!here> **bold** @everyone <script>x</script>"


def test_an_incident_reaches_each_audience_on_its_channel(workspace: Workspace) -> None:
    ws = workspace
    with smtp_server() as (smtp, mails), http_receiver() as web:
        ws.configure(
            notifications=[
                {
                    "name": "pager",
                    "kind": "apprise",
                    "url": f"mailto://{smtp}?from=ic@example.com&to=oncall@example.com",
                    "audience": "responders",
                    "format": "markdown",
                },
                {
                    "name": "status-room",
                    "kind": "apprise",
                    "url": f"json://{web.url}/hook",
                    "audience": "stakeholders",
                },
                {
                    "name": "execs",
                    "kind": "apprise",
                    "url": f"form://{web.url}/form",
                    "audience": "executives",
                    "format": "html",
                    "severities": ["SEV1"],
                },
                {"name": "digest", "kind": "file", "path": "digest.log", "audience": "digest"},
            ],
            routing={"SEV1": ["responders", "stakeholders", "executives"], "SEV4": ["digest"]},
        )
        incident = ws.declare("checkout @channel returns 500")
        ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--no")
        ws.ok("notify", incident, "--audience", "stakeholders", "--message", HOSTILE)

    # responders: an e-mail, subject as written, the symptom escaped as Markdown data
    opened = [m for m in mails if "returns 500" in m.subject]
    assert len(opened) == 1, [m.subject for m in mails]
    asked = [m for m in mails if "severity confirmation needed" in m.subject]
    assert len(asked) == 1 and f"ic approve {incident} --kind severity --yes" in asked[0].text()
    assert opened[0].recipients == ["oncall@example.com"]
    assert opened[0].subject == f"[SEV1] web: checkout @\u200bchannel returns 500 ({incident})"
    assert (
        "HTTP 500 on /health" in opened[0].text() and "Suspect deploy: web v2" in opened[0].text()
    )
    assert "<!here>" not in "".join(m.text() for m in mails)

    # stakeholders: JSON; executives: a form post; each got the opening message
    posts = {r.path: r for r in reversed(web.requests)}  # the first request to each path
    hook = json.loads(posts["/hook"].body)
    assert hook["title"] == f"[SEV1] web: checkout @\u200bchannel returns 500 ({incident})"
    assert "classified SEV1" in hook["message"]
    form = parse_qs(posts["/form"].body.decode())
    assert form["title"] == [hook["title"]]
    # the manual update reached stakeholders only, its mentions neutralised
    updates = [json.loads(r.body) for r in web.requests if b"update from" in r.body]
    assert len(updates) == 1 and "\u2039!here>" in updates[0]["message"]
    assert "@\u200beveryone" in updates[0]["message"] and "@everyone" not in updates[0]["message"]
    assert not (ws.root / "digest.log").exists()  # SEV1 is not routed to the digest

    comms = ws.read(incident, "communication-log.md")
    assert "| pager | responders |" in comms and "| execs | executives |" in comms
    assert f"delivered: delivered to json://{web.url}/hook" in comms
    gate = json.loads(ws.ic("gate", "check", incident, "--gate", "1", "--json").stdout)
    notified = next(c for c in gate["gates"][0]["criteria"] if c["criterion"].startswith("stake"))
    assert notified["passed"] is True, notified
    assert "delivered to customers, executives, stakeholders" not in notified["found"]
    assert "executives, stakeholders" in notified["found"]


def test_the_lowest_severity_goes_to_the_digest_only(workspace: Workspace) -> None:
    ws = workspace
    with http_receiver() as web:
        ws.configure(
            notifications=[
                {"name": "room", "kind": "apprise", "url": f"json://{web.url}/h"},
                {"name": "digest", "kind": "file", "path": "digest.log", "audience": "digest"},
            ],
            routing={"SEV4": ["digest"]},
        )
        incident = ws.declare()
        assessed = ws.ok("assess", incident, "--not-production", "--as", "on-call", "--no")
    assert "classified SEV4" in assessed.stdout
    assert web.requests == []
    assert f"[SEV4] web: checkout returns 500 ({incident})" in (ws.root / "digest.log").read_text()
    gate = ws.ic("gate", "check", incident, "--gate", "1")
    assert "0 message(s) delivered to" not in gate.stdout or gate.returncode == 1


def test_huge_text_is_cut_to_the_channel_limit(workspace: Workspace) -> None:
    ws = workspace
    with http_receiver() as web:
        ws.configure(
            notifications=[
                {"name": "room", "kind": "apprise", "url": f"json://{web.url}/h", "max_chars": 300}
            ]
        )
        incident = ws.declare()
        ws.ok("notify", incident, "--audience", "on-call", "--message", "x" * 9000)
    message = json.loads(web.requests[-1].body)["message"]
    assert len(message) <= 300 and message.endswith("… (truncated)")


def test_secrets_in_a_channel_url_never_reach_the_record(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace
    with http_receiver(status=[500]) as web:
        ws.configure(
            notifications=[
                {
                    "name": "hook",
                    "kind": "apprise",
                    "url": f"json://bot:$HOOK_PASSWORD@{web.url}/hook",
                    "timeout_seconds": 5,
                }
            ]
        )
        monkeypatch.setenv("HOOK_PASSWORD", "s3cr3t-pa55word")  # read with ic.yaml each time
        incident = ws.declare()
        sent = ws.ic("notify", incident, "--audience", "on-call", "--message", "hello", "--json")
        shown = ws.ic("show", incident)
    assert sent.returncode == 1  # the receiver answered 500: nothing delivered
    deliveries = json.loads(sent.stdout)["deliveries"]
    assert [d["status"] for d in deliveries] == ["failed"]
    assert web.requests[0].headers["authorization"].startswith("Basic ")  # it was really used
    comms = ws.read(incident, "communication-log.md")
    assert f"json://bot:****@{web.url}/hook" in comms
    for text in (comms, shown.stdout, shown.stderr, sent.stdout):
        assert "s3cr3t-pa55word" not in text


def test_a_url_apprise_refuses_is_a_config_error_naming_the_channel(workspace: Workspace) -> None:
    ws = workspace
    ws.configure(notifications=[{"name": "pager", "kind": "apprise", "url": "json://"}])
    assert_clean_error(ws.ic("list"), 2, "channel 'pager'", "Unparseable JSON URL")
    ws.configure(notifications=[{"name": "pager", "kind": "apprise", "url": "$NOT_SET_ANYWHERE"}])
    assert_clean_error(ws.ic("list"), 2, "environment variable NOT_SET_ANYWHERE is not set")


def test_a_url_file_holds_the_secret(workspace: Workspace, tmp_path: Path) -> None:
    ws = workspace
    with http_receiver() as web:
        (ws.root / "hook.url").write_text(f"json://{web.url}/from-file\n")
        ws.configure(notifications=[{"name": "hook", "kind": "apprise", "url_file": "hook.url"}])
        tested = ws.ic("notify", "test", "--channel", "hook")
    assert tested.returncode == 0, tested.stderr
    assert [r.path for r in web.requests] == ["/from-file"]
    assert "Test message" in json.loads(web.requests[0].body)["title"]


def test_notify_test_reports_delivery_and_failure(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    with http_receiver() as web:
        good = ws.ic("notify", "test", "--channel", f"json://{web.url}/t")
    assert good.returncode == 0 and "Delivered" in good.stdout
    assert json.loads(web.requests[0].body)["title"] == "Test message from Incident Commander"
    with http_receiver(status=[503]) as down:
        bad = ws.ic("notify", "test", "--channel", f"json://{down.url}/t")
    assert bad.returncode == 1 and "Not delivered" in bad.stderr
    assert_clean_error(ws.ic("notify", "test", "--channel", "nope"), 2, "no channel named 'nope'")


def test_notify_refuses_an_unknown_audience_and_marks_public_updates(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.configure(
        notifications=[
            {"name": "inbox", "kind": "file", "path": "inbox.log", "audience": "on-call"},
            {"name": "public", "kind": "file", "path": "public.log", "audience": "customers"},
        ]
    )
    incident = ws.declare()
    assert_clean_error(
        ws.ic("notify", incident, "--audience", "ceo", "--message", "hi"),
        2,
        "unknown audience 'ceo'",
        "customers, on-call",
    )
    assert_clean_error(
        ws.ic("notify", incident, "--audience", "customers", "--message", "hi"), 2, "--public"
    )
    sent = ws.ok(
        "notify",
        incident,
        "--audience",
        "customers",
        "--message",
        "We are on it",
        "--public",
        "--json",
    )
    assert [
        (d["channel"], d["public"], d["status"]) for d in json.loads(sent.stdout)["deliveries"]
    ] == [("public", True, "sent")]
    public = (ws.root / "public.log").read_text()
    assert "[Investigating] web: checkout returns 500" in public and "We are on it" in public
    assert not (ws.root / "inbox.log").exists()  # the update went to customers only
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    public = (ws.root / "public.log").read_text()
    assert "[Identified] web: checkout returns 500" in public  # the public state changed
    assert "classified" not in public and "SEV1" not in public  # nothing internal for customers
    assert "classified SEV1" in (ws.root / "inbox.log").read_text()


def test_a_broken_custom_template_falls_back_and_is_recorded(workspace: Workspace) -> None:
    ws = workspace
    templates = ws.root / "messages"
    templates.mkdir()
    (templates / "incident-opened.j2").write_text(
        "{% block subject %}{{ no_such_value }}{% endblock %}{% block body %}x{% endblock %}"
    )
    (templates / "severity-confirmed.j2").write_text(
        "{% block subject %}@here {{ incident.id }} confirmed by {{ approver }}{% endblock %}"
        "{% block body %}Custom words.{% endblock %}"
    )
    ws.configure(message_templates="messages")
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "@channel", "--yes")
    inbox = (ws.root / "inbox.log").read_text()
    assert f"[SEV1] web: checkout returns 500 ({incident})" in inbox  # the shipped default
    assert f"@here {incident} confirmed by @\u200bchannel" in inbox  # the template's own mention
    timeline = ws.read(incident, "incident-timeline.md")
    assert "no_such_value" in timeline and "the shipped template was used" in timeline
