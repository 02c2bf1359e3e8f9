"""The factory's metrics: the seed's three targets and the numbers that explain them.

Everything is aggregated in PostgreSQL in two statements: one over tickets
(one row per ticket built from a single hash-aggregated pass over its attempts
and one over its state changes, then summed per project x model x week cell,
plus the medians and p90s), one over attempts (failures and model speed). The
totals and breakdowns are sums of the few hundred cells, so the page stays
around a second with 100,000 tickets on two cores. Targets, definitions and
filters are in metrics.definitions.
"""
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from lib.outcomes import REACHED_TESTS, Outcome
from metrics.busy import model_busy
from metrics.definitions import (
    DEFINITIONS,
    FAILURE_REASONS,
    FIRST_ATTEMPT,
    MAX_TOKENS_PER_SECOND,
    NO_ANSWER,
    TESTS_FIRST,
    TICKET_TIME,
    MetricsFilter,
    Target,
)
from metrics.sql import fetch_rows, rounded, table_names, where_clause

# SQL ----------------------------------------------------------------------

# One row per ticket in scope, from one pass over its attempts and one over its state changes.
PER_TICKET_SQL = """
WITH attempts AS (
    -- min() over [zero-padded number, outcome, model] picks the first answered attempt in a hash
    -- aggregate: no sort of all attempts.
    SELECT a.ticket_id,
           min(ARRAY[lpad(a.number::text, 10, '0'), a.outcome, a.model_name])
               FILTER (WHERE a.outcome <> %(no_answer)s) AS first_attempt,
           sum(a.model_seconds) FILTER (WHERE a.started_at BETWEEN t.iniciado_en AND t.completado_en) AS model_s,
           sum(a.test_seconds) FILTER (WHERE a.started_at BETWEEN t.iniciado_en AND t.completado_en) AS test_s,
           sum(coalesce(a.prompt_tokens, 0) + coalesce(a.eval_tokens, 0))
               FILTER (WHERE a.started_at BETWEEN t.iniciado_en AND t.completado_en) AS tokens
    FROM {attempts} a JOIN {tickets} t ON t.id = a.ticket_id
    WHERE {where}
    GROUP BY a.ticket_id
), states AS (
    SELECT e.ticket_id,
           min(e.created_at) FILTER (WHERE e.to_state = 'completed') AS first_completed_at,
           min(e.created_at) FILTER (WHERE e.to_state = 'failed') AS first_failed_at,
           bool_or(e.to_state = 'merged') AS merged,
           count(*) FILTER (WHERE e.to_state = 'changes_requested') AS changes
    FROM {events} e JOIN {tickets} t ON t.id = e.ticket_id
    WHERE {where} AND e.kind = 'state' AND e.to_state IN ('completed', 'failed', 'merged', 'changes_requested')
    GROUP BY e.ticket_id
), per_ticket AS MATERIALIZED (
    SELECT p.name AS project, a.first_attempt[3] AS model, t.estado,
           to_char(coalesce(t.completado_en, first_run.ended_at) AT TIME ZONE %(tz)s, 'IYYY-"W"IW') AS week,
           first_run.ended_at IS NOT NULL AS first_run_done,
           coalesce(first_run.completed AND a.first_attempt[2] = 'passed', false) AS first_attempt_ok,
           coalesce(a.first_attempt[2] = ANY(%(reached_tests)s), false) AS reached_tests,
           coalesce(a.first_attempt[2] = 'passed', false) AS tests_ok,
           run.seconds, run.model_s, run.test_s,
           CASE WHEN run.seconds IS NOT NULL THEN greatest(run.seconds - run.model_s - run.test_s, 0) END AS rest_s,
           nullif(a.tokens, 0)::float8 AS tokens,
           CASE WHEN t.iniciado_en >= t.queued_at THEN extract(epoch FROM t.iniciado_en - t.queued_at)::float8 END
               AS wait_s,
           CASE WHEN t.estado IN ('pending', 'changes_requested') THEN t.queued_at END AS queued_at,
           coalesce(st.merged, false) AS merged, coalesce(st.changes, 0) AS changes
    FROM {tickets} t
    JOIN {projects} p ON p.id = t.project_id
    LEFT JOIN attempts a ON a.ticket_id = t.id
    LEFT JOIN states st ON st.ticket_id = t.id
    CROSS JOIN LATERAL (
        -- The first run ended at the first completed or failed state change, whichever came first.
        SELECT least(st.first_completed_at, st.first_failed_at) AS ended_at,
               st.first_completed_at <= coalesce(st.first_failed_at, st.first_completed_at) AS completed
    ) first_run
    CROSS JOIN LATERAL (
        SELECT extract(epoch FROM t.completado_en - t.iniciado_en)::float8 AS seconds,
               CASE WHEN t.completado_en IS NOT NULL AND t.iniciado_en IS NOT NULL
                    THEN coalesce(a.model_s, 0)::float8 END AS model_s,
               CASE WHEN t.completado_en IS NOT NULL AND t.iniciado_en IS NOT NULL
                    THEN coalesce(a.test_s, 0)::float8 END AS test_s
    ) run
    WHERE {where}
)
"""

