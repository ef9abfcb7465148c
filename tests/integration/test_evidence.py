"""The evidence folder verifies, and any change to it is caught and named."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

from tests.workspace import Workspace


def _resolved(ws: Workspace) -> str:
    ws.configure()
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes")
    ws.ok("plan", incident, "--yes", "--as", "on-call")
    ws.ok("execute", incident)
    ws.ok("validate", incident, "--yes", "--as", "on-call")
    return incident


def test_verify_passes_then_names_a_changed_artifact(workspace: Workspace) -> None:
    ws = workspace
    incident = _resolved(ws)
    ok = ws.ic("evidence", "verify", incident, "--json")
    assert ok.returncode == 0, ok.stdout
    report = json.loads(ok.stdout)
    assert report["ok"] is True and report["files"] >= 14 and report["events"] > 20

    path = ws.evidence(incident) / "decision-log.json"
    path.write_text(path.read_text().replace('"on-call"', '"someone-else"', 1))

    broken = ws.ic("evidence", "verify", incident)
    assert broken.returncode == 6
    assert "BROKEN" in broken.stdout
    assert "decision-log.json: changed since written" in broken.stdout
    assert "Traceback" not in broken.stdout + broken.stderr


def test_verify_names_the_first_edited_timeline_line(workspace: Workspace) -> None:
    ws = workspace
    incident = _resolved(ws)
    path = ws.evidence(incident) / "incident-timeline.md"
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if "approval.answered" in line)
    lines[index] = lines[index].replace("by on-call", "by policy:auto")
    path.write_text("\n".join(lines) + "\n")

    broken = ws.ic("evidence", "verify", incident, "--json")

    assert broken.returncode == 6
    problems = json.loads(broken.stdout)["problems"]
    seq = int(re.match(r"- (\d+) ", lines[index]).group(1))  # type: ignore[union-attr]
    assert problems[0] == (
        f"incident-timeline.md line {index + 1} (event #{seq}): "
        "content does not match its chain hash"
    )


def test_verify_catches_a_deleted_file_and_a_removed_line(workspace: Workspace) -> None:
    ws = workspace
    incident = _resolved(ws)
    (ws.evidence(incident) / "recovery-validation.json").unlink()
    path = ws.evidence(incident) / "incident-timeline.md"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")

    broken = ws.ic("evidence", "verify", incident, "--json")

    problems = json.loads(broken.stdout)["problems"]
    assert broken.returncode == 6
    assert any("line(s) but" in p for p in problems)
    assert any(p.startswith("recovery-validation.json: missing") for p in problems)


def test_report_rewrites_from_the_record_and_says_what_is_missing(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare()
    written = ws.ok("report", incident)
    assert written.stdout.strip().endswith("INCIDENT-REPORT.md")
    report = ws.read(incident, "INCIDENT-REPORT.md")
    assert "No severity assessment was recorded." in report
    assert "No mitigation was executed." in report
    assert "No recovery validation was recorded." in report
    assert "Recovery has not been verified; durations are incomplete." in report
    assert "web **v2** deployed" in report  # the suspect deploy is on record
    assert "Report completeness: 50%" in report
    assert ws.ic("evidence", "verify", incident).returncode == 0


def test_each_step_seals_what_it_changed_and_signs_its_head(workspace: Workspace) -> None:
    ws = workspace
    key = {"env": {"IC_EVIDENCE_KEY": "sealing-key"}}
    ws.configure()
    incident = ws.declare()
    ws.ok("assess", incident, "--production", "--outage", "--as", "on-call", "--yes", **key)
    ws.ok("plan", incident, "--yes", "--as", "on-call", **key)
    ws.ok("execute", incident, **key)

    chain = [json.loads(line) for line in ws.read(incident, "incident-chain.jsonl").splitlines()]
    timeline = ws.read(incident, "incident-timeline.md").splitlines()
    assert [f"- {e['line']} · chain:{e['hash']}" for e in chain] == [
        line for line in timeline if line.startswith("- ")
    ]
    sealed = [(e["line"].split()[2], e["data"]["digests"]) for e in chain if "digests" in e["data"]]
    running = [d["execution #1"] for kind, d in sealed if kind == "execution.started"]
    finished = [d["execution #1"] for kind, d in sealed if "execution #1" in d]
    assert len(running) == 1 and finished[-1] != running[0]  # started, then succeeded
    assert chain[-1]["data"]["digests"]["status"] == sealed[-1][1]["status"]

    log = ws.root / ".artifacts" / "incidents" / "chain-heads.log"
    heads = [json.loads(line) for line in log.read_text().splitlines()]
    signed = [h for h in heads if h["incident"] == incident and h["hmac"]]
    assert signed[-1]["seq"] == len(chain) and signed[-1]["head"] == chain[-1]["hash"]
    for head in signed:
        body = {k: head[k] for k in ("at", "head", "incident", "seq")}
        message = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        assert head["hmac"] == hmac.new(b"sealing-key", message, hashlib.sha256).hexdigest()
    verified = ws.ic("evidence", "verify", incident, "--json", **key)
    assert verified.returncode == 0, verified.stdout
    assert json.loads(verified.stdout)["notes"] == []
