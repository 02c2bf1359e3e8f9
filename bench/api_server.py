"""The ticket list on the server `make run` starts, beside its bare floor on the same server, at several sizes.

    .venv/bin/python bench/api_server.py [--sizes 10000,100000,1000000] [--requests 200] [--clients 16]
                                         [--seconds 10]

Needs DATABASE_URL (make test's throw-away cluster or make run's) or the default; creates and drops the database
`factory_bench_api_server`. For each size, fills the tickets table up to it (bench/api.py's fill), starts waitress as
scripts/run.sh does with bench/_floors.py mounted (bench/_server.py), and prints, beside the floor (the same page
query in a bare view: no token, no filter form, no count, no serializer), the list's p50 one request at a time over
a few kept-alive connections, and its answers per second with --clients concurrent clients (the median of
four alternated runs per side).
"""
from __future__ import annotations

import argparse
import logging
import tempfile

import _django
import _server
from api import fill

BENCH_DB = "factory_bench_api_server"
LATENCY_TARGET = 1.5
THROUGHPUT_TARGET = 0.7
ROUNDS = 4  # throughput runs per side, alternated; the median of each side's rates is compared


def params(n: int) -> dict:
    return {"estado": "merged", "prioridad": 1 + n % 5, "page_size": 50, "page": 1 + n % 3}


def measure(base: str, token: str, *, size: int, requests: int, clients: int, seconds: float) -> None:
    api = _server.clients(base, token, 4)
    bare = _server.clients(base, None, 4)
    calls_api = {"api": ("/api/factory/tickets", params)}
    calls_floor = {"floor": ("/bench/floor/tickets", params)}
    samples = {"api": [], "floor": []}
    for n in range(requests + 20):  # interleaved, the first 20 a warm-up
        first, second = ((api, calls_api), (bare, calls_floor)) if n % 2 else ((bare, calls_floor), (api, calls_api))
        for links, calls in (first, second):
            for name, values in _server.lone([links[n % len(links)]], 1, calls).items():
                if n >= 20:
                    samples[name] += values
    api_p50, floor_p50 = (_django.percentile(samples[name], 0.5) for name in ("api", "floor"))
    print(f"{size:>9} tickets  lone p50 {api_p50:7.2f} ms beside the floor's {floor_p50:7.2f} ms: "
          f"{api_p50 / floor_p50:5.2f}x (target <= {LATENCY_TARGET}x: "
          f"{'met' if api_p50 <= LATENCY_TARGET * floor_p50 else 'MISSED'})")
    for link in (*api, *bare):
        link.close()
    per_s: dict[str, list[dict]] = {"api": [], "floor": []}
    for _ in range(ROUNDS):  # floor, list, floor, list...: a drift of the machine's load weighs on both
        per_s["floor"].append(_server.throughput(base, None, clients_count=clients, seconds=seconds / ROUNDS,
                                                 path="/bench/floor/tickets", params=params))
        per_s["api"].append(_server.throughput(base, token, clients_count=clients, seconds=seconds / ROUNDS,
                                               path="/api/factory/tickets", params=params))
    rate = {name: _django.percentile([run["per_s"] for run in runs], 0.5) for name, runs in per_s.items()}
    errors = [error for runs in per_s.values() for run in runs for error in run["errors"]]
    if not rate["floor"] or not rate["api"]:
        print(f"{'':>17} {clients} clients: no answer in {seconds / ROUNDS:g} s ({len(errors)} errors: {errors[:2]})")
        return
    print(f"{'':>17} {clients} clients {rate['api']:7.1f}/s beside the floor's {rate['floor']:7.1f}/s: "
          f"{rate['api'] / rate['floor']:5.2f}x (target >= {THROUGHPUT_TARGET}x: "
          f"{'met' if rate['api'] >= THROUGHPUT_TARGET * rate['floor'] else 'MISSED'}); {len(errors)} errors")
    for error in errors[:3]:
        print(f"{'':>17} error: {error}")


def run(arguments: argparse.Namespace) -> None:
    _django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.conf import settings
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from tickets.models import Project

    with tempfile.TemporaryDirectory(prefix="api-server-") as data_dir, _django.bench_database(BENCH_DB):
        project = Project.objects.create(name="bench", repo_url="/tmp/bench", test_command="true")
        _django.architect_client()
        token = Token.objects.get(user__username="bench-architect").key
        database = _server.database_url(settings.DATABASES["default"])
        filled = 0
        for size in arguments.sizes:
            fill(project, first=filled, count=size - filled)
            filled = size
            connection.close()
            with _server.started(database=database, ollama="http://127.0.0.1:9", data_dir=data_dir) as (base, _):
                measure(base, token, size=size, requests=arguments.requests, clients=arguments.clients,
                        seconds=arguments.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=lambda text: [int(part) for part in text.split(",")],
                        default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
