"""Running the metrics' SQL: the filters as a WHERE clause, the tables' names, one statement's rows as dicts."""
from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.utils import timezone

from metrics.definitions import MetricsFilter
from tickets.models import Project, Ticket, TicketAttempt, TicketEvent


def where_clause(filters: MetricsFilter) -> tuple[str, dict[str, object]]:
    clauses: list[str] = ["true"]
    params: dict[str, object] = {}
    if filters.project is not None:
        clauses.append("t.project_id = %(project_id)s")
        params["project_id"] = filters.project.pk
    if filters.since is not None:
        clauses.append("t.creado_en >= %(since)s")
        params["since"] = start_of(filters.since)
    if filters.until is not None:
        clauses.append("t.creado_en < %(until)s")
        params["until"] = start_of(filters.until + timedelta(days=1))
    return " AND ".join(clauses), params


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


def table_names() -> dict[str, str]:
    quote = connection.ops.quote_name
    return {"tickets": quote(Ticket._meta.db_table), "attempts": quote(TicketAttempt._meta.db_table),
            "events": quote(TicketEvent._meta.db_table), "projects": quote(Project._meta.db_table)}


def fetch_rows(sql: str, params: dict) -> list[dict]:
    # The planner overestimates these CTEs by orders of magnitude, which turns
    # on JIT compilation: seconds of compiling for a query that runs in well
    # under one. The per-ticket rows get enough memory to be sorted in RAM.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def rounded(value, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)
