"""The /api door refuses odd input with the status docs/serve.md promises, on both stores."""

from __future__ import annotations

from tests.server import Server


def test_malformed_json_wrong_type_and_wrong_method(server: Server) -> None:
    post = server.client.post
    malformed = post(
        "/api/v1/incidents", content=b'{"title": ', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400, malformed.text
    assert malformed.json()["error"].startswith("malformed JSON")
    not_a_number = post(
        "/api/v1/incidents/INC-1/plan",
        content=b'{"fix_minutes": NaN}',
        headers={"content-type": "application/json"},
    )
    assert not_a_number.status_code == 400, not_a_number.text
    form = post("/api/v1/incidents", data={"title": "t", "service": "web"})
    assert form.status_code == 415, form.text
    assert "application/x-www-form-urlencoded" in form.json()["error"]
    text = post(
        "/api/v1/deployments", content=b"{}", headers={"content-type": "text/plain; charset=utf-8"}
    )
    assert text.status_code == 415, text.text
    put = server.client.put("/api/v1/incidents", json={})
    assert put.status_code == 405 and put.headers["allow"] == "GET, POST"
    delete = server.client.delete("/api/v1/incidents/INC-1")
    assert delete.status_code == 405 and delete.headers["allow"] == "GET"
    metrics = server.client.get("/metrics").text
    for reason, count in (("malformed", 2), ("content_type", 2), ("method", 2)):
        assert f'ic_requests_rejected_total{{reason="{reason}"}} {count}.0' in metrics, reason
    assert server.client.get("/api/v1/incidents").json() == []


MOMENTS_REFUSED = [
    ("0001-01-01T00:00:00+01:00", "out of range once converted to UTC"),
    ("1969-12-31T23:59:59Z", "year 1969 in UTC, outside 1970 to 9999"),
    ("9999-12-31T23:00:00-02:00", "out of range once converted to UTC"),
    ("2026-11-23T03:00:00", "needs a timezone"),
    ("1700000000", "expected an ISO 8601 date and time with a timezone"),
    ("yesterday", "expected an ISO 8601 date and time with a timezone"),
    (0, "expected an ISO 8601 date and time with a timezone, as a string"),
    (1.7e9, "expected an ISO 8601 date and time with a timezone, as a string"),
    (True, "expected an ISO 8601 date and time with a timezone, as a string"),
]


def test_a_deploy_time_must_be_a_real_moment_kept_in_utc(server: Server) -> None:
    for given, problem in MOMENTS_REFUSED:
        body = {"service": "web", "version": "v9", "deployed_at": given}
        refused = server.post("/api/v1/deployments", body)
        assert refused.status_code == 422, (given, refused.text)
        assert refused.json()["problems"][0]["field"] == "deployed_at"
        assert refused.json()["error"].startswith("deployed_at: ")
        assert problem in refused.json()["error"], given
    body = {"service": "web", "version": "v9", "deployed_at": "2026-11-23T05:00:00+02:00"}
    recorded = server.post("/api/v1/deployments", body)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["deployed_at"] == "2026-11-23T03:00:00.000000Z"


def test_nul_and_overlong_parameters_are_refused(server: Server) -> None:
    get = server.client.get
    for path, where in [
        ("/api/v1/incidents/INC%00", "path parameter 'incident_id'"),
        ("/api/v1/incidents/INC%00/gates", "path parameter 'incident_id'"),
        ("/api/v1/incidents?service=a%00b", "query parameter 'service'"),
        ("/api/v1/incidents?other=%00", "query parameter 'other'"),
    ]:
        answer = get(path)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["error"] == f"{where}: must not contain a NUL character"
    long_id = get("/api/v1/incidents/" + "I" * 300)
    assert long_id.status_code == 422, long_id.text
    assert "300 characters long; at most 256" in long_id.json()["error"]
    long_query = get("/api/v1/incidents", params={"service": "s" * 129})
    assert long_query.status_code == 422 and "service" in long_query.json()["error"]
    on_a_step = server.post("/api/v1/incidents/INC%00/run", {})
    assert on_a_step.status_code == 422, on_a_step.text
    assert get("/api/v1/incidents").json() == []


def test_text_fields_refuse_nul_and_are_bounded(server: Server) -> None:
    for body, problem in [
        ({"title": "a\x00b", "service": "web"}, "title: text must not contain a NUL character"),
        ({"title": "t", "service": "web", "symptoms": ["ok", "x\x00"]}, "symptoms.1: text"),
        ({"title": "t", "service": "web", "extra\x00": 1}, "extra\\0: text must not contain"),
        ({"title": "t", "service": "web", "source": "s" * 65}, "source: String should have"),
        ({"title": "t", "service": "web", "symptoms": ["s" * 1001]}, "symptoms.0: String"),
        ({"title": "t" * 10_001, "service": "web"}, "title: text is 10001 characters long"),
    ]:
        refused = server.post("/api/v1/incidents", body)
        assert refused.status_code == 422, refused.text
        assert problem in refused.json()["error"], refused.json()
    deploy = server.post("/api/v1/deployments", {"service": "web", "version": "v\x00"})
    assert deploy.status_code == 422 and deploy.json()["error"].startswith("version: ")
    assert server.client.get("/api/v1/incidents").json() == []
    declared = server.post("/api/v1/incidents", {"title": "checkout errors", "service": "web"})
    assert declared.status_code == 201, declared.text
