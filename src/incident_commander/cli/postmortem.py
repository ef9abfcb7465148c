"""``ic postmortem``: the post-incident review from flags, a YAML file, or questions on a
terminal; the blameless check's findings with their rewording, and waiving one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError
from rich.markup import escape

from incident_commander.cli.answers import As, IncidentId, interactive, me
from incident_commander.cli.render import console, print_json
from incident_commander.errors import InvalidInput
from incident_commander.protocol.postmortem import Blame, PostmortemState
from incident_commander.protocol.steps.review import Review

__all__ = ["load_review_file", "print_blame", "print_postmortem_state", "register"]

MAX_FILE = 1024 * 1024
Many = list[str] | None
_ACTION_FORMAT = "'TEXT;OWNER;YYYY-MM-DD' (then optionally ';KIND' and ';PRIORITY')"


def _action_of(item: str) -> dict[str, str]:
    parts = [p.strip() for p in item.split(";")]
    if not 3 <= len(parts) <= 5:
        raise InvalidInput(f"--action {item!r}: expected {_ACTION_FORMAT}")
    names = ("text", "owner", "due", "kind", "priority")
    return dict(zip(names, parts, strict=False))


def _checked(values: dict[str, Any], source: str = "") -> Review:
    """A ``Review`` from plain values; the first problem named by its key."""
    try:
        return Review.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise InvalidInput(f"{source}{where}: {message}") from None


def load_review_file(path: Path) -> Review:
    """Read a review from YAML; a bad file names the key and what was expected."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > MAX_FILE:
        raise InvalidInput(f"{path}: larger than {MAX_FILE} bytes")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InvalidInput(f"{path}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: expected a mapping of review keys (whys, root_cause, …)")
    actions = data.get("actions")
    for item in actions if isinstance(actions, list) else []:
        if isinstance(item, dict) and "title" in item and "text" not in item:
            item["text"] = item.pop("title")
    return _checked(data, f"{path}: ")


def _ask_list(question: str, limit: int = 50) -> list[str]:
    console.print(f"{question} (one per line; an empty line ends)")
    found: list[str] = []
    while len(found) < limit:
        line = typer.prompt(f"  {len(found) + 1}", default="", show_default=False).strip()
        if not line:
            break
        found.append(line)
    return found


def _ask_line(question: str) -> str | None:
    return typer.prompt(question, default="", show_default=False).strip() or None


def _ask_review() -> Review:
    """The review's questions on a terminal, the 5 Whys first."""
    values: dict[str, Any] = {
        "symptom": _ask_line("Symptom: what was seen first?"),
        "whys": _ask_list("Why did it happen? Ask why up to five times", limit=5),
        "proximate_cause": _ask_line("Proximate cause: what triggered it directly?"),
        "contributing": _ask_list("Contributing factors: what made it possible?"),
        "root_cause": _ask_line("Root cause: the underlying condition?"),
        "systemic_issue": _ask_line("Systemic issue: why could that condition exist?"),
        "went_well": _ask_list("What went well?"),
        "went_poorly": _ask_list("What went poorly?"),
        "lucky": _ask_list("Where did we get lucky?"),
        "prevention": _ask_list("Prevention: how will this not happen again?"),
    }
    actions = []
    console.print("Action items (an empty title ends):")
    while True:
        title = _ask_line("  title")
        if title is None:
            break
        actions.append(
            {
                "text": title,
                "owner": typer.prompt("  owner"),
                "due": typer.prompt("  due (YYYY-MM-DD)"),
                "kind": typer.prompt("  kind", default="prevention"),
                "priority": typer.prompt("  priority", default="medium"),
            }
        )
    values["actions"] = actions
    return _checked({k: v for k, v in values.items() if v})


def print_blame(incident_id: str, findings: list[Blame]) -> None:
    """Each finding with its sentence, why it reads as blame, and a system-focused rewording."""
    if not findings:
        console.print("Blameless check: no finding.")
        return
    open_ones = [b for b in findings if b.waiver is None]
    console.print(
        f"Blameless check: {len(findings)} finding(s), {len(findings) - len(open_ones)} waived."
    )
    for b in findings:
        state = f"waived: {escape(b.waiver['reason'])}" if b.waiver else "open"
        where = escape(f"[{b.finding.where}]")
        console.print(f"  #{b.n} {where} ({state}) {escape(b.finding.sentence)}")
        console.print(f"      why: {escape(b.finding.reason)}")
        console.print(f"      instead: {escape(b.finding.suggestion)}")
    if open_ones:
        console.print(
            f"Reword them with `ic postmortem {incident_id} …`, or waive one with "
            f"`ic postmortem {incident_id} --waive N --reason TEXT`."
        )


