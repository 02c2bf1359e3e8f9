"""API latency beside its floor: list, detail and POST, each against a bare Django view running the same query.

    .venv/bin/python bench/api.py [--small 10000] [--large 1000000] [--requests 200] [--skip-load]
                                  [--load 1000] [--clients 8] [--load-timeout 600]

Needs DATABASE_URL (make test's throw-away cluster or `make run`'s) or uses the default; it creates and drops
its own database `factory_bench_api`, so it never touches your data.

1. In process, through Django's full stack (middleware, token auth, DRF): every API request is interleaved
   with the same request to its floor (bench/_floors.py: the same query in a bare view, no auth, no
   serializer), so both see the same machine load. POST's floor writes the rows the API writes (ticket,
   creation event, agent queue entry) in one transaction; a second line compares with the ticket's INSERT
   alone. Ratios are p50 over p50. Measured on --small tickets, then the list again after filling up to
   --large, to show the list does not grow with the table.
2. Load (bench/api_load.py): the real web server on loopback (waitress, as `make run` starts it), and --clients concurrent
   HTTP clients each sending its share of --load ticket POSTs and --load memory POSTs: errors, latency beside
   the bare POST under the same load, and the peak of database connections beside the pool's budget.
"""
import argparse
import time

import _django

BENCH_DB = "factory_bench_api"
TARGETS = {"list": 2.5, "detail": 2.0, "post": 3.0, "growth": 1.3}
TICKET = {"titulo": "Agregar GET /api/contabilidad/facturas/:id/pdf", "tipo": "feature", "prioridad": 2,
          "descripcion": "Endpoint que genera PDF de factura usando pdfkit...",
          "archivos_modificar": ["backend/app/modules/contabilidad/controllers/facturas.controller.js"],
          "tests_requeridos": ["200 con PDF válido", "404 si no existe"]}


def fill(project, *, first: int, count: int) -> None:
    """Insert tickets numbered first+1 .. first+count (older as n grows) with one INSERT ... SELECT."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO dev_tickets (id, project_id, titulo, descripcion, tipo, prioridad, archivos_modificar,
                archivos_referencia, patrones_obligatorios, contexto_cipher, tests_requeridos, estado, intentos,
                creado_en, idempotency_hash, tests_codigo)
            SELECT gen_random_uuid(), %s, 'Ticket ' || n || ' endpoint facturas pdf',
                repeat('Endpoint que genera PDF de factura usando pdfkit. ', 3), 'feature', 1 + n %% 5,
                ARRAY['backend/app/x.js'], ARRAY[]::text[], ARRAY[]::text[], '', ARRAY['200 con PDF'],
                (ARRAY['merged','merged','merged','merged','merged','merged','completed','failed','pending',
                       'cancelled'])[1 + n %% 10], 1, now() - (n || ' seconds')::interval, '', '{}'::jsonb
            FROM generate_series(%s, %s) AS n
            """,
            [project.pk, first + 1, first + count],
        )
    with connection.cursor() as cursor:  # a table that has been in use: autovacuum has visited it
        cursor.execute("VACUUM ANALYZE dev_tickets")


def detailed_ticket(project):
    """A ticket as the detail page usually shows it: two dependencies, a few events, two attempts."""
    from tickets import services
    from tickets.models import Ticket, TicketAttempt

    dependencies = list(Ticket.objects.order_by("-creado_en")[:2])
    ticket, _ = services.create_ticket(actor=None, project=project, fields=TICKET, depende_de=dependencies)
    for number in (1, 2):
        TicketAttempt.objects.create(ticket=ticket, number=number, outcome="tests_failed", model_name="m",
                                     test_result={"passed": 3, "failed": 1}, feedback="fix the 404 case")
        services.add_comment(ticket=ticket, actor="bench", text=f"note {number}")
    return ticket


def interleaved(api_call, floor_call, count: int) -> tuple[list[float], list[float]]:
    """Alternate API and floor requests (which goes first alternates too), so both see the same load."""
    api_ms, floor_ms = [], []
    for index in range(count):
        pair = [(api_call, api_ms), (floor_call, floor_ms)]
        for call, samples in (pair if index % 2 == 0 else reversed(pair)):
            started = time.perf_counter()
            response = call(index)
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code in (200, 201), response.content[:300]
    return api_ms, floor_ms