# Additive numbers per (project, model, week) cell; totals and breakdowns are sums of cells.
CELLS_SQL = """
SELECT project, model, week, count(*) AS tickets,
       count(*) FILTER (WHERE first_run_done) AS first_runs,
       count(*) FILTER (WHERE first_attempt_ok) AS first_attempt_ok,
       count(*) FILTER (WHERE reached_tests) AS reached_tests,
       count(*) FILTER (WHERE tests_ok) AS tests_ok,
       count(seconds) AS timed, sum(seconds) AS seconds_sum, sum(model_s) AS model_s_sum,
       sum(test_s) AS test_s_sum, sum(rest_s) AS rest_s_sum,
       count(tokens) AS with_tokens, sum(tokens) AS tokens_sum,
       count(*) FILTER (WHERE estado IN ('pending', 'changes_requested')) AS queue_length,
       count(*) FILTER (WHERE estado = 'pending') AS queue_pending,
       count(*) FILTER (WHERE estado = 'changes_requested') AS queue_changes,
       count(*) FILTER (WHERE estado = 'completed') AS awaiting_review,
       count(*) FILTER (WHERE merged OR changes > 0) AS reviewed,
       count(*) FILTER (WHERE merged AND changes = 0) AS merged_first_time,
       count(*) FILTER (WHERE merged AND changes > 0) AS merged_after_changes,
       count(*) FILTER (WHERE changes > 0) AS changes_tickets,
       sum(changes) AS changes_total
FROM per_ticket GROUP BY project, model, week
"""

# Medians and p90s are not additive: the overall ones, and the ticket time per breakdown group.
OVERALL_SQL = """
SELECT {quantiles}, count(wait_s) AS waits,
       extract(epoch FROM %(now)s - min(queued_at))::float8 AS oldest_wait
FROM per_ticket
"""
GROUP_QUANTILES_SQL = """
SELECT GROUPING(project, model, week) AS grouping, project, model, week,
       percentile_cont(%(quantiles)s::float8[]) WITHIN GROUP (ORDER BY seconds) AS seconds_q
FROM per_ticket WHERE seconds IS NOT NULL
GROUP BY GROUPING SETS ((project), (model), (week))
"""
TICKETS_SQL = PER_TICKET_SQL + """
SELECT (SELECT json_agg(cells) FROM ({cells}) cells) AS cells,
       (SELECT row_to_json(overall) FROM ({overall}) overall) AS overall,
       (SELECT json_agg(groups) FROM ({groups}) groups) AS groups
"""

ATTEMPTS_SQL = """
SELECT GROUPING(a.model_name, a.outcome) AS grouping, a.model_name, a.outcome, count(*) AS attempts,
       -- Speeds over attempts with a sane one only (definitions.MAX_TOKENS_PER_SECOND).
       sum(a.eval_tokens) FILTER (WHERE {sane_eval}) AS eval_tokens,
       sum(a.eval_seconds) FILTER (WHERE {sane_eval}) AS eval_seconds,
       sum(a.prompt_tokens) FILTER (WHERE {sane_prompt}) AS prompt_tokens,
       sum(a.prompt_eval_seconds) FILTER (WHERE {sane_prompt}) AS prompt_seconds
FROM {attempts} a JOIN {tickets} t ON t.id = a.ticket_id
WHERE {where}
GROUP BY GROUPING SETS ((a.model_name), (a.outcome))
"""

