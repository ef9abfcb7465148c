"""On a terminal, `ic` asks the questions and the approval prompts itself."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time

from tests.conftest import ic_path
from tests.workspace import Workspace


class Terminal:
    """Run `ic` on a pseudo-terminal and answer its prompts."""

    def __init__(self, ws: Workspace, *args: str) -> None:
        self.master, slave = pty.openpty()
        env = {**os.environ, **ws.env, "COLUMNS": "200", "NO_COLOR": "1"}
        self.proc = subprocess.Popen(
            [ic_path(), *args], cwd=ws.root, env=env, stdin=slave, stdout=slave, stderr=slave
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"never saw {text!r}; got:\n{self.seen}"
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096).decode(errors="replace")
                except OSError:
                    break
        assert text in self.seen, self.seen

    def say(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def finish(self) -> int:
        code = self.proc.wait(timeout=30)
        try:
            while True:
                chunk = os.read(self.master, 4096)
                if not chunk:
                    break
                self.seen += chunk.decode(errors="replace")
        except OSError:
            pass
        os.close(self.master)
        return code


def test_assess_asks_the_questions_and_the_severity_confirmation(workspace: Workspace) -> None:
    ws = workspace
    ws.configure()
    incident = ws.declare()
    term = Terminal(ws, "assess", incident)
    term.expect("Is production affected?")
    term.say("y")
    term.expect("Is the service down for its users?")
    term.say("y")
    term.expect("Was data lost or corrupted?")
    term.say("n")
    term.expect("Is security compromised?")
    term.say("n")
    term.expect(
        "[SEVERITY CONFIRMATION] Incident classified as SEV1. Approve mitigation planning? (yes/no)"
    )
    term.say("maybe")  # not an answer: asked again
    term.expect("(yes/no): ", timeout=10)
    term.say("yes")
    term.expect("Your name")
    term.say("sre-primary")
    term.expect("Reason")
    term.say("checkout is down")
    assert term.finish() == 0, term.seen

    decisions = ws.read_json(incident, "decision-log.json")["decisions"]
    assert (decisions[0]["answer"], decisions[0]["approver"], decisions[0]["rationale"]) == (
        "yes",
        "sre-primary",
        "checkout is down",
    )
    severity = ws.read_json(incident, "severity-assessment.json")
    assert severity["answers"]["outage"] is True and severity["answers"]["data_loss"] is False
    assert json.loads(ws.ok("show", incident, "--json").stdout)["status"] == "planning"
