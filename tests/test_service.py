"""`make run` as a service: the web server (waitress) answers, commands in another shell find its database, and a
signal to the top process stops every server and the private PostgreSQL within 10 s.

The run tests start the real thing (scripts/run.sh: private PostgreSQL, waitress, both django-q2
clusters) with their own data folder and free ports, and look at /proc for what is left.
"""
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from factory_site.logfilters import QueueStateChanges
from tests.support import ROOT, SEED_TICKET, free_port

STOP_LIMIT_S = 10
START_LIMIT_S = 300  # migrations and three servers on a busy two-core machine
HAS_POSTGRES_SERVER = bool(list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or shutil.which("initdb"))
needs_postgres_server = pytest.mark.skipif(not HAS_POSTGRES_SERVER, reason="PostgreSQL server binaries not installed")


def without_database_url() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}


@dataclass
class Site:
    env: dict[str, str]
    data_dir: Path
    pg_dir: Path
    url: str


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("factory-data")
    # Under /tmp itself: as root the server runs as `postgres`, which cannot enter pytest's private folders.
    pg_dir = Path(tempfile.mkdtemp(prefix="factory-service-pg-"))
    web_port = free_port()
    env = without_database_url() | {
        "FACTORY_DATA_DIR": str(data_dir), "FACTORY_PG_DIR": str(pg_dir), "FACTORY_PG_PORT": str(free_port()),
        "FACTORY_BIND": f"127.0.0.1:{web_port}", "FACTORY_WEB_THREADS": "2", "FACTORY_WORKERS": "1",
        "OLLAMA_HOST": f"http://127.0.0.1:{free_port()}",
    }
    yield Site(env=env, data_dir=data_dir, pg_dir=pg_dir, url=f"http://127.0.0.1:{web_port}")
    for pid in processes_of(data_dir):  # only after a failure: the tests leave nothing behind
        os.kill(pid, signal.SIGKILL)
    subprocess.run(["bash", "scripts/pg_cluster.sh", "stop", str(pg_dir)], cwd=ROOT, check=False)
    shutil.rmtree(pg_dir, ignore_errors=True)


# Processes ------------------------------------------------------------------------------------