def queries_of(call) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        call(0)
    return len(captured)


def compare(label: str, api_call, floor_call, requests: int, *, target: float | None) -> float:
    """Print the API's p50/p95 beside the floor's, the ratio and the queries of each; returns the API's p50."""
    interleaved(api_call, floor_call, 10)  # warm-up
    api_ms, floor_ms = interleaved(api_call, floor_call, requests)
    p50, floor_p50 = _django.percentile(api_ms, 0.5), _django.percentile(floor_ms, 0.5)
    ratio = p50 / floor_p50
    verdict = "" if target is None else f"target <= {target:g}x {'met' if ratio <= target else 'MISSED'}"
    print(f"{label:<40} API p50 {p50:6.2f} ms p95 {_django.percentile(api_ms, 0.95):6.2f} ms ({queries_of(api_call)} "
          f"queries) | floor p50 {floor_p50:6.2f} ms ({queries_of(floor_call)} queries) | {ratio:5.2f}x  {verdict}")
    return p50


def list_calls(api):
    from django.test import Client

    bare = Client()

    def params(index: int) -> dict:
        return {"estado": "merged", "prioridad": 1 + index % 5, "page_size": 50, "page": 1 + index % 3}

    return (lambda i: api.get("/api/factory/tickets", params(i)),
            lambda i: bare.get("/bench/floor/tickets", params(i)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--load", type=int, default=1000, help="ticket POSTs and memory POSTs under load (each)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--load-timeout", type=float, default=600.0, help="seconds per load phase, at most")
    parser.add_argument("--skip-load", action="store_true")
    args = parser.parse_args()
    _django.setup()
    from django.conf import settings
    from django.test import Client
    from django.urls import clear_url_caches

    from tickets.models import Project

    settings.ROOT_URLCONF = "_floors"
    clear_url_caches()
    with _django.bench_database(BENCH_DB):
        project = Project.objects.create(name="bench", repo_url="/tmp/bench", test_command="true")
        started = time.perf_counter()
        fill(project, first=0, count=args.small)
        print(f"Filled {args.small} tickets in {time.perf_counter() - started:.1f} s; "
              f"{args.requests} requests per figure, each interleaved with its floor")
        api, bare = _django.architect_client(), Client()
        ticket_id = detailed_ticket(project).pk
        compare(f"GET detail ({args.small} tickets)", lambda i: api.get(f"/api/factory/tickets/{ticket_id}"),
                lambda i: bare.get(f"/bench/floor/tickets/{ticket_id}"), args.requests, target=TARGETS["detail"])
        post = lambda i: api.post("/api/factory/tickets", TICKET, format="json")  # noqa: E731
        compare(f"POST ticket ({args.small} tickets)", post,
                lambda i: bare.post(f"/bench/floor/projects/{project.pk}/tickets-same-writes", TICKET,
                                    content_type="application/json"), args.requests, target=TARGETS["post"])
        compare("POST ticket vs its INSERT alone", post,
                lambda i: bare.post(f"/bench/floor/projects/{project.pk}/tickets", TICKET,
                                    content_type="application/json"), args.requests, target=None)
        small_p50 = compare(f"GET list ({args.small} tickets)", *list_calls(api), args.requests,
                            target=TARGETS["list"])
        started = time.perf_counter()
        fill(project, first=args.small, count=args.large - args.small)
        print(f"Filled up to {args.large} tickets in {time.perf_counter() - started:.1f} s")
        large_p50 = compare(f"GET list ({args.large} tickets)", *list_calls(api), args.requests,
                            target=TARGETS["list"])
        growth = large_p50 / small_p50
        print(f"{'list p50 at ' + str(args.large) + ' / at ' + str(args.small):<40} {growth:5.2f}x  target <= "
              f"{TARGETS['growth']:g}x {'met' if growth <= TARGETS['growth'] else 'MISSED'}")
        if not args.skip_load:
            import api_load

            api_load.run(project=project, writes=args.load, clients=args.clients, timeout_s=args.load_timeout)


if __name__ == "__main__":
    main()
