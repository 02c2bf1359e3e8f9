"""A test run's result (lib.testschema.SuiteResult, kept in tests_resultado and test_result) shaped for the pages
that show it: the review page and the admin. A stored row may predate any key: each is read with .get()."""
from typing import Any

from lib.testschema import SuiteResult, VerdictRecord

# How each verdict list is shown: (key, label, tone, open by default). "already failing on <branch>" is added.
CATEGORIES = (("broken", "broken (passed on the base, fail now)", "bad", True),
              ("new_failing", "new and failing", "bad", True),
              ("removed", "passed on the base but did not run", "bad", True),
              ("idle", "do not test the change (pass on the base too)", "bad", True),
              ("ticket_failing", "the ticket's own, failing on the base and still failing", "bad", True),
              ("fixed", "fixed (failed on the base, pass now)", "good", False),
              ("new", "new and passing", "good", False),
              ("flaky", "flaky (failed once, passed on re-run)", "busy", True))


def test_view(result: SuiteResult | None) -> dict[str, Any] | None:
    if not result:
        return None
    return {
        **result,
        "duration": format_seconds(result.get("duration_s")),
        "failures": result.get("failures") or [],
        "ok": bool(result.get("success")),
        "categories": verdict_categories(result.get("verdict")),
        "timings": timings(result),
    }


def verdict_categories(verdict: VerdictRecord | None) -> list[dict[str, Any]]:
    if not verdict:
        return []
    shown = [{"key": key, "label": label, "tone": tone, "open": opened, "ids": verdict.get(key) or []}
             for key, label, tone, opened in CATEGORIES]
    branch = verdict.get("base_branch") or "the base branch"
    shown.append({"key": "still_failing", "label": f"already failing on {branch}", "tone": "", "open": False,
                  "ids": verdict.get("still_failing") or []})
    return [category for category in shown if category["ids"]]


def timings(result: SuiteResult) -> str:
    scoped, full = result.get("scoped"), result.get("full_seconds")
    parts = [f"related tests first: {format_seconds(scoped.get('seconds'))}"] if scoped else []
    parts += [f"full suite: {format_seconds(full)}"] if full is not None else []
    return " · ".join(parts)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} days"
