"""A benchmark run's results: per ticket, the seed's three metrics over them, and the console table."""
import statistics
from collections import Counter

from lib.intervals import busy_fraction, covered
from lib.outcomes import REACHED_TESTS, Outcome
from metrics.definitions import FIRST_ATTEMPT, TESTS_FIRST, TICKET_TIME, Target
from tickets.models import Ticket
from tickets.states import State

# Results --------------------------------------------------------------------


def ticket_result(*, key: str, ticket: Ticket, hidden: dict | None) -> dict:
    attempts = list(ticket.attempts.order_by("number"))
    answered = [attempt for attempt in attempts if attempt.outcome != Outcome.MODEL_ERROR]
    first = answered[0].outcome if answered else None
    seconds = ((ticket.completado_en - ticket.iniciado_en).total_seconds()
               if ticket.completado_en and ticket.iniciado_en else None)
    eval_seconds = sum(attempt.eval_seconds or 0 for attempt in answered)
    prompt_seconds = sum(attempt.prompt_eval_seconds or 0 for attempt in answered)
    return {
        "key": key, "ticket_id": str(ticket.pk), "titulo": ticket.titulo, "tipo": ticket.tipo,
        "agent_state": ticket.estado, "final_state": ticket.estado, "attempts": ticket.intentos,
        "attempt_outcomes": [attempt.outcome for attempt in attempts],
        "edit_formats": sorted({attempt.edit_format for attempt in answered if attempt.edit_format}),
        "first_attempt_outcome": first,
        "tests_passed_first_attempt": first == Outcome.PASSED,
        "completed_first_attempt": ticket.estado == State.COMPLETED and first == Outcome.PASSED,
        "hidden": hidden, "accepted": False, "error": ticket.error_mensaje or "",
        "seconds": seconds, "minutes": round(seconds / 60, 3) if seconds is not None else None,
        "prompt_tokens": sum(attempt.prompt_tokens or 0 for attempt in answered),
        "eval_tokens": sum(attempt.eval_tokens or 0 for attempt in answered),
        "model_seconds": round(sum(attempt.model_seconds or 0 for attempt in answered), 3),
        "test_seconds": round(sum(attempt.test_seconds or 0 for attempt in answered), 3),
        "eval_seconds": round(eval_seconds, 3), "prompt_eval_seconds": round(prompt_seconds, 3),
        "eval_tokens_per_second": per_second(sum(attempt.eval_tokens or 0 for attempt in answered), eval_seconds),
        "prompt_tokens_per_second": per_second(sum(attempt.prompt_tokens or 0 for attempt in answered),
                                               prompt_seconds),
        "merge_commit": "", "reference_commit": "", "note": "",
        "model_calls": model_calls(attempts),
        "run": ([ticket.iniciado_en.timestamp(), ticket.completado_en.timestamp()]
                if ticket.iniciado_en and ticket.completado_en else None),
    }


def model_calls(attempts: list) -> list[list]:
    """[host, started (epoch s), seconds] of every model request: each candidate's, else the attempt's own."""
    calls = []
    for attempt in attempts:
        candidates = [entry for entry in attempt.candidates or [] if isinstance(entry, dict)]
        if candidates:
            calls += [[entry.get("model_host") or attempt.model_host,
                       entry.get("model_started") or attempt.started_at.timestamp(), entry["model_seconds"]]
                      for entry in candidates if isinstance(entry.get("model_seconds"), int | float)]
        elif attempt.model_seconds is not None:
            calls.append([attempt.model_host, (attempt.model_started_at or attempt.started_at).timestamp(),
                          attempt.model_seconds])
    return calls


def model_busy(results: list[dict]) -> dict:
    """Per model host: generation time (requests at once counted once) over the run's wall time, the union of the
    tickets' runs."""
    wall = [tuple(result["run"]) for result in results if result.get("run")]
    hosts: dict[str, list] = {}
    for result in results:
        for host, started, seconds in result.get("model_calls") or []:
            hosts.setdefault(host or "(host not recorded)", []).append((started, started + seconds))
    return {"wall_seconds": round(covered(wall), 1),
            "hosts": {host: {"requests": len(calls), "generation_seconds": round(covered(calls), 1),
                             "busy_fraction": busy_fraction(calls, wall)} for host, calls in sorted(hosts.items())}}


def per_second(amount: float, seconds: float) -> float | None:
    return round(amount / seconds, 1) if seconds else None


def rate_metric(target: Target, numerator: int, denominator: int) -> dict:
    value = round(numerator / denominator, 4) if denominator else None
    return {"label": target.label, "value": value, "count": numerator, "of": denominator, "target": target.text,
            "status": target.status(value)}


