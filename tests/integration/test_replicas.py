"""Two `ic serve` replicas on one database never open the same incident twice."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.server import Server, am_alert, am_payload


def test_replicas_racing_on_one_alert_group_open_one_incident(
    tmp_path: Path, database_url: str
) -> None:
    env = {"IC_DATABASE_URL": database_url}
    first = Server(tmp_path, env, "--no-probes")
    second = Server(tmp_path, env, "--no-probes")
    answers: list[int] = []
    lock = threading.Lock()

    def post(server: Server, n: int) -> None:
        body = am_payload(am_alert(f"Alert{n % 5}", service="web"), receiver=f"r{n}")
        status = server.post("/webhooks/alertmanager", body).status_code
        with lock:
            answers.append(status)

    try:
        threads = [
            threading.Thread(target=post, args=(first if n % 2 else second, n)) for n in range(20)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        incidents = first.client.get("/api/v1/incidents").json()
        shown = first.client.get(f"/api/v1/incidents/{incidents[0]['id']}").json()
    finally:
        logs = first.stop() + second.stop()
    assert answers == [200] * 20
    assert len(incidents) == 1, incidents
    assert sorted(a["alertname"] for a in shown["alerts"]) == [f"Alert{n}" for n in range(5)]
    assert "Traceback" not in logs
