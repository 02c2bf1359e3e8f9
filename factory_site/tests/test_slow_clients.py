"""Slow clients cannot take the web server away from everyone else: with 200 slowloris sockets open (headers
sent one byte every few seconds, never finished), the server `make run` and the Docker image start
(`python -m factory_site.serve`, waitress) still answers a normal request within 3 s. Real process, real sockets,
real PostgreSQL."""
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support import ROOT, database_url, free_port

pytestmark = pytest.mark.django_db(transaction=True)
SLOW_CLIENTS = 200
ANSWER_LIMIT_S = 3.0
BYTE_EVERY_S = 2.0


def normal_get(url: str) -> float:
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        response.read()
    return time.monotonic() - started


def wait_until_serving(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        try:
            normal_get(url)
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the server did not answer within 60 s:\n{log.read_text()}")


class Slowloris:
    """SLOW_CLIENTS connections that each send a request line and then one header byte every BYTE_EVERY_S."""

    def __init__(self, port: int) -> None:
        self.sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(SLOW_CLIENTS)]
        for sock in self.sockets:
            sock.sendall(b"GET /admin/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.dribble, daemon=True)
        self.thread.start()

    def dribble(self) -> None:
        while not self.done.wait(BYTE_EVERY_S):
            for sock in self.sockets:
                try:
                    sock.send(b"a")
                except OSError:
                    pass

    def still_open(self) -> int:
        """Connections the server has not closed (a closed one reads EOF without blocking)."""
        open_ = 0
        for sock in self.sockets:
            sock.setblocking(False)
            try:
                open_ += sock.recv(1) != b""
            except BlockingIOError:
                open_ += 1
            except OSError:
                pass
        return open_

    def close(self) -> None:
        self.done.set()
        self.thread.join()
        for sock in self.sockets:
            sock.close()


def test_200_slow_clients_do_not_stop_normal_requests(settings, tmp_path):
    port = free_port()
    env = os.environ | {"DATABASE_URL": database_url(settings.DATABASES["default"]), "FACTORY_BIND": f"127.0.0.1:{port}",
                        "FACTORY_DATA_DIR": str(tmp_path / "data")}
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen([sys.executable, "-m", "factory_site.serve"], cwd=ROOT, env=env, stdout=output,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/admin/login/"
    slow = None
    try:
        wait_until_serving(url, server, log)
        slow = Slowloris(port)
        times = []
        for _ in range(3):  # while the slow clients keep dribbling
            times.append(normal_get(url))
            time.sleep(BYTE_EVERY_S)
        assert max(times) < ANSWER_LIMIT_S, times
        assert slow.still_open() == SLOW_CLIENTS  # they were held, not refused: the test measured what it says
    finally:
        if slow is not None:
            slow.close()
        server.terminate()
        status = server.wait(timeout=15)
    assert status == 0, log.read_text()
    assert "Serving on" in log.read_text()