def print_postmortem_state(state: PostmortemState) -> None:
    """One line for ``ic show``: whether a post-mortem is due, and when."""
    if not state.required:
        return
    if state.due is None:
        console.print("Post-mortem: required for this severity, due a week after resolution.")
        return
    done = state.whys > 0 and state.prevention > 0
    if done:
        status = "recorded"
    elif state.overdue:
        status = "[bold red]OVERDUE[/]"
    else:
        status = "pending"
    console.print(
        f"Post-mortem: due {state.due.isoformat()} ({status}; {state.whys} why(s), "
        f"{state.prevention} prevention item(s))"
    )


def register(app: typer.Typer) -> None:
    """Add ``postmortem`` to ``app``."""

    @app.command()
    def postmortem(
        ctx: typer.Context,
        incident_id: IncidentId,
        from_file: Annotated[
            Path | None, typer.Option("--from", help="Read the review from a YAML file.")
        ] = None,
        summary: Annotated[str | None, typer.Option(help="What happened, in a paragraph.")] = None,
        impact: Annotated[str | None, typer.Option(help="Who was affected, how long.")] = None,
        symptom: Annotated[str | None, typer.Option(help="Cause level 1: the symptom.")] = None,
        why: Annotated[Many, typer.Option(help="One answer of the 5 Whys.")] = None,
        proximate_cause: Annotated[
            str | None, typer.Option(help="Cause level 2: the proximate cause.")
        ] = None,
        factor: Annotated[Many, typer.Option(help="A contributing factor.")] = None,
        root_cause: Annotated[str | None, typer.Option(help="The root cause, in one line.")] = None,
        systemic_issue: Annotated[
            str | None, typer.Option(help="Cause level 5: the systemic issue.")
        ] = None,
        went_well: Annotated[Many, typer.Option(help="What went well.")] = None,
        went_poorly: Annotated[Many, typer.Option(help="What went poorly.")] = None,
        lucky: Annotated[Many, typer.Option(help="Where we got lucky.")] = None,
        prevention: Annotated[Many, typer.Option(help="A prevention measure.")] = None,
        action: Annotated[Many, typer.Option(help=f"An action item: {_ACTION_FORMAT}.")] = None,
        check: Annotated[
            bool,
            typer.Option(
                "--check", help="Only run the blameless check (exit 1 on an open finding)."
            ),
        ] = False,
        waive: Annotated[
            int | None, typer.Option(help="Waive blame finding N (needs --reason).")
        ] = None,
        reason: Annotated[str, typer.Option(help="Why the finding is waived.")] = "",
        approver: As = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Record the post-incident review; INCIDENT-REPORT.md is rewritten with it.

        From flags, from --from FILE.yaml, or (with neither, on a terminal) by questions.
        """
        engine = ctx.obj.commander().engine
        who = approver or me()
        if waive is not None:
            engine.waive_blame(incident_id, waive, reason=reason, by=who)
            console.print(f"Blame finding #{waive} waived.")
        elif not check:
            values: dict[str, Any] = {
                "summary": summary,
                "impact": impact,
                "symptom": symptom,
                "whys": why,
                "proximate_cause": proximate_cause,
                "contributing": factor,
                "root_cause": root_cause,
                "systemic_issue": systemic_issue,
                "went_well": went_well,
                "went_poorly": went_poorly,
                "lucky": lucky,
                "prevention": prevention,
                "actions": [_action_of(a) for a in action or []],
            }
            given = {k: v for k, v in values.items() if v}
            if from_file is not None and given:
                raise InvalidInput("--from takes the whole review: give it alone, without flags")
            if from_file is not None:
                review = load_review_file(from_file)
            elif not given and interactive():
                review = _ask_review()
            else:
                review = _checked(given)
            engine.record_review(incident_id, review, recorded_by=who)
            if not json_out:
                console.print(str(engine.report(incident_id)))
        findings = engine.blame(incident_id)
        if json_out:
            print_json(
                {
                    "incident_id": incident_id,
                    "postmortem": engine.postmortem_state(incident_id).as_dict(),
                    "blame": [b.as_dict() for b in findings],
                }
            )
            return
        print_blame(incident_id, findings)
        if check and any(b.waiver is None for b in findings):
            raise typer.Exit(1)
