"""The blameless check on a corpus: every blaming sentence found, no blameless one flagged."""

from __future__ import annotations

import pytest

from incident_commander.reports.blame import find_blame, sentences_of

PEOPLE = ("Dana Reyes", "on-call", "platform team")
SYSTEMS = ("web", "switch-release")

BLAMING = [
    "John broke the deploy.",
    "Sam forgot to renew the TLS certificate.",
    "Priya didn't run the migration in staging first.",
    "The on-call engineer ignored the first page.",
    "He should have checked the dashboard before deploying.",
    "Nobody reviewed the change properly.",
    "No one noticed the disk filling up for two hours.",
    "Whose fault was this outage?",
    "It was Alex's fault that the cache was flushed.",
    "Root cause: human error during the manual failover.",
    "The outage was human error.",
    "Dana Reyes skipped the canary stage.",
    "The developer made a mistake in the config file.",
    "Someone deleted the production table by accident.",
    "The intern pushed a broken build to main.",
    "Maria was careless with the feature flag.",
    "The reviewer missed the missing index.",
    "After the alert fired, Tom failed to escalate.",
    "The platform team did not update the runbook.",
    "She messed up the DNS record.",
    "They should have told support.",
    "Kim accidentally wiped the cache cluster.",
    "The rollback was slow because Lee never tested the script.",
    "Chris should've waited for the canary.",
    "Our SRE dropped the ball on the certificate renewal.",
    "The incident happened due to operator error.",
]

BLAMELESS = [
    "The deploy script failed.",
    "The validation didn't catch this.",
    "Nobody was paged for 3 minutes.",
    "No one was paged because the route had no receiver.",
    "Health checks failed on v2.",
    "v2 read a config key that production does not set.",
    "Releases are not checked against production config before deploy.",
    "The canary stage was skipped by the pipeline.",
    "Postgres ran out of connections.",
    "Redis caused a cascade of timeouts.",
    "The alert missed the spike because the window was too long.",
    "The health check ignored the timeout setting.",
    "Kubernetes restarted the pod twice.",
    "Human error is not a root cause; the missing check is.",
    "The manual step leaves room for human error.",
    "Sam deployed v2 at 14:02.",
    "Dana Reyes approved the rollback.",
    "The rollback took under a second.",
    "We got lucky: traffic was low at the time.",
    "The team did not get paged until the second alert.",
    "The certificate expired because renewal is manual.",
    "No one needed to intervene after the rollback.",
    "Web failed to start after the restart.",
    "The on-call engineer rolled back within four minutes.",
    "Alertmanager failed to deliver the first page.",
    "The config change is what broke checkout.",
    "It's fault tolerant by design, which helped here.",
    "Alex did not cause this outage.",
    "They never received the page because the route was wrong.",
    "He never got paged.",
    "They forgot nothing: the runbook covered every step.",
]


@pytest.mark.parametrize("sentence", BLAMING)
def test_a_blaming_sentence_is_found(sentence: str) -> None:
    findings = find_blame([("review", sentence)], PEOPLE, SYSTEMS)

    assert [f.sentence for f in findings] == [sentence]
    assert findings[0].suggestion
    assert findings[0].where == "review"


@pytest.mark.parametrize("sentence", BLAMELESS)
def test_a_blameless_sentence_is_not_flagged(sentence: str) -> None:
    assert find_blame([("review", sentence)], PEOPLE, SYSTEMS) == []


def test_the_corpus_is_large_enough_to_measure_both() -> None:
    assert len(BLAMING) + len(BLAMELESS) >= 40
    assert len(BLAMING) >= 15 and len(BLAMELESS) >= 15


def test_the_rewording_speaks_of_the_system() -> None:
    (broke,) = find_blame([("why", "John broke the deploy.")])
    assert "The deploy broke after a change" in broke.suggestion
    assert "John" not in broke.suggestion
    (forgot,) = find_blame([("why", "Sam forgot to renew the TLS certificate.")])
    assert '"renew the TLS certificate" did not happen' in forgot.suggestion
    (fault,) = find_blame([("why", "Whose fault was this?")])
    assert fault.reason == "asks whose fault it was"


def test_a_sentence_quoted_again_is_reported_once_where_first_seen() -> None:
    text = "John broke the deploy."
    report = f"| 1 | {text} |\n- Went poorly: {text}\n- Kim forgot the backup."
    findings = find_blame([("whys", text), ("report", report)])
    assert [(f.where, f.sentence) for f in findings] == [
        ("whys", text),
        ("report", "Kim forgot the backup."),
    ]


def test_markdown_is_split_into_cells_items_and_sentences() -> None:
    text = "# Title\n\n- First item. Second one.\n| a | b |\n|---|---|\n1. **Bold** step"
    assert sentences_of(text) == ["Title", "First item.", "Second one.", "a", "b", "Bold step"]
