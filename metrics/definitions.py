"""The seed's three targets, what each number means, and the page's filters."""
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from lib.outcomes import REACHED_TESTS, Outcome
from tickets.models import Project

__all__ = ["REACHED_TESTS"]

MET, MISSED, NO_DATA = "met", "missed", "no_data"

# The model server answered with an error instead of an answer: such an attempt
# is not the ticket's "first attempt" and is reported under infrastructure
# failures. (When the server is unreachable the attempt is not kept at all.)
NO_ANSWER = Outcome.MODEL_ERROR
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")  # YYYY-MM-DD only (fromisoformat also takes 20240105 and week dates)

# A rate above this is a measurement error, not a speed: a duration reported as a few nanoseconds turns 124
# tokens into 124,000,000,000 tokens/s. No local model server reads a prompt, let alone writes, at 100,000 tokens a
# second, so an attempt beyond it is left out of the tokens-per-second figures (shown as "-", null in the API).
MAX_TOKENS_PER_SECOND = 100_000

FAILURE_REASONS = (
    ("apply_failed", "Edit apply failures", (Outcome.APPLY_FAILED,)),
    ("tests_failed", "Red tests", (Outcome.TESTS_FAILED,)),
    ("timeout", "Test timeouts", (Outcome.TIMEOUT,)),
    ("syntax_failed", "Syntax errors", (Outcome.SYNTAX_FAILED,)),
    ("infrastructure", "Infrastructure errors", (Outcome.MODEL_ERROR, Outcome.ERROR, Outcome.INTERRUPTED)),
)


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    kind: str  # "rate" (a share, higher is better) or "seconds" (lower is better)
    threshold: float
    text: str

    def status(self, value: float | None) -> str:
        if value is None:
            return NO_DATA
        passed = value > self.threshold if self.kind == "rate" else value < self.threshold
        return MET if passed else MISSED


FIRST_ATTEMPT = Target("first_attempt_completion", "Completed on the first attempt", "rate", 0.60, "> 60 %")
TICKET_TIME = Target("avg_ticket_seconds", "Average time per ticket", "seconds", 600.0, "< 10 min")
TESTS_FIRST = Target("tests_first_attempt", "Tests pass on the first attempt", "rate", 0.70, "> 70 %")
TARGETS = (FIRST_ATTEMPT, TICKET_TIME, TESTS_FIRST)

DEFINITIONS = {
    FIRST_ATTEMPT.key: "Among tickets whose first run has finished (reached completed or failed at least once), "
                       "the share whose first run completed with its first attempt passing the tests.",
    TICKET_TIME.key: "completado_en - iniciado_en of tickets with a finished run (their latest run), split into "
                     "model time (sum of the run's attempts' model seconds), test time (sum of test seconds) "
                     "and the rest (checkout, setup, applying edits, commit and push).",
    TESTS_FIRST.key: "Among tickets whose first attempt got as far as running the tests, the share where those "
                     "tests passed.",
    "first_attempt": "A ticket's first attempt is its lowest-numbered attempt in which the model answered; "
                     "an attempt where the model server returned an error counts as an infrastructure "
                     "failure instead, and an unreachable server leaves no attempt (the ticket waits).",
    "queue": "Queue: tickets in pending or changes_requested now. Wait: iniciado_en - queued_at of the "
             "latest run.",
    "tokens": "Tokens per ticket: prompt + output tokens of the latest finished run. Tokens per second: output "
              "tokens / generation seconds (prompt tokens / prompt seconds for reading), over the attempts whose "
              f"reported speed is at most {MAX_TOKENS_PER_SECOND:,} tokens/s (faster is a timing error of the "
              "model server, not a speed).",
    "failures": "Failed attempts by outcome; infrastructure errors are attempts where the model server "
                "failed to answer, the agent itself failed (git, setup command, prompt too large), or its worker "
                "stopped mid-run (interrupted).",
    "flaky": "Tests that passed on the base branch, failed in a ticket's final run and passed when re-run alone: "
             "they did not block the ticket. Counted over the tickets in scope.",
    "model_busy": "Busy fraction of each model host per ISO week (of the request's start): the time it was "
                  "generating (the union of its requests, each candidate's included, so requests served at once "
                  "count once) over the factory's working wall time that week (the union of the tickets' latest "
                  "runs and of every attempt, so hours with no ticket running are not counted). An answer "
                  "cancelled because another candidate already won counts until it was closed.",
    "idle": "Attempts with a test the model added or changed that passes on the base commit's code too (its test "
            "files run without its other edits): it does not test the change (the attempt was sent back when none of its new tests failed there). The "
            "rate is over the attempts whose tests were judged against the base.",
    "review": "Merged first time: merged without any changes_requested. Changes requested: tickets sent back "
              "by a reviewer at least once.",
    "filters": "project, since and until select tickets by project and by the day they were created (UTC, "
               "both days included). Weeks are ISO weeks of completado_en (or of the first run's end while "
               "a new run is going on).",
}


class MetricsFilterError(ValueError):
    """A bad query filter; `errors` maps each parameter to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))


@dataclass(frozen=True)
class MetricsFilter:
    project: Project | None = None
    since: date | None = None
    until: date | None = None

    def as_dict(self) -> dict:
        return {
            "project": self.project.name if self.project else None,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


def parse_filters(params: Mapping[str, str]) -> MetricsFilter:
    """Read ?project=NAME&since=YYYY-MM-DD&until=YYYY-MM-DD; empty values mean no filter."""
    errors: dict[str, str] = {}
    project = None
    name = (params.get("project") or "").strip()
    if "\x00" in name:  # PostgreSQL refuses it in a query: a clear 400 instead of a database error
        errors["project"] = f"No project named {name!r}: a project name contains no NUL byte."
    elif name:
        project = Project.objects.filter(name=name).first()
        if project is None:
            errors["project"] = f"No project named {name!r}."
    since, until = (_parse_day(params, key, errors) for key in ("since", "until"))
    if since and until and since > until:
        errors["until"] = f"until ({until}) is before since ({since})."
    if errors:
        raise MetricsFilterError(errors)
    return MetricsFilter(project=project, since=since, until=until)


def _parse_day(params: Mapping[str, str], key: str, errors: dict[str, str]) -> date | None:
    value = params.get(key) or ""
    if not value:
        return None
    try:
        if not DAY.fullmatch(value):
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        errors[key] = f"{value!r} is not a date; use YYYY-MM-DD."
        return None
    if day >= date.max:
        errors[key] = f"{value!r} is out of range; use a day before 9999-12-31."
        return None
    return day