# Quantities with a median and p90 overall; "seconds" is the whole latest run.
QUANTILE_PARTS = ("seconds", "model_s", "test_s", "rest_s", "tokens", "wait_s")
ADDITIVE = ("tickets", "first_runs", "first_attempt_ok", "reached_tests", "tests_ok", "timed", "seconds_sum",
            "model_s_sum", "test_s_sum", "rest_s_sum", "with_tokens", "tokens_sum", "queue_length",
            "queue_pending", "queue_changes", "awaiting_review", "reviewed", "merged_first_time",
            "merged_after_changes", "changes_tickets", "changes_total")
# GROUPING() bits: a set bit means "not grouped by" that column.
BY_PROJECT, BY_MODEL, BY_WEEK = 0b011, 0b101, 0b110
BY_MODEL_ATTEMPTS, BY_OUTCOME = 0b01, 0b10


def ticket_numbers(filters: MetricsFilter, now: datetime) -> dict:
    """{"cells": [...], "overall": {...}, "groups": [...]} for the tickets in scope."""
    where, params = where_clause(filters)
    quantiles = ", ".join(f"percentile_cont(%(quantiles)s::float8[]) WITHIN GROUP (ORDER BY {part}) AS {part}_q"
                          for part in QUANTILE_PARTS)
    sql = TICKETS_SQL.format(where=where, cells=CELLS_SQL, overall=OVERALL_SQL.format(quantiles=quantiles),
                             groups=GROUP_QUANTILES_SQL, **table_names())
    row = fetch_rows(sql, {**params, "no_answer": str(NO_ANSWER), "tz": settings.TIME_ZONE, "now": now,
                       "reached_tests": [str(outcome) for outcome in REACHED_TESTS], "quantiles": [0.5, 0.9]})[0]
    return {"cells": row["cells"] or [], "overall": row["overall"], "groups": row["groups"] or []}


# Tickets whose final test run had flaky tests (failed once, passed when re-run: agent.testruns.verdict).
FLAKY_SQL = """
SELECT count(*) FILTER (WHERE jsonb_array_length(f.flaky) > 0) AS tickets,
       coalesce(sum(jsonb_array_length(f.flaky)), 0) AS tests
FROM (SELECT CASE WHEN jsonb_typeof(t.tests_resultado -> 'verdict' -> 'flaky') = 'array'
                  THEN t.tests_resultado -> 'verdict' -> 'flaky' ELSE '[]'::jsonb END AS flaky
      FROM {tickets} t WHERE {where}) f
"""


def flaky_numbers(filters: MetricsFilter) -> dict:
    where, params = where_clause(filters)
    row = fetch_rows(FLAKY_SQL.format(where=where, **table_names()), params)[0]
    return {"tickets": row["tickets"], "tests": int(row["tests"])}


# Attempts whose tests were all green but some of the tests it added or changed passed on the base commit's code
# too: they do not test the change (agent.core.workspace, bite_check). Over the attempts whose tests were judged.
IDLE_SQL = """
SELECT count(*) FILTER (WHERE jsonb_array_length(i.idle) > 0) AS attempts,
       count(*) AS judged,
       coalesce(sum(jsonb_array_length(i.idle)), 0) AS tests
FROM (SELECT CASE WHEN jsonb_typeof(a.test_result -> 'verdict' -> 'idle') = 'array'
                  THEN a.test_result -> 'verdict' -> 'idle' ELSE '[]'::jsonb END AS idle
      FROM {attempts} a JOIN {tickets} t ON t.id = a.ticket_id
      WHERE {where} AND jsonb_typeof(a.test_result -> 'verdict') = 'object') i
"""


