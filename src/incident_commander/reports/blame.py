"""The blameless check: sentences that aim a failure at a person, each with a system-focused
rewording.

A finding needs a person as the subject of a failure verb ("Sam broke the deploy", "the on-call
engineer forgot to renew the certificate", "nobody reviewed the change", "he should have
checked"), a question of fault ("whose fault was it"), or "human error" given as a cause. A
system as the subject ("the deploy script failed", "the validation didn't catch this") is what
a blameless review writes, and is never a finding.

Precision matters more than recall: a sentence is flagged only when its subject is plainly a
person: a pronoun, a role (engineer, developer, on-call, team…), a name the caller knows (the
incident's approvers, deployers, action owners), or a capitalised word that is neither a common
sentence opener nor a system word. Pure: no I/O, no imports from the rest of the package.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Finding", "find_blame", "sentences_of"]

_PRONOUNS = {"he", "she", "someone", "somebody", "whoever", "they"}
_NOBODY = {"nobody", "no one", "no-one", "noone"}
_ROLES = {
    *("engineer", "engineers", "developer", "developers", "dev", "devs", "intern", "operator"),
    *("on-call", "oncall", "on-caller", "reviewer", "reviewers", "author", "admin", "sre"),
    *("administrator", "manager", "lead", "commander", "contractor", "teammate", "colleague"),
    *("team", "qa"),
    *("person", "human", "employee", "staff", "tester", "committer", "approver", "deployer"),
}
# Capitalised words that open sentences or name systems; never taken for a person's name.
_NOT_NAMES = {
    *("the", "this", "that", "these", "those", "it", "its", "a", "an", "our", "their", "we"),
    *("i", "you", "there", "then", "when", "after", "before", "because", "since", "while"),
    *("nothing", "everything", "no", "each", "every", "some", "both", "all", "once", "if"),
    *("so", "but", "and", "or", "yes", "why", "what", "which", "also", "later", "earlier"),
    *("finally", "first", "next", "meanwhile", "today", "yesterday", "monday", "tuesday"),
    *("wednesday", "thursday", "friday", "saturday", "sunday", "root", "cause", "symptom"),
    *("deploy", "deployment", "release", "rollback", "build", "pipeline", "service", "server"),
    *("database", "db", "cache", "config", "configuration", "migration", "script", "test"),
    *("tests", "check", "checks", "alert", "alerts", "alerting", "monitoring", "health"),
    *("traffic", "load", "disk", "memory", "network", "queue", "job", "cron", "backup"),
    *("canary", "validation", "review", "process", "automation", "probe", "proxy", "dns"),
    *("cdn", "api", "app", "application", "worker", "scheduler", "system", "tool", "code"),
    *("change", "commit", "patch", "fix", "hotfix", "update", "upgrade", "version", "feature"),
    *("flag", "ci", "cd", "runner", "cluster", "node", "pod", "container", "image", "bot"),
    *("kubernetes", "docker", "redis", "postgres", "postgresql", "mysql", "nginx", "sqlite"),
    *("prometheus", "alertmanager", "grafana", "terraform", "ansible", "helm", "github"),
    *("gitlab", "jenkins", "aws", "gcp", "azure", "vercel", "fly", "railway", "django"),
    *("alembic", "prisma", "drizzle", "linux", "python", "git", "npm", "certificate", "load"),
    *("balancer", "firewall", "gateway", "endpoint", "schema", "index", "query", "request"),
    *("response", "timeout", "retry", "replica", "primary", "failover", "storage", "volume"),
    *("kafka", "rabbitmq", "elasticsearch", "s3", "lambda", "cloudflare", "sentry", "slack"),
    *("pagerduty", "opsgenie", "datadog", "upstream", "downstream", "vendor", "provider"),
}
_NAME = re.compile(r"^[A-Z][a-z]+(?:-[A-Z][a-z]+)?$")
_BRIDGE = {"also", "just", "then", "again", "probably", "apparently", "clearly", "simply"}
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")

# A failure verb phrase, and the kind of rewording it calls for.
_VERBS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("should", r"should(?:n['’]t| not)? have\b|should['’]ve\b"),
        ("mistake", r"made (?:a|an|the) (?:\w+ )?(?:mistake|error|blunder)\b"),
        ("mistake", r"(?:was|were) (?:careless|sloppy|negligent|lazy|reckless)\b"),
        ("mistake", r"(?:messed|screwed) up\b|dropped the ball\b|fat[- ]fingered\b|botched\b"),
        (
            "broke",
            r"broke\b|(?:has|have) broken\b|caused\b|deleted\b|wiped\b"
            r"|pushed (?:a |an |the )?(?:bad|broken|buggy|untested|faulty)\b",
        ),
        ("omitted", r"forgot\b|forgotten\b|neglected\b|overlooked\b|ignored\b|missed\b"),
        (
            "omitted",
            r"skipped\b|failed to\b|never\b(?! (?:got|received|heard|had|saw)\b)"
            r"|did(?:n['’]t| not)\b(?! (?:get|receive|have|hear|need)\b)",
        ),
    )
)
_NOBODY_VERB = re.compile(
    r"\b(?P<who>nobody|no one|no-one|noone)\s+(?P<verb>(?!was\b|were\b|is\b|has been\b)"
    r"(?!(?:needed|seemed|appeared|used|wanted|expected|managed)\b)"
    r"(?:[a-z]+ed|caught|saw|read|ran|took|bothered|told|spotted))\b",
    re.IGNORECASE,
)
_FAULT = re.compile(
    r"(?i:\bwhose fault\b)|\b(?!It)(?:[A-Z][a-z]+['’]s|his|her|their) fault\b"
    r"|(?i:\bwho (?:is|was) responsible\b|\bwho (?:broke|caused|messed)\b)",
)
_HUMAN_ERROR = re.compile(r"\b(?:human|operator|user|engineer|pilot) error\b", re.IGNORECASE)
_AS_CAUSE = re.compile(
    r"root cause|\bcause:|caused by|due to|because of|\bblame"
    r"|\b(?:was|is|were)\s+(?:a |an |simply |just |pure |plain )?\w+ error\b|^\W*\w+ error\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\bnot\b|\bnever\b|n['’]t\b|rather than|instead of|\bbeyond\b", re.I)
_EXONERATES = re.compile(r"did(?:n['’]t| not) (?:cause|break)\b", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[,;:()\[\]\"“”]|\b(?:because|when|and|but|so|after|since|while)\b")


@dataclass(frozen=True)
class _Known:
    people: set[str]
    systems: set[str]


@dataclass(frozen=True)
class Finding:
    """One sentence that aims blame at a person, and how to say it of the system instead."""

    where: str
    sentence: str
    reason: str
    suggestion: str


def sentences_of(text: str) -> list[str]:
    """The sentences of a Markdown text: table cells, list items and prose, split at stops."""
    found: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or set(line) <= set("|-: "):
            continue
        parts = [cell for cell in line.strip("|").split("|")] if line.startswith("|") else [line]
        for part in parts:
            part = re.sub(r"^(?:[-*+]|\d+\.|#+)\s+", "", part.strip())
            part = re.sub(r"[*_`]+", "", part).strip()
            for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z\"“(])", part):
                if sentence.strip():
                    found.append(sentence.strip())
    return found


def _subject_words(before: str) -> list[str]:
    """The words of the clause that ends where the verb starts."""
    clause = _CLAUSE_END.split(before)[-1] if before else ""
    words = _WORD.findall(clause)
    while words and words[-1].lower() in _BRIDGE:
        words.pop()
    while words and words[-1].lower().endswith("ly") and len(words) > 1:
        words.pop()  # "Sam accidentally deleted": the adverb sits between subject and verb
    return words


def _person(words: list[str], known: _Known, verb_kind: str) -> str | None:
    """The person the clause's last words name, if they plainly name one."""
    if not words:
        return None
    last = words[-1]
    lowered = [w.lower() for w in words]
    for size in (3, 2, 1):
        if len(words) >= size and " ".join(lowered[-size:]) in known.people:
            return " ".join(words[-size:])
    if last.lower() in _PRONOUNS:
        if last.lower() == "they" and verb_kind not in ("should", "mistake"):
            return None
        return last
    if last.lower() in _ROLES:
        return " ".join(words[-2:]) if len(words) > 1 else last
    if _NAME.match(last) and last.lower() not in _NOT_NAMES | known.systems:
        previous = words[-2] if len(words) > 1 else None
        if previous is not None and not _NAME.match(previous):
            if previous.lower() not in ("by", "to", "with", "from", "for", "told", "asked"):
                return None  # "the Postgres broke": a lower-case word before it: a thing
        if previous is not None and previous.lower() in _NOT_NAMES:
            return None
        return " ".join(words[-2:]) if previous and _NAME.match(previous) else last
    return None


