"""API latency on a large table: POST p50 and a filtered, paginated GET list p50.

    .venv/bin/python bench/api.py [--tickets 100000] [--requests 200]

Needs DATABASE_URL (make test's throw-away cluster or `make run`'s) or uses the
default; it creates and drops its own database `factory_bench_api`, so it never
touches your data. Requests go through Django's full stack (middleware, token
auth, DRF) in-process, which is what a WSGI worker spends per request.
"""
import argparse
import time

import _django

BENCH_DB = "factory_bench_api"


def fill(total: int) -> None:
    """Insert tickets in realistic states with one INSERT ... SELECT generate_series."""
    from django.db import connection

    from tickets.models import Project

    project = Project.objects.create(name="bench", repo_url="/tmp/bench", test_command="true")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO dev_tickets (id, project_id, titulo, descripcion, tipo, prioridad, archivos_modificar,
                archivos_referencia, patrones_obligatorios, contexto_cipher, tests_requeridos, estado, intentos,
                creado_en, idempotency_hash)
            SELECT gen_random_uuid(), %s, 'Ticket ' || n || ' endpoint facturas pdf',
                repeat('Endpoint que genera PDF de factura usando pdfkit. ', 3), 'feature', 1 + n %% 5,
                ARRAY['backend/app/x.js'], ARRAY[]::text[], ARRAY[]::text[], '', ARRAY['200 con PDF'],
                (ARRAY['merged','merged','merged','merged','merged','merged','completed','failed','pending',
                       'cancelled'])[1 + n %% 10], 1, now() - (n || ' seconds')::interval, ''
            FROM generate_series(1, %s) AS n
            """,
            [project.pk, total],
        )
        cursor.execute("ANALYZE")


def timed(call, count: int) -> list[float]:
    samples = []
    for index in range(count):
        started = time.perf_counter()
        response = call(index)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code in (200, 201), response.content[:300]
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    _django.setup()
    with _django.bench_database(BENCH_DB):
        started = time.perf_counter()
        fill(args.tickets)
        print(f"Filled {args.tickets} tickets in {time.perf_counter() - started:.1f} s")
        api = _django.architect_client()
        ticket = {"titulo": "Agregar GET /api/contabilidad/facturas/:id/pdf", "tipo": "feature", "prioridad": 2,
                  "descripcion": "Endpoint que genera PDF de factura usando pdfkit...",
                  "archivos_modificar": ["backend/app/modules/contabilidad/controllers/facturas.controller.js"],
                  "tests_requeridos": ["200 con PDF válido", "404 si no existe"]}
        post = lambda i: api.post("/api/factory/tickets", ticket, format="json")  # noqa: E731
        timed(post, 20)  # warm-up
        _django.report("POST /api/factory/tickets", timed(post, args.requests), target=25, unit="ms")
        query = lambda i: api.get("/api/factory/tickets", {"estado": "merged", "prioridad": 1 + i % 5,  # noqa: E731
                                                            "page_size": 50, "page": 1 + i % 3})
        timed(query, 20)
        _django.report("GET list estado+prioridad, 50/page", timed(query, args.requests), target=50, unit="ms")


if __name__ == "__main__":
    main()
