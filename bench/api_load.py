"""Load part of bench/api.py: a real gunicorn on loopback, concurrent clients, errors and database connections.

gunicorn runs as `make run` starts it (factory_site/gunicorn_conf.py: FACTORY_WEB_WORKERS processes of 4
threads, here 2), on the benchmark's database, with a fake Ollama for the memory's embeddings. --clients
threads share --load ticket POSTs, then --load memory POSTs, then as many POSTs to the bare floor view, each
phase bounded by --load-timeout seconds. A thread samples pg_stat_activity all along: the peak of the
server's connections to the database, beside the pool's budget (workers x FACTORY_DB_POOL_MAX).
"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _django
import httpx
import psycopg
from _server import database_url, free_port

from tests.fake_ollama import FakeOllama, _Handler

WEB_WORKERS = 2
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


def start_server(*, url: str, port: int, ollama: str, data_dir: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "FACTORY_BIND": f"127.0.0.1:{port}", "FACTORY_WEB_WORKERS":
           str(WEB_WORKERS), "OLLAMA_HOST": ollama, "FACTORY_DATA_DIR": data_dir, "FACTORY_LOG_LEVEL": "WARNING",
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "PYTHONPATH": f"{_django.ROOT}:{_django.ROOT / 'bench'}"}
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "--config",
                               "python:factory_site.gunicorn_conf", "_floors_wsgi:application"],
                              cwd=_django.ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/schema/", timeout=2)
            return server
        except httpx.HTTPError:
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {server.stderr.read()[-2000:]}") from None
            time.sleep(0.3)
    server.terminate()
    raise RuntimeError("gunicorn did not answer within 60 s")


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
    url = database_url(db)
    token = Token.objects.get(user__username="bench-architect").key
    port = free_port()
    pool_max = settings.FACTORY_DB_POOL_MAX if settings.FACTORY_DB_POOL else "unpooled"
    print(f"\nLoad: gunicorn on 127.0.0.1:{port}, {WEB_WORKERS} workers x 4 threads, pool max {pool_max} per "
          f"process; {clients} clients; each phase stops after {timeout_s:.0f} s")

    def ticket(client: int, index: int) -> dict:
        return {"titulo": f"Load ticket {index} from client {client}", "descripcion": "Under load.",
                "project": project.name}

    def memory(client: int, index: int) -> dict:
        return {"text": f"Lesson {index} from client {client}: retry the flaky test", "kind": "solution",
                "project": project.name, "tags": ["load"]}

    with tempfile.TemporaryDirectory(prefix="api-load-") as data_dir, FakeOllama() as fake:
        fake._server.RequestHandlerClass = NoDelayHandler
        server = start_server(url=f"{url}?application_name={SERVER_NAME}", port=port, ollama=fake.url, data_dir=data_dir)
        sampler = ConnectionSampler(url, db["NAME"])
        sampler.start()
        base = f"http://127.0.0.1:{port}"
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
            server.terminate()
            server.wait(timeout=30)
        report("POST /api/factory/tickets under load", tickets, floor)
        report("POST /api/factory/memory under load", memories, floor)
        report("POST bare floor view under load", floor)
        budget = WEB_WORKERS * pool_max if isinstance(pool_max, int) else "-"
        print(f"{'database connections of the server':<40} peak {sampler.peak} (pool budget {budget}; the "
              f"server allows {max_connections(url)})")


def max_connections(url: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("SHOW max_connections").fetchone()[0])
