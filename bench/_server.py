"""The production web server as `make run` starts it, for the benchmarks: waitress in one process, real sockets.

`start` runs `python -m factory_site.serve` (scripts/run.sh's command) with the benchmark's database, data folder
and Ollama, and the floors of bench/_floors.py mounted beside the project's URLs. `lone` times requests one at a
time over a few kept-alive connections; `throughput` counts what concurrent clients, each on its own kept-alive
connection, get answered in a fixed time; `cpu_seconds` reads a process's CPU time from /proc.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
# Sets ROOT_URLCONF to the floors before waitress serves the first request, then runs serve.py as run.sh does.
SERVE = "import runpy, _floors_wsgi; runpy.run_module('factory_site.serve', run_name='__main__')"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url(db: dict) -> str:
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def server_environment(*, database: str, port: int, ollama: str, data_dir: str) -> dict:
    return {**os.environ, "DATABASE_URL": database, "FACTORY_BIND": f"127.0.0.1:{port}", "OLLAMA_HOST": ollama,
            "FACTORY_DATA_DIR": data_dir, "FACTORY_LOG_LEVEL": "WARNING", "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}"}


@contextmanager
def started(*, database: str, ollama: str, data_dir: str):
    """The server on a free port; yields (base URL, process). Stopped with SIGTERM, as run.sh stops it."""
    port = free_port()
    log = tempfile.TemporaryFile(mode="w+")  # a pipe nobody reads would stop the server once full
    server = subprocess.Popen([sys.executable, "-c", SERVE], cwd=ROOT, stdout=log, stderr=log, text=True,
                              env=server_environment(database=database, port=port, ollama=ollama, data_dir=data_dir))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(base, server, log)
        yield base, server
    finally:
        log.close()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_until_answering(base: str, server: subprocess.Popen, log) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            httpx.get(f"{base}/api/schema/", timeout=2)
            return
        except httpx.HTTPError:
            if server.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"the server exited: {log.read()[-2000:]}") from None
            time.sleep(0.3)
    raise RuntimeError("the server did not answer within 60 s")


def clients(base: str, token: str | None, count: int) -> list[httpx.Client]:
    headers = {"Authorization": f"Token {token}"} if token else {}
    return [httpx.Client(base_url=base, headers=headers, timeout=60) for _ in range(count)]


def timed_get(http: httpx.Client, path: str, params: dict) -> float:
    started_at = time.perf_counter()
    response = http.get(path, params=params)
    elapsed = (time.perf_counter() - started_at) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
    return elapsed


def lone(connections: list[httpx.Client], requests: int, calls: dict) -> dict[str, list[float]]:
    """Each of `calls` (name -> (path, params of request n)) timed `requests` times, interleaved, one at a time,
    the connections taken in turn: the machine's load weighs on every figure alike."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for n in range(requests):
        http = connections[n % len(connections)]
        for name, (path, params) in calls.items():
            samples[name].append(timed_get(http, path, params(n)))
    return samples


def throughput(base: str, token: str | None, *, clients_count: int, seconds: float, path: str, params) -> dict:
    """`clients_count` threads, each with its own kept-alive connection, asking for `seconds`: answers per second,
    p50 latency and errors."""
    latencies: list[float] = []
    errors: list[str] = []
    connections = clients(base, token, clients_count)
    deadline = time.perf_counter() + seconds  # after the clients exist: making 16 took seconds on a loaded machine

    def client(http: httpx.Client, number: int) -> None:
        n = number
        while time.perf_counter() < deadline:
            try:
                latencies.append(timed_get(http, path, params(n)))
            except (RuntimeError, httpx.HTTPError) as exc:
                errors.append(str(exc)[:200])
            n += clients_count

    threads = [threading.Thread(target=client, args=(http, number)) for number, http in enumerate(connections)]
    started_at = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started_at
    for http in connections:
        http.close()
    return {"per_s": len(latencies) / elapsed, "latencies": latencies, "errors": errors}


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process and all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