def idle_numbers(filters: MetricsFilter) -> dict:
    where, params = where_clause(filters)
    row = fetch_rows(IDLE_SQL.format(where=where, **table_names()), params)[0]
    judged = row["judged"] or 0
    return {"attempts": row["attempts"], "tests": int(row["tests"]), "judged": judged,
            "rate": round(100 * row["attempts"] / judged, 1) if judged else None}


SANE_SPEED = "a.{seconds} > 0 AND a.{tokens} <= a.{seconds} * %(max_rate)s"


def attempt_rows(filters: MetricsFilter) -> list[dict]:
    where, params = where_clause(filters)
    sql = ATTEMPTS_SQL.format(where=where, sane_eval=SANE_SPEED.format(tokens="eval_tokens", seconds="eval_seconds"),
                              sane_prompt=SANE_SPEED.format(tokens="prompt_tokens", seconds="prompt_eval_seconds"),
                              **table_names())
    return fetch_rows(sql, {**params, "max_rate": MAX_TOKENS_PER_SECOND})


def roll_up(cells: list[dict], key: str | None = None) -> dict:
    """Sum the cells, all together (key None) or per value of key ("project", "model" or "week")."""
    groups: dict = {}
    for cell in cells:
        name = cell[key] if key else None
        total = groups.setdefault(name, dict.fromkeys(ADDITIVE, 0))
        for field in ADDITIVE:
            total[field] += cell[field] or 0
    return groups if key else groups.get(None, dict.fromkeys(ADDITIVE, 0))


# Shaping ------------------------------------------------------------------


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _avg(total: dict, part: str, count: str = "timed") -> float | None:
    return rounded(total[f"{part}_sum"] / total[count]) if total[count] else None


def _quantiles(values: list | None) -> tuple[float | None, float | None]:
    return (rounded(values[0]), rounded(values[1])) if values else (None, None)


def rate_metric(target: Target, numerator: int, denominator: int) -> dict:
    value = _rate(numerator, denominator)
    return {"key": target.key, "label": target.label, "value": value, "numerator": numerator,
            "denominator": denominator, "target": target.text, "status": target.status(value)}


def time_metric(total: dict) -> dict:
    value = _avg(total, "seconds")
    return {"key": TICKET_TIME.key, "label": TICKET_TIME.label, "value": value, "count": total["timed"],
            "target": TICKET_TIME.text, "status": TICKET_TIME.status(value)}


def seed_metrics(total: dict) -> dict:
    return {
        FIRST_ATTEMPT.key: rate_metric(FIRST_ATTEMPT, total["first_attempt_ok"], total["first_runs"]),
        TICKET_TIME.key: time_metric(total),
        TESTS_FIRST.key: rate_metric(TESTS_FIRST, total["tests_ok"], total["reached_tests"]),
    }


PART_NAMES = {"seconds": "total", "model_s": "model", "test_s": "tests", "rest_s": "rest"}


def time_split(total: dict, quantiles: dict[str, list | None]) -> dict:
    """Average, median and p90 of each part; parts without quantiles (breakdowns) have the average only."""
    split: dict = {"tickets": total["timed"]}
    for part, name in PART_NAMES.items():
        split[name] = {"avg": _avg(total, part)}
        if part in quantiles:
            split[name]["median"], split[name]["p90"] = _quantiles(quantiles[part])
    return split


def breakdown_row(total: dict, quantiles: list | None, **name) -> dict:
    return {
        **name,
        "tickets": total["tickets"],
        **seed_metrics(total),
        "time_seconds": time_split(total, {"seconds": quantiles}),
        "tokens_per_ticket": {"avg": rounded(_avg(total, "tokens", "with_tokens"), 0)},
        "merged_first_time": total["merged_first_time"],
        "changes_requested": total["changes_tickets"],
    }


def breakdown(numbers: dict, key: str, grouping: int) -> list[dict]:
    quantiles = {row[key]: row["seconds_q"] for row in numbers["groups"] if row["grouping"] == grouping}
    groups = roll_up(numbers["cells"], key)
    return [breakdown_row(groups[name], quantiles.get(name), **{key: name})
            for name in sorted(name for name in groups if name is not None)]


