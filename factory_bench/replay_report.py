"""A replay's results: per commit accepted or not, attempts, where the time went and why a miss missed; the table.

Each commit's entry holds the suite report's per-ticket fields (factory_bench.report.ticket_result), so the seed's
three metrics are computed the same way, plus the commit, the time split and the reason for a miss.
"""
from tickets.models import Ticket
from tickets.states import State

IDLE_TESTS = "Fix the ticket: its acceptance tests (tests_codigo) must fail"  # agent/worker/acceptance.py
# The factory's own words for a miss, and what they mean for a replayed commit.
MEANINGS = (
    (IDLE_TESTS,
     "the commit's tests already pass on its parent, so they do not test its change"),
    ("Fix the ticket: its tests_codigo cannot be run on their own",
     "the commit's test files cannot be run on their own with the test command"),
    ("Fix the ticket: its tests_codigo gave no per-test report",
     "the test command gave no per-test report for the commit's test files"),
    ("Fix the ticket:", "the factory refused the ticket"),
    ("Fix the project:", "the project's setup or tests do not work on the commit's parent"),
    ("Failed after", "the commit's real change did not pass the factory's verdict"),
    ("Every model failed", "the commit's real change did not pass the factory's verdict"),
)


def time_split(ticket: Ticket) -> dict:
    """Seconds of the ticket's run: before the first model request (worktree, setup, baseline, the acceptance
    tests on the base), the model, the test runs, and the rest (edits, checks, commit and push)."""
    if ticket.iniciado_en is None or ticket.completado_en is None:
        return {"total": None, "setup": None, "model": None, "tests": None, "other": None}
    total = (ticket.completado_en - ticket.iniciado_en).total_seconds()
    attempts = list(ticket.attempts.order_by("number"))
    setup = (attempts[0].started_at - ticket.iniciado_en).total_seconds() if attempts else total
    model = sum(attempt.model_seconds or 0 for attempt in attempts)
    tests = sum(attempt.test_seconds or 0 for attempt in attempts)
    other = max(0.0, total - setup - model - tests)
    return {name: round(value, 1) for name, value in
            (("total", total), ("setup", setup), ("model", model), ("tests", tests), ("other", other))}


def tests_pass_on_parent(ticket: Ticket) -> bool:
    """The factory's check before any model request found the commit's tests passing without its change."""
    return ticket.estado == State.FAILED and (ticket.error_mensaje or "").startswith(IDLE_TESTS)


def why(ticket: Ticket) -> str:
    """Why the ticket was not accepted: what the factory's message means here, then the message itself."""
    if ticket.estado == State.COMPLETED:
        return ""
    error = (ticket.error_mensaje or f"the ticket ended {ticket.estado} with no error message").strip()
    meaning = next((text for prefix, text in MEANINGS if error.startswith(prefix)), "")
    return f"{meaning}: {error}" if meaning else error


# Printing -------------------------------------------------------------------

COLUMNS = (("commit", 11), ("accepted", 9), ("agent", 10), ("att", 4), ("total s", 8), ("setup s", 8),
           ("model s", 8), ("tests s", 8), ("other s", 8), ("subject", 0))
SUBJECT_CHARS = 50


def table_header() -> str:
    header = "".join(f"{name:<{width}}" for name, width in COLUMNS).rstrip()
    return f"{header}\n{'-' * (len(header) + SUBJECT_CHARS - len('subject'))}"


def table_row(entry: dict) -> str:
    split = entry["time"]
    seconds = ["-" if split[name] is None else f"{split[name]:.1f}"
               for name in ("total", "setup", "model", "tests", "other")]
    cells = (entry["sha"][:10], "yes" if entry["accepted"] else "NO", entry["agent_state"] or "-",
             entry["attempts"], *seconds, entry["subject"][:SUBJECT_CHARS])
    return "".join(f"{str(cell):<{width}}" for cell, (_, width) in zip(cells, COLUMNS, strict=True)).rstrip()


def miss_lines(entries: list[dict]) -> list[str]:
    return [f"  {entry['sha'][:10]} not accepted: {entry['why']}" for entry in entries if not entry["accepted"]]


def accepted_line(entries: list[dict]) -> str:
    accepted = sum(entry["accepted"] for entry in entries)
    unreplayable = sum(entry["agent_state"] is None for entry in entries)
    tail = f" ({unreplayable} could not be made into a ticket)" if unreplayable else ""
    return f"  {'Commits accepted':<34}{accepted} of {len(entries)}{tail}"