def summarize(results: list[dict]) -> dict:
    """The seed's three metrics (same definitions as the metrics page) and what explains them."""
    ran = [result for result in results if result["agent_state"] in (State.COMPLETED, State.FAILED)]
    reached = [result for result in ran if result["first_attempt_outcome"] in REACHED_TESTS]
    seconds = [result["seconds"] for result in ran if result["seconds"] is not None]
    average = mean(seconds)
    accepted = [result for result in ran if result["accepted"]]
    return {
        "tickets": len(ran),
        FIRST_ATTEMPT.key: rate_metric(FIRST_ATTEMPT, sum(r["completed_first_attempt"] for r in ran), len(ran)),
        TICKET_TIME.key: {"label": TICKET_TIME.label, "value": average,
                          "minutes": round(average / 60, 2) if average is not None else None,
                          "median": round(statistics.median(seconds), 3) if seconds else None,
                          "target": TICKET_TIME.text, "status": TICKET_TIME.status(average)},
        TESTS_FIRST.key: rate_metric(TESTS_FIRST, sum(r["tests_passed_first_attempt"] for r in reached),
                                     len(reached)),
        "accepted_by_hidden_tests": {"label": "Accepted by the hidden tests", "count": len(accepted),
                                     "of": len(ran), "value": round(len(accepted) / len(ran), 4) if ran else None},
        "prompt_tokens": sum(result["prompt_tokens"] for result in ran),
        "eval_tokens": sum(result["eval_tokens"] for result in ran),
        "tokens_per_ticket": round(sum(r["prompt_tokens"] + r["eval_tokens"] for r in ran) / len(ran)) if ran else None,
        "eval_tokens_per_second": per_second(sum(r["eval_tokens"] for r in ran if r["eval_seconds"]),
                                             sum(r["eval_seconds"] for r in ran)),
        "prompt_tokens_per_second": per_second(sum(r["prompt_tokens"] for r in ran if r["prompt_eval_seconds"]),
                                               sum(r["prompt_eval_seconds"] for r in ran)),
        "model_seconds": round(sum(result["model_seconds"] for result in ran), 3),
        "test_seconds": round(sum(result["test_seconds"] for result in ran), 3),
        "failure_reasons": failure_reasons(ran),
        "model_busy": model_busy(ran),
        "not_accepted": [result["key"] for result in ran if not result["accepted"]],
    }


def failure_reasons(results: list[dict]) -> dict:
    reasons = Counter(outcome for result in results for outcome in result["attempt_outcomes"]
                      if outcome != Outcome.PASSED)
    reasons["hidden_tests_failed"] = sum(1 for result in results if result["hidden"] and not result["hidden"]["passed"])
    reasons["merge_failed"] = sum(1 for result in results if result["note"].startswith("merge failed"))
    return {reason: count for reason, count in sorted(reasons.items()) if count}


def per_ticket_summary(repeats: list[dict]) -> dict:
    keys: dict[str, list[dict]] = {}
    for repeat in repeats:
        for result in repeat["tickets"]:
            keys.setdefault(result["key"], []).append(result)
    return {key: {"runs": len(results), "accepted": sum(r["accepted"] for r in results),
                  "completed_first_attempt": sum(r["completed_first_attempt"] for r in results),
                  "average_minutes": mean([r["minutes"] for r in results if r["minutes"] is not None])}
            for key, results in keys.items()}


def mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


# Printing -------------------------------------------------------------------

COLUMNS = (("key", 5), ("tipo", 9), ("agent", 10), ("att", 4), ("tests@1", 8), ("hidden", 7), ("accepted", 9),
           ("min", 7), ("prompt tok", 11), ("eval tok", 9), ("model s", 8), ("test s", 7))


def table_header() -> str:
    header = "".join(f"{name:<{width}}" for name, width in COLUMNS).rstrip()
    return f"{header}\n{'-' * len(header)}"


def table_row(result: dict) -> str:
    hidden = result["hidden"]
    cells = (result["key"], result["tipo"], result["agent_state"], result["attempts"],
             yes_no(result["tests_passed_first_attempt"]), "-" if hidden is None else ("pass" if hidden["passed"]
                                                                                       else "FAIL"),
             yes_no(result["accepted"]), "-" if result["minutes"] is None else f"{result['minutes']:.2f}",
             result["prompt_tokens"], result["eval_tokens"], f"{result['model_seconds']:.1f}",
             f"{result['test_seconds']:.1f}")
    return "".join(f"{str(cell):<{width}}" for cell, (_, width) in zip(cells, COLUMNS, strict=True)).rstrip()


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def metrics_lines(metrics: dict) -> list[str]:
    lines = []
    for target in (FIRST_ATTEMPT, TICKET_TIME, TESTS_FIRST):
        metric = metrics[target.key]
        if target is TICKET_TIME:
            value = "-" if metric["value"] is None else f"{metric['minutes']:.2f} min"
        else:
            value = percent(metric)
        status = {"met": "met", "missed": "MISSED", "no_data": "no data"}[metric["status"]]
        lines.append(f"  {target.label:<34}{value:<20}target {metric['target']:<9}{status}")
    accepted = metrics["accepted_by_hidden_tests"]
    lines.append(f"  {accepted['label']:<34}{percent(accepted)}")
    speeds = (metrics["eval_tokens_per_second"], metrics["prompt_tokens_per_second"])
    writing, reading = ("-" if speed is None else speed for speed in speeds)
    lines.append(f"  {'Tokens per ticket':<34}{metrics['tokens_per_ticket'] or 0} (model writes {writing} "
                 f"tokens/s, reads the prompt at {reading} tokens/s)")
    for host, busy in metrics.get("model_busy", {}).get("hosts", {}).items():
        fraction = "-" if busy["busy_fraction"] is None else f"{busy['busy_fraction'] * 100:.1f} %"
        lines.append(f"  {'Model busy ' + host:<34}{fraction} ({busy['generation_seconds']:.0f} s generating of "
                     f"{metrics['model_busy']['wall_seconds']:.0f} s, {busy['requests']} requests)")
    if metrics["failure_reasons"]:
        reasons = ", ".join(f"{name} {count}" for name, count in metrics["failure_reasons"].items())
        lines.append(f"  {'Failed attempts and rejections':<34}{reasons}")
    return lines


def percent(metric: dict) -> str:
    if metric["value"] is None:
        return "-"
    return f"{metric['value'] * 100:.1f} % ({metric['count']}/{metric['of']})"