def _object_of(after: str) -> str:
    """The words after the verb up to the clause's end, without a leading "to"."""
    words = re.split(r"[.,;:!?]", after, maxsplit=1)[0].strip()
    return re.sub(r"^to\s+", "", words, flags=re.IGNORECASE).strip()


def _suggest(kind: str, rest: str) -> str:
    thing = _object_of(rest)
    if kind == "broke":
        subject = f"{thing[:1].upper()}{thing[1:]}" if thing else "The system"
        return (
            f'Say what happened to the system: "{subject} broke after a change; which check '
            'would have stopped the change before it reached production?"'
        )
    if kind == "should":
        step = f'"{thing}"' if thing else "the missing step"
        return (
            f"Say what would have prevented it: {step} is not enforced; how can the system "
            "make it the default?"
        )
    if kind == "mistake":
        return (
            "Name the condition that made the slip easy (a missing check, an unclear step, a "
            "risky default) and what would catch it next time."
        )
    step = f'"{thing}"' if thing else "the step"
    return (
        f"Say what the process lacked: {step} did not happen; what check, reminder or automation "
        "would make it happen every time?"
    )


def _verb_findings(where: str, sentence: str, known: _Known) -> Finding | None:
    if _EXONERATES.search(sentence):
        return None
    for kind, pattern in _VERBS:
        for match in pattern.finditer(sentence):
            before = sentence[: match.start()]
            words = _subject_words(before)
            who = _person(words, known, kind)
            if who is None:
                continue
            return Finding(
                where=where,
                sentence=sentence,
                reason=f"{who!r} is the subject of {match.group(0).strip()!r}",
                suggestion=_suggest(kind, sentence[match.end() :]),
            )
    return None