def is_zombie(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def processes_of(data_dir: Path) -> set[int]:
    """Every live process started for this data folder: they all inherit FACTORY_DATA_DIR."""
    marker = f"FACTORY_DATA_DIR={data_dir}\0".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes() and not is_zombie(int(entry.name)):
                found.add(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def postmaster_pid(pg_dir: Path) -> int:
    return int((pg_dir / "postmaster.pid").read_text().split()[0])


def alive(pid: int) -> bool:
    try:
        return not is_zombie(pid)
    except OSError:
        return False


def command_line(pid: int) -> str:
    """The process's command line; "" once it has ended (a short-lived child may end while we look)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def default_signals() -> None:
    # A shell's background job ignores SIGINT; a service manager's process does not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def start(argv: list[str], site: Site, log: Path) -> subprocess.Popen:
    with log.open("wb") as output:
        return subprocess.Popen(argv, cwd=ROOT, env=site.env, stdin=subprocess.DEVNULL, stdout=output,
                                stderr=subprocess.STDOUT, preexec_fn=default_signals, start_new_session=True)


def web_answers(site: Site) -> bool:
    try:
        with urllib.request.urlopen(f"{site.url}/admin/login/", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def clusters_running(log: Path) -> bool:
    output = log.read_text()
    return "[factory] running." in output and "[agent] running." in output


def wait_until_up(site: Site, process: subprocess.Popen, log: Path) -> None:
    """The web server answers a GET and both clusters have started their processes."""
    deadline = time.monotonic() + START_LIMIT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"make run ended early:\n{log.read_text()}"
        if clusters_running(log) and web_answers(site):
            return
        time.sleep(0.5)
    pytest.fail(f"not up within {START_LIMIT_S} s:\n{log.read_text()}")


def stop_and_check(process: subprocess.Popen, sig: int, site: Site, log: Path) -> int:
    """Send `sig` to the top process; every server and PostgreSQL must be gone within 10 s."""
    running = processes_of(site.data_dir) | {postmaster_pid(site.pg_dir)}
    servers = [command_line(pid) for pid in running]
    assert any("factory_site.serve" in line for line in servers), servers
    assert sum("qcluster" in line for line in servers) >= 4, servers  # two clusters, their sentinels and workers
    signalled = time.monotonic()
    process.send_signal(sig)
    try:
        status = process.wait(timeout=STOP_LIMIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {STOP_LIMIT_S} s after the signal:\n{log.read_text()}")
    while any(alive(pid) for pid in running) and time.monotonic() - signalled < STOP_LIMIT_S:
        time.sleep(0.1)
    left = [command_line(pid) for pid in running if alive(pid)]
    assert not left, f"left running {STOP_LIMIT_S} s after the signal: {left}"
    assert not processes_of(site.data_dir)
    return status


def api_get(site: Site, path: str, token: str) -> int:
    request = urllib.request.Request(f"{site.url}{path}", headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def other_shell(argv: list[str], site: Site) -> subprocess.CompletedProcess:
    """A command typed in a second terminal of the checkout: no DATABASE_URL, same FACTORY_* variables."""
    return subprocess.run(argv, cwd=ROOT, env=site.env, capture_output=True, text=True, timeout=120)


# make run -------------------------------------------------------------------------------------


@needs_postgres_server
def test_sigterm_to_run_stops_every_server_and_postgres_within_10_s(site, tmp_path):
    log = tmp_path / "run.log"
    process = start(["bash", "scripts/run.sh"], site, log)
    try:
        wait_until_up(site, process, log)

        created = other_shell([sys.executable, "manage.py", "factory_token", "claude", "--role", "architect"], site)
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip().splitlines()[-1]
        assert re.fullmatch(r"[0-9a-f]{40}", token)
        assert api_get(site, "/api/factory/tickets", token) == 200
        # A second shell that does not repeat FACTORY_PG_PORT: the port is kept beside the password.
        forgetful = Site(env={k: v for k, v in site.env.items() if k != "FACTORY_PG_PORT"}, data_dir=site.data_dir,
                         pg_dir=site.pg_dir, url=site.url)
        shortcut = other_shell(["make", "--no-print-directory", "-o", ".venv/.installed", "token",
                                "NAME=reviewer-bot", "ROLE=reviewer"], forgetful)
        assert shortcut.returncode == 0, shortcut.stderr
        assert re.fullmatch(r"[0-9a-f]{40}", shortcut.stdout.strip().splitlines()[-1])

        status = stop_and_check(process, signal.SIGTERM, site, log)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    output = log.read_text()
    assert status == 0, output
    assert output.rstrip().endswith("Stopped."), output
    assert "Serving on" in output  # waitress, not Django's development server
    for noise in ("development server", "No directory at", "Traceback", "did not stop"):
        assert noise not in output, output


@needs_postgres_server
def test_sigint_to_make_itself_stops_every_server_and_postgres_within_10_s(site, tmp_path):
    log = tmp_path / "make-run.log"
    # -o: the shared virtualenv is installed already; do not let make reinstall it.
    process = start(["make", "--no-print-directory", "-o", ".venv/.installed", "run"], site, log)
    try:
        wait_until_up(site, process, log)
        status = stop_and_check(process, signal.SIGINT, site, log)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    output = log.read_text()
    # GNU make always ends by re-raising the signal it was sent, after its child (run.sh) exited 0.
    assert status in (0, -signal.SIGINT), output
    assert output.rstrip().endswith("Stopped."), output
    assert "make: ***" not in output, output


# Another shell, no database -----------------------------------------------------------------------


@pytest.mark.parametrize("command", [["factory_token", "claude"], ["migrate"], ["qcluster"]])
def test_commands_say_in_one_line_when_make_runs_database_is_down(command, tmp_path):
    env = without_database_url() | {"FACTORY_DATA_DIR": str(tmp_path), "FACTORY_PG_PORT": str(free_port())}
    result = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "Cannot reach the factory's database at 127.0.0.1:" in line
    assert "make run" in line and "DATABASE_URL" in line


def test_an_unreachable_database_url_is_named_without_its_password(tmp_path):
    url = f"postgres://factory:s3cret@127.0.0.1:{free_port()}/factory"
    env = os.environ | {"DATABASE_URL": url, "FACTORY_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "manage.py", "showmigrations"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Cannot reach the database of DATABASE_URL (127.0.0.1:")
    assert "s3cret" not in line


# Console and examples -------------------------------------------------------------------------------


def test_console_shows_state_changes_not_each_http_call_or_queue_tick():
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert any(isinstance(f, QueueStateChanges) for f in logging.getLogger("django-q").filters)

    def shown(message: str, level: int = logging.INFO) -> bool:
        record = logging.LogRecord("django-q", level, __file__, 1, message, None, None)
        return QueueStateChanges().filter(record)

    assert shown("Q Cluster snake-september [agent] running.")
    assert shown("Q Cluster snake-september has stopped.")
    assert not shown("Process-ab12 created task tango-alpha from schedule [Requeue waiting tickets]")
    assert not shown("Processed 'agent.tasks.run_ticket' (tango-alpha)")
    assert shown("reincarnated worker Process-ab12 after death", logging.CRITICAL)


def test_readme_example_ticket_is_the_founding_documents_ticket():
    assert json.loads((ROOT / "examples" / "ticket.json").read_text()) == SEED_TICKET
    assert "-d @examples/ticket.json" in (ROOT / "README.md").read_text()
