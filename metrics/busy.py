"""The model hosts' busy fraction per week: generation time over the factory's working wall time."""
from datetime import datetime, timedelta

from django.utils import timezone

from lib.intervals import Interval, busy_fraction, clipped, covered
from metrics.definitions import MetricsFilter
from metrics.sql import fetch_rows, rounded, table_names, where_clause

# Every model request in scope: each candidate of a raced attempt, else the attempt's own request
# (attempts from before the host was recorded count from the attempt's start under host "").
MODEL_CALLS_SQL = """
SELECT coalesce(nullif(c ->> 'model_host', ''), a.model_host) AS host,
       coalesce((c ->> 'model_started')::float8, extract(epoch FROM a.started_at)::float8) AS started,
       (c ->> 'model_seconds')::float8 AS seconds
FROM {attempts} a JOIN {tickets} t ON t.id = a.ticket_id
CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(a.candidates) = 'array'
                                             THEN a.candidates ELSE '[]'::jsonb END) c
WHERE {where} AND jsonb_typeof(c -> 'model_seconds') = 'number'
UNION ALL
SELECT a.model_host, extract(epoch FROM coalesce(a.model_started_at, a.started_at))::float8, a.model_seconds
FROM {attempts} a JOIN {tickets} t ON t.id = a.ticket_id
WHERE {where} AND a.model_seconds IS NOT NULL
  AND (jsonb_typeof(a.candidates) <> 'array' OR jsonb_array_length(a.candidates) = 0)
"""
# The factory's working wall time: each ticket's latest run (a running one until now) and every attempt.
WORKING_SQL = """
SELECT extract(epoch FROM t.iniciado_en)::float8 AS started,
       extract(epoch FROM CASE WHEN t.estado = 'in_progress' THEN %(now)s ELSE t.completado_en END)::float8 AS ended
FROM {tickets} t WHERE {where} AND t.iniciado_en IS NOT NULL
UNION ALL
SELECT extract(epoch FROM a.started_at)::float8, extract(epoch FROM coalesce(a.finished_at, %(now)s))::float8
FROM {attempts} a JOIN {tickets} t ON t.id = a.ticket_id WHERE {where}
"""
UNRECORDED_HOST = "(host not recorded)"


def model_busy(filters: MetricsFilter, now: datetime) -> list[dict]:
    """Per model host and week: generation time over the factory's working wall time (requests at once count once).

    The wall time is when the factory had work (a ticket running): a model idle because no ticket waited is not
    counted against it. One row per (host, week), newest week first.
    """
    where, params = where_clause(filters)
    params["now"] = now
    calls = fetch_rows(MODEL_CALLS_SQL.format(where=where, **table_names()), params)
    working = [(row["started"], row["ended"]) for row in fetch_rows(WORKING_SQL.format(where=where, **table_names()), params)
               if row["ended"] is not None]
    requests: dict[tuple[str, str], list[Interval]] = {}
    for call in calls:
        key = (call["host"] or UNRECORDED_HOST, week_of(call["started"]))
        requests.setdefault(key, []).append((call["started"], call["started"] + call["seconds"]))
    rows = [busy_row(host, week, intervals, working) for (host, week), intervals in requests.items()]
    return sorted(rows, key=lambda row: (row["week"], row["host"]), reverse=True)


def busy_row(host: str, week: str, intervals: list[Interval], working: list[Interval]) -> dict:
    window = week_window(week)
    wall = clipped(working, window)
    busy = clipped(intervals, window)
    return {"host": host, "week": week, "requests": len(intervals),
            "generation_seconds": rounded(covered([piece for span in wall for piece in clipped(busy, span)])),
            "wall_seconds": rounded(covered(wall)), "busy_fraction": busy_fraction(busy, wall)}


def week_of(epoch: float) -> str:
    year, week, _ = datetime.fromtimestamp(epoch, tz=timezone.get_default_timezone()).isocalendar()
    return f"{year}-W{week:02d}"


def week_window(week: str) -> Interval:
    monday = datetime.strptime(f"{week}-1", "%G-W%V-%u").replace(tzinfo=timezone.get_default_timezone())
    return monday.timestamp(), (monday + timedelta(days=7)).timestamp()