def throughput(row: dict | None) -> dict:
    row = row or {}
    return {
        "eval_tokens_per_second": _tokens_per_second(row.get("eval_tokens"), row.get("eval_seconds")),
        "prompt_tokens_per_second": _tokens_per_second(row.get("prompt_tokens"), row.get("prompt_seconds")),
        "attempts": row.get("attempts", 0),
    }


def _tokens_per_second(tokens, seconds) -> float | None:
    if not tokens or not seconds or tokens / seconds > MAX_TOKENS_PER_SECOND:
        return None
    return round(tokens / seconds, 1)


def overall_throughput(by_model: dict[str, dict]) -> dict:
    fields = ("eval_tokens", "eval_seconds", "prompt_tokens", "prompt_seconds", "attempts")
    return throughput({field: sum(row[field] or 0 for row in by_model.values()) for field in fields})


def queue_metrics(total: dict, overall: dict) -> dict:
    median, p90 = _quantiles(overall["wait_s_q"])
    return {
        "length": total["queue_length"],
        "pending": total["queue_pending"],
        "changes_requested": total["queue_changes"],
        "oldest_wait_seconds": rounded(overall["oldest_wait"]),
        "wait_seconds": {"count": overall["waits"], "median": median, "p90": p90},
    }


def review_metrics(total: dict) -> dict:
    return {
        "reviewed": total["reviewed"],
        "merged_first_time": total["merged_first_time"],
        "merged_first_time_rate": _rate(total["merged_first_time"], total["reviewed"]),
        "merged_after_changes": total["merged_after_changes"],
        "changes_requested_tickets": total["changes_tickets"],
        "changes_requested_total": int(total["changes_total"]),
        "awaiting_review": total["awaiting_review"],
    }


def failure_reasons(outcome_counts: dict[str, int]) -> dict:
    """Failed attempts by reason, out of all finished attempts."""
    reasons = [{"key": key, "label": label, "count": sum(outcome_counts.get(name, 0) for name in outcomes)}
               for key, label, outcomes in FAILURE_REASONS]
    finished = sum(count for outcome, count in outcome_counts.items() if outcome != Outcome.RUNNING)
    return {"failed_attempts": sum(reason["count"] for reason in reasons), "attempts": finished, "reasons": reasons}


def factory_metrics(*, filters: MetricsFilter | None = None, now: datetime | None = None) -> dict:
    """All the numbers of the metrics page and GET /api/factory/metrics, as one JSON-ready dict."""
    filters = filters or MetricsFilter()
    now = now or timezone.now()
    numbers = ticket_numbers(filters, now)
    total, overall = roll_up(numbers["cells"]), numbers["overall"]
    attempts = attempt_rows(filters)
    speed = {row["model_name"]: row for row in attempts if row["grouping"] == BY_MODEL_ATTEMPTS}
    outcomes = {row["outcome"]: row["attempts"] for row in attempts if row["grouping"] == BY_OUTCOME}
    tokens_median, _ = _quantiles(overall["tokens_q"])
    return {
        "generated_at": now.isoformat(),
        "filters": filters.as_dict(),
        "tickets": total["tickets"],
        "seed": seed_metrics(total),
        "time_per_ticket": time_split(total, {part: overall[f"{part}_q"] for part in PART_NAMES}),
        "queue": queue_metrics(total, overall),
        "tokens": {
            "per_ticket": {"count": total["with_tokens"], "avg": rounded(_avg(total, "tokens", "with_tokens"), 0),
                           "median": rounded(tokens_median, 0)},
            **overall_throughput(speed),
        },
        "failures": failure_reasons(outcomes),
        "flaky": flaky_numbers(filters),
        "idle": idle_numbers(filters),
        "review": review_metrics(total),
        "by_project": breakdown(numbers, "project", BY_PROJECT),
        "by_model": [{**row, **throughput(speed.get(row["model"]))}
                     for row in breakdown(numbers, "model", BY_MODEL)],
        "by_week": breakdown(numbers, "week", BY_WEEK),
        "model_busy": model_busy(filters, now),
        "definitions": DEFINITIONS,
    }
