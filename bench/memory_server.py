"""Memory search on the server `make run` starts, beside a one-row ticket list on the same server, same run.

    .venv/bin/python bench/memory_server.py [--items 10000] [--requests 300] [--connections 4] [--clients 16]
                                            [--seconds 10] [--worker-every 2]

Needs DATABASE_URL (make test's throw-away cluster or make run's) or the default; creates and drops the database
`factory_bench_memory_server`. Loads --items memory items (bench/memory_http.py's corpus, a fake Ollama in a process
of its own), then starts waitress as scripts/run.sh does (bench/_server.py) and measures, each figure beside its
floor, the one-row ticket list `GET /api/factory/tickets?page_size=1`:

1. a lone search (k=5) p50 over --connections kept-alive connections, interleaved with the list;
2. answers per second with --clients concurrent clients, search and list in alternating halves;
3. the server's CPU time over 2 idle seconds while it holds the shard;
4. 1 and 2 again with an agent worker alive: a process that, every --worker-every seconds, searches the memory and
   stores a lesson through memory.selectors and memory.services, as the agent does before and after a ticket.
"""
from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _django
import _server

from bench.memory_http import fake_ollama_process, load_items

BENCH_DB = "factory_bench_memory_server"
LONE_TARGET = 1.5  # lone search p50 at most this times the one-row list's
THROUGHPUT_TARGET = 0.5  # search answers per second at least this share of the list's
IDLE_S = 2.0

# The agent worker's memory traffic, in a process of its own with the server's settings.
WORKER = """
import sys, time
sys.path.insert(0, sys.argv[1])
import django
django.setup()
from memory import engine, selectors, services
every, n = float(sys.argv[2]), 0
print("ready", flush=True)
while True:
    time.sleep(every)
    selectors.search(query=f"flaky test retry {n}", k=5)
    services.store_item(text=f"Worker lesson {n}: the retry fixed the flaky test", kind="solution", source="agent")
    n += 1
    print(n, engine.index().taken_over, flush=True)
"""


def ratio_line(label: str, value: float, floor: float, unit: str, target: str, met: bool) -> None:
    print(f"{label:<58} {value:9.2f} {unit} beside {floor:9.2f} {unit}: {value / floor:5.2f}x  "
          f"(target {target}: {'met' if met else 'MISSED'})")


def lone_figures(base: str, token: str, queries: list[str], *, connections: int, requests: int, label: str) -> None:
    links = _server.clients(base, token, connections)
    calls = {"list": ("/api/factory/tickets", lambda n: {"page_size": 1}),
             "search": ("/api/factory/memory/search", lambda n: {"q": queries[n % len(queries)], "k": 5})}
    _server.lone(links, 20, calls)  # warm-up: every connection, thread and cache
    samples = _server.lone(links, requests, calls)
    for http in links:
        http.close()
    floor, search = (_django.percentile(samples[name], 0.5) for name in ("list", "search"))
    ratio_line(f"lone search p50, {connections} connections{label}", search, floor, "ms ", f"<= {LONE_TARGET}x",
               search <= LONE_TARGET * floor)
    print(f"{'':<58} p95 search {_django.percentile(samples['search'], 0.95):.2f} ms, list "
          f"{_django.percentile(samples['list'], 0.95):.2f} ms")


def throughput_figures(base: str, token: str, queries: list[str], *, clients: int, seconds: float,
                       label: str) -> None:
    runs = {"list": [], "search": []}
    for _ in range(2):  # list, search, list, search: a drift of the machine's load weighs on both
        runs["list"].append(_server.throughput(base, token, clients_count=clients, seconds=seconds / 2,
                                               path="/api/factory/tickets", params=lambda n: {"page_size": 1}))
        runs["search"].append(_server.throughput(base, token, clients_count=clients, seconds=seconds / 2,
                                                 path="/api/factory/memory/search",
                                                 params=lambda n: {"q": queries[n % len(queries)], "k": 5}))
    per_s = {name: sum(run["per_s"] for run in done) / len(done) for name, done in runs.items()}
    errors = [error for done in runs.values() for run in done for error in run["errors"]]
    ratio_line(f"searches/s, {clients} clients{label}", per_s["search"], per_s["list"], "/s ",
               f">= {THROUGHPUT_TARGET}x", per_s["search"] >= THROUGHPUT_TARGET * per_s["list"])
    print(f"{'':<58} {len(errors)} errors {errors[:2]}")


