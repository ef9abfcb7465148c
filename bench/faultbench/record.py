"""Faults in the record: one-row database edits, and the API contract under fuzzing."""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import text
from sqlalchemy.engine import make_url

from faultbench.common import EVIDENCE_KEY, ROOT, Report, Workspace, ic, sql_engine
from ingest import IcServer, fresh_database

# The tamper cases and their workspace copy are the tamper tests' own (a dev install has them).
sys.path.insert(0, str(ROOT))
from tests.integration.test_tamper import DATABASE_EDITS
from tests.integration.test_tamper import Copy as TamperCopy

# -- 4. one-row database edits ------------------------------------------------------------------


class Copy(TamperCopy):
    """The tamper tests' copy of a finished incident, on any store, driven by the real ``ic``."""

    def ic(self, *args: str, key: str | None = EVIDENCE_KEY) -> Any:
        return ic(*args, cwd=self.root, env={"IC_EVIDENCE_KEY": key or ""})


@contextmanager
def copied_workspace(finished: Path, root: Path, server_url: str | None) -> Iterator[str]:
    """A copy of the finished workspace (folder and store); yields the copy's store URL."""
    shutil.copytree(finished, root, symlinks=True)
    config = yaml.safe_load((root / "ic.yaml").read_text())
    source = make_url(config["database_url"])
    if server_url is None:
        url = f"sqlite:///{root / 'ic.db'}"
        config["database_url"] = url
        (root / "ic.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        yield url
        return
    name = f"ic_bench_{uuid.uuid4().hex[:12]}"
    admin = sql_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"'))
    try:
        url = source.set(database=name).render_as_string(hide_password=False)
        config["database_url"] = url
        (root / "ic.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def tamper_cases() -> dict[str, tuple[Callable[[Any], None], str]]:
    """The one-row database edits the tamper tests apply (tests/integration/test_tamper.py)."""
    return dict(DATABASE_EDITS)


def database_edits(
    report: Report, root: Path, server_url: str | None, edits: int | None = None
) -> None:
    """The tamper tests' edits (all, or the first ``edits`` of them in name order)."""
    cases = dict(sorted(tamper_cases().items())[:edits])
    report.section(f"4. one-row database edits, re-rendered, then verified: {len(cases)} cases")
    finished = root / "finished"
    with fresh_database(finished, server_url) as url:
        ws = Workspace(finished, url, option="switch-release", sleep=0)
        key = {"IC_EVIDENCE_KEY": EVIDENCE_KEY}
        incident = ws.approved_incident()
        for step in (("execute", incident), ("validate", incident, "--yes", "--as", "on-call")):
            done = ws.ic(*step, **key)
            if done.returncode != 0:
                raise RuntimeError(f"ic {' '.join(step)}: {done.stdout}{done.stderr}")
        if ws.ic("evidence", "verify", incident, **key).returncode != 0:
            raise RuntimeError("the finished incident does not verify before any edit")
        detected = named = 0
        for number, (case, (edit, expected)) in enumerate(sorted(cases.items())):
            with copied_workspace(finished, root / f"copy-{number}", server_url) as copy_url:
                copy = Copy(root / f"copy-{number}", incident, copy_url)
                edit(copy)
                copy.rerender()
                verify = copy.ic("evidence", "verify", incident, "--json")
                problems = json.loads(verify.stdout).get("problems", []) if verify.stdout else []
            caught = verify.returncode == 6
            detected += caught
            named += caught and any(expected in problem for problem in problems)
            if not caught:
                print(f"    not detected: {case}", flush=True)
    report.add("detected", f"{detected} / {len(cases)}", ok=detected == len(cases), target="all")
    report.add("named as the tests expect", f"{named} / {len(cases)}")


# -- 6. schemathesis ---------------------------------------------------------------------------


def contract(report: Report, root: Path, server_url: str | None, requests: int) -> None:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    with fresh_database(root, server_url) as url:
        Workspace(root, url)
        server = IcServer(root, url)
        try:
            schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
            operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
            modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
            examples = max(1, requests // (len(operations) * len(modes)))
            report.section(
                f"6. schemathesis on /openapi.json: {len(operations)} operations x "
                f"{len(modes)} modes x {examples} examples"
            )
            counts = {"requests": 0, "5xx": 0, "failures": 0}
            failures: list[str] = []

            def exercise(case: Any, label: str) -> None:
                response = case.call()
                counts["requests"] += 1
                counts["5xx"] += response.status_code >= 500
                try:
                    case.validate_response(response, checks=checks)
                except (Exception, BaseExceptionGroup) as exc:
                    counts["failures"] += 1
                    failures.append(f"{label}: {' '.join(str(exc).split())[:300]}")

            def calling(label: str) -> Callable[[Any], None]:
                return lambda case: exercise(case, label)

            for operation in operations:
                for mode in modes:
                    label = operation.label
                    run = settings(
                        max_examples=examples,
                        deadline=None,
                        derandomize=True,
                        database=None,
                        phases=[Phase.explicit, Phase.generate],
                        suppress_health_check=list(HealthCheck),
                    )(given(case=operation.as_strategy(generation_mode=mode))(calling(label)))
                    try:
                        run()
                    except Unsatisfiable:  # nothing to send in this mode (no parameters)
                        pass
        finally:
            log = root / "serve.log"
            server.stop()
    for failure in sorted(set(failures))[:5]:
        print(f"    {failure}", flush=True)
    report.add("requests", counts["requests"])
    report.count("5xx answers", counts["5xx"])
    report.count("check failures", counts["failures"])
    report.count("tracebacks in the server log", log.read_text().count("Traceback"))
