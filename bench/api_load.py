"""Load part of bench/api.py: the real web server on loopback, concurrent clients, errors and database connections.

The server runs as `make run` starts it (factory_site/serve.py: waitress in one process of FACTORY_WEB_THREADS
threads, through bench/_server.py), on the benchmark's database, with a fake Ollama for the memory's embeddings. --clients
threads share --load ticket POSTs, then --load memory POSTs, then as many POSTs to the bare floor view, each
phase bounded by --load-timeout seconds. A thread samples pg_stat_activity all along: the peak of the
server's connections to the database, beside the pool's budget (FACTORY_DB_POOL_MAX: one process).
"""
import os
import socket
import tempfile
import threading
import time

import _django
import _server
import httpx
import psycopg

from tests.fake_ollama import FakeOllama, _Handler

SERVER_NAME = "factory-bench-load"  # the server's connections, told apart from this process's own


class NoDelayHandler(_Handler):
    """TCP_NODELAY, as Ollama's Go server has (see bench/memory_http.py): no 40 ms delayed ACK per embedding."""

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class ConnectionSampler(threading.Thread):
    """The most connections the benchmark's database had at once, sampled every 50 ms."""

    def __init__(self, url: str, database: str) -> None:
        super().__init__(daemon=True)
        self.url, self.database, self.peak, self.stop = url, database, 0, threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                count = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND "
                                     "application_name = %s", [self.database, SERVER_NAME]).fetchone()[0]
                self.peak = max(self.peak, count)
                time.sleep(0.05)


def hammer(base: str, path: str, bodies, *, total: int, clients: int, token: str | None,
           timeout_s: float) -> tuple[list[float], list[str], int, float]:
    """`total` POSTs shared by `clients` threads: latencies (ms), errors, requests sent, seconds."""
    latencies, errors, sent, lock = [], [], [0], threading.Lock()
    deadline = time.perf_counter() + timeout_s
    headers = {"Authorization": f"Token {token}"} if token else {}

    def client(number: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            while time.perf_counter() < deadline:
                with lock:
                    if sent[0] >= total:
                        return
                    sent[0] += 1
                    index = sent[0]
                started = time.perf_counter()
                try:
                    response = http.post(path, json=bodies(number, index))
                    if response.status_code not in (200, 201):
                        errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                latencies.append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=client, args=(number,)) for number in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, sent[0], time.perf_counter() - started


def report(label: str, result, floor=None) -> None:
    latencies, errors, sent, seconds = result
    p50 = _django.percentile(latencies, 0.5)
    text = (f"{label:<40} {sent} sent, {len(errors)} errors, p50 {p50:7.1f} ms, p95 "
            f"{_django.percentile(latencies, 0.95):7.1f} ms, {sent / seconds:5.1f}/s")
    if floor is not None:
        text += f" | {p50 / _django.percentile(floor[0], 0.5):5.2f}x the bare POST under the same load"
    print(text)
    for error in errors[:3]:
        print(f"    {error}")


def run(*, project, writes: int, clients: int, timeout_s: float) -> None:
    from django.conf import settings
    from rest_framework.authtoken.models import Token

    db = settings.DATABASES["default"]
    url = _server.database_url(db)
    token = Token.objects.get(user__username="bench-architect").key
    pool_max = settings.FACTORY_DB_POOL_MAX if settings.FACTORY_DB_POOL else "unpooled"
    threads = os.environ.get("FACTORY_WEB_THREADS", "4")
    print(f"\nLoad: waitress as `make run` starts it (one process, {threads} threads), pool "
          f"max {pool_max}; {clients} clients; each phase stops after {timeout_s:.0f} s")

    def ticket(client: int, index: int) -> dict:
        return {"titulo": f"Load ticket {index} from client {client}", "descripcion": "Under load.",
                "project": project.name}

    def memory(client: int, index: int) -> dict:
        return {"text": f"Lesson {index} from client {client}: retry the flaky test", "kind": "solution",
                "project": project.name, "tags": ["load"]}

    with tempfile.TemporaryDirectory(prefix="api-load-") as data_dir, FakeOllama() as fake:
        fake._server.RequestHandlerClass = NoDelayHandler
        with _server.started(database=f"{url}?application_name={SERVER_NAME}", ollama=fake.url,
                             data_dir=data_dir) as (base, _):
            sampler = ConnectionSampler(url, db["NAME"])
            sampler.start()
            try:
                tickets = hammer(base, "/api/factory/tickets", ticket, total=writes, clients=clients, token=token,
                                 timeout_s=timeout_s)
                memories = hammer(base, "/api/factory/memory", memory, total=writes, clients=clients, token=token,
                                  timeout_s=timeout_s)
                floor = hammer(base, f"/bench/floor/projects/{project.pk}/tickets", ticket, total=writes,
                               clients=clients, token=None, timeout_s=timeout_s)
            finally:
                sampler.stop.set()
                sampler.join()
        report("POST /api/factory/tickets under load", tickets, floor)
        report("POST /api/factory/memory under load", memories, floor)
        report("POST bare floor view under load", floor)
        budget = pool_max if isinstance(pool_max, int) else "-"
        print(f"{'database connections of the server':<40} peak {sampler.peak} (pool budget {budget}; the "
              f"server allows {max_connections(url)})")


def max_connections(url: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("SHOW max_connections").fetchone()[0])