def idle_figure(server: subprocess.Popen, label: str) -> None:
    time.sleep(3.0)  # the last request's thread is back in its queue, the owner's flush after writes done
    before = _server.cpu_seconds(server.pid)
    time.sleep(IDLE_S)
    spent = _server.cpu_seconds(server.pid) - before
    print(f"{'server CPU over ' + str(IDLE_S) + ' idle seconds' + label:<58} {spent * 1000:9.1f} ms "
          f"(target ~0: clock ticks of 10 ms)")


def start_worker(every: float) -> subprocess.Popen:
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(_django.ROOT), str(every)],
                              stdout=subprocess.PIPE, text=True)
    if worker.stdout.readline().strip() != "ready":
        raise RuntimeError("the worker did not start")
    return worker


def prepare(items: int) -> tuple[str, list[str]]:
    """Items, one ticket, an architect's token; the benchmark's own hold on the shard given up."""
    from rest_framework.authtoken.models import Token

    from memory import engine
    from tickets.models import Project, Ticket

    queries = load_items(items)
    Ticket.objects.create(project=Project.objects.first(), titulo="one row", descripcion="", tipo="feature")
    _django.architect_client()
    engine.index().close()  # the server takes the shard over
    return Token.objects.get(user__username="bench-architect").key, queries


def run(arguments: argparse.Namespace) -> None:
    _django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.conf import settings
    from django.db import connection

    with tempfile.TemporaryDirectory(prefix="memory-server-") as data_dir, fake_ollama_process() as fake_url, \
            _django.bench_database(BENCH_DB):
        settings.FACTORY_DATA_DIR = Path(data_dir)
        settings.OLLAMA_HOST = fake_url
        token, queries = prepare(arguments.items)
        connection.close()
        database = _server.database_url(settings.DATABASES["default"])
        os.environ.update(DATABASE_URL=database, FACTORY_DATA_DIR=data_dir, OLLAMA_HOST=fake_url)  # the worker's
        with _server.started(database=database, ollama=fake_url, data_dir=data_dir) as (base, server):
            threads = os.environ.get("FACTORY_WEB_THREADS", "4")
            print(f"\nwaitress (python -m factory_site.serve), one process, {threads} threads, {base}; "
                  f"{arguments.items} items; fake Ollama at {fake_url}")
            lone_figures(base, token, queries, connections=arguments.connections,
                         requests=arguments.requests, label="")
            throughput_figures(base, token, queries, clients=arguments.clients, seconds=arguments.seconds, label="")
            idle_figure(server, "")
            worker = start_worker(arguments.worker_every)
            try:
                lone_figures(base, token, queries, connections=arguments.connections, requests=arguments.requests,
                             label=", worker alive")
                throughput_figures(base, token, queries, clients=arguments.clients, seconds=arguments.seconds,
                                   label=", worker alive")
                idle_figure(server, ", worker alive")
            finally:
                worker.terminate()
                lines = worker.stdout.read().split("\n")
                worker.wait()
            done = [line for line in lines if line.strip()]
            print(f"{'the worker meanwhile':<58} {done[-1].split()[0] if done else 0} searches and writes, "
                  f"{done[-1].split()[1] if done else 0} times it took the shard over (0: the server owns it)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300, help="lone requests per figure")
    parser.add_argument("--connections", type=int, default=4, help="kept-alive connections of the lone figures")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients of the throughput figures")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per throughput figure")
    parser.add_argument("--worker-every", type=float, default=2.0, help="seconds between the worker's operations")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