def _finding(where: str, sentence: str, known: _Known) -> Finding | None:
    if _FAULT.search(sentence) and not _NEGATION.search(sentence):
        return Finding(
            where=where,
            sentence=sentence,
            reason="asks whose fault it was",
            suggestion="Ask what allowed this to happen and what would have detected it earlier.",
        )
    human = _HUMAN_ERROR.search(sentence)
    if human and _AS_CAUSE.search(sentence) and not _NEGATION.search(sentence):
        return Finding(
            where=where,
            sentence=sentence,
            reason=f"gives {human.group(0)!r} as a cause",
            suggestion=(
                "Name the condition that made the error possible (a missing check, an unclear "
                "step, a risky default) as the cause instead."
            ),
        )
    nobody = _NOBODY_VERB.search(sentence)
    if nobody:
        return Finding(
            where=where,
            sentence=sentence,
            reason=f"{nobody['who']!r} is the subject of {nobody['verb']!r}",
            suggestion=(
                f'Say what the process lacked: "{nobody["verb"]}" was left to someone\'s '
                "attention; what check or signal would have done it?"
            ),
        )
    return _verb_findings(where, sentence, known)


def find_blame(
    texts: Iterable[tuple[str, str]], people: Iterable[str] = (), systems: Iterable[str] = ()
) -> list[Finding]:
    """Every sentence of ``texts`` ((where, text) pairs) that blames a person, once each.

    ``people``: names known to belong to people (approvers, deployers, owners); ``systems``:
    names known to belong to things (services, options), never taken for a person.
    """
    known = _Known(
        people={" ".join(p.lower().split()) for p in people if p and p.strip()},
        systems={s.lower() for s in systems if s},
    )
    earlier: list[str] = []  # every sentence of the texts before this one
    found: list[Finding] = []
    for where, text in texts:
        keys = []
        for sentence in sentences_of(text):
            key = " ".join(sentence.lower().split())
            keys.append(key)
            # A sentence quoted again later (the report repeats the review) is reported once.
            if any(seen in key for seen in earlier):
                continue
            finding = _finding(where, sentence, known)
            if finding is not None:
                found.append(finding)
        earlier += keys
    return found
