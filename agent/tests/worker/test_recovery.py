"""Recovery of agent runs whose worker died or lost the database (agent.worker.heartbeat).

The sweep itself is checked in-process; the two worst cases run for real: an agent cluster killed with
SIGKILL mid-run, and a PostgreSQL restart under a running agent.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.utils import timezone

from agent import services as agent_services
from agent.worker import heartbeat, requeue
from tests.fake_ollama import FakeOllama
from tests.support import CALC, CALC_TESTS, RIGHT, ROOT, database_url, free_port, make_remote_repo, make_ticket
from tickets import decisions as review
from tickets import services
from tickets.models import Ticket

HEARTBEAT_TIMEOUT = 8  # seconds, for the tests with real clusters: beats and sweeps every 2 s


def claimed_with_an_attempt(project) -> Ticket:
    ticket = agent_services.claim_ticket(ticket_id=str(make_ticket(project).pk))
    agent_services.start_attempt(ticket=ticket, model_name="m", edit_format="whole", system="s", prompt="p",
                                 notes=[])
    return ticket


def silence(ticket: Ticket, *, seconds: int = 3600) -> None:
    """As if the run's worker died `seconds` ago: no heartbeat since."""
    Ticket.objects.filter(pk=ticket.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=seconds))


@pytest.fixture
def calc_project(db, tmp_path, settings):
    settings.FACTORY_DATA_DIR = tmp_path / "data"
    remote = make_remote_repo(tmp_path, {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS,
                                         "tests/__init__.py": "", "conftest.py": ""})
    return services.create_project(name="calc", repo_url=str(remote), test_command="python -m pytest -q")


def test_a_silent_run_goes_back_to_pending_once_then_fails(calc_project, api):
    ticket = claimed_with_an_attempt(calc_project)
    assert heartbeat.sweep() == 0  # the claim counts as a heartbeat

    silence(ticket)
    requeue.requeue_waiting()  # the minute schedule sweeps too (agent workers sweep every few seconds)
    ticket.refresh_from_db()
    assert ticket.estado == "pending" and "worker stopped" in ticket.error_mensaje
    assert ticket.attempts.get().outcome == "interrupted"

    again = claimed_with_an_attempt_of(ticket)
    silence(again)
    assert heartbeat.sweep() == 1
    again.refresh_from_db()
    assert again.estado == "failed" and "interrupted before" in again.error_mensaje
    assert [attempt.outcome for attempt in again.attempts.all()] == ["interrupted", "interrupted"]

    retried = api.patch(f"/api/factory/tickets/{ticket.pk}", {"estado": "pending"}, format="json")
    assert retried.status_code == 200, retried.content
    # A person's retry gives the ticket a fresh chance: the next interruption releases it again.
    third = claimed_with_an_attempt_of(ticket)
    silence(third)
    assert heartbeat.sweep() == 1
    assert Ticket.objects.get(pk=ticket.pk).estado == "pending"


def claimed_with_an_attempt_of(ticket: Ticket) -> Ticket:
    claimed = agent_services.claim_ticket(ticket_id=str(ticket.pk))
    assert claimed is not None
    agent_services.start_attempt(ticket=claimed, model_name="m", edit_format="whole", system="s", prompt="p",
                                 notes=[])
    return claimed


def test_a_run_that_still_beats_is_left_alone(calc_project, settings):
    ticket = claimed_with_an_attempt(calc_project)
    silence(ticket, seconds=settings.FACTORY_HEARTBEAT_TIMEOUT - 20)
    assert heartbeat.sweep() == 0

    silence(ticket)
    heartbeat.Heartbeat(ticket=ticket).beat()
    assert heartbeat.sweep() == 0
    assert Ticket.objects.get(pk=ticket.pk).estado == "in_progress"


def test_a_beat_from_an_older_run_does_not_keep_a_newer_one_alive(calc_project):
    ticket = claimed_with_an_attempt(calc_project)
    older = heartbeat.Heartbeat(ticket=ticket)
    Ticket.objects.filter(pk=ticket.pk).update(iniciado_en=timezone.now())  # a newer claim
    silence(ticket)
    older.beat()
    assert Ticket.objects.get(pk=ticket.pk).heartbeat_at < timezone.now() - timedelta(minutes=1)


def test_a_cancelled_tickets_dead_run_no_longer_blocks_its_retry(calc_project, api, reviewer):
    ticket = claimed_with_an_attempt(calc_project)
    review.cancel(ticket=ticket, user=reviewer, reason="wrong idea")
    refused = api.patch(f"/api/factory/tickets/{ticket.pk}", {"estado": "pending"}, format="json")
    assert refused.status_code == 409 and "still finishing" in refused.json()["detail"]

    silence(ticket)
    assert heartbeat.sweep() == 1
    assert ticket.attempts.get().outcome == "interrupted"
    assert Ticket.objects.get(pk=ticket.pk).estado == "cancelled"
    retried = api.patch(f"/api/factory/tickets/{ticket.pk}", {"estado": "pending"}, format="json")
    assert retried.status_code == 200, retried.content


# Real clusters ---------------------------------------------------------------------------


class SlowFirstAnswer:
    """The fake model's script: the first request waits until released, every later one answers at once."""

    def __init__(self) -> None:
        self.asked, self.release, self.calls = threading.Event(), threading.Event(), 0

    def __call__(self, body: dict) -> str:
        self.calls += 1
        if self.calls == 1:
            self.asked.set()
            self.release.wait(timeout=120)
        return RIGHT


def agent_cluster(env: dict, log: Path) -> subprocess.Popen:
    with log.open("ab") as output:
        return subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env | {"Q_CLUSTER_NAME": "agent"},
                                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(cluster: subprocess.Popen) -> None:
    """As `make run` stops it: SIGTERM to the cluster's main process, which stops its workers."""
    if cluster.poll() is None:
        cluster.terminate()
        try:
            cluster.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait()


def wait_for(condition, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def cluster_env(*, fake: FakeOllama, data_dir: Path, database: str, secret: str) -> dict:
    return os.environ | {"OLLAMA_HOST": fake.url, "FACTORY_DATA_DIR": str(data_dir), "DATABASE_URL": database,
                         "DJANGO_SECRET_KEY": secret, "FACTORY_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT)}


@pytest.mark.django_db(transaction=True)
def test_a_killed_agent_worker_gives_its_ticket_back_within_the_timeout_and_it_completes_once(tmp_path, settings):
    settings.FACTORY_DATA_DIR = tmp_path / "data"
    remote = make_remote_repo(tmp_path, {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS,
                                         "tests/__init__.py": "", "conftest.py": ""})
    project = services.create_project(name="calc", repo_url=str(remote), test_command="python -m pytest -q")
    script, log = SlowFirstAnswer(), tmp_path / "clusters.log"
    with FakeOllama(answers=script) as fake:
        settings.OLLAMA_HOST = fake.url
        env = cluster_env(fake=fake, data_dir=settings.FACTORY_DATA_DIR, secret=settings.SECRET_KEY,
                          database=database_url(settings.DATABASES["default"]))
        first = agent_cluster(env, log)
        second = None
        try:
            ticket = make_ticket(project)
            assert script.asked.wait(timeout=90), log.read_text()[-3000:]
            second = agent_cluster(env, log)  # another worker machine, idle
            wait_for(lambda: log.read_text().count("[agent] running.") == 2, timeout=60, what="the second cluster")
            os.killpg(first.pid, signal.SIGKILL)  # sentinel, workers, pusher and monitor at once
            first.wait()
            killed_at = timezone.now()

            released = wait_for(lambda: ticket.events.filter(to_state="pending", data__interrupted=True).first(),
                                timeout=HEARTBEAT_TIMEOUT + 60, what="the release")
            assert (released.created_at - killed_at).total_seconds() <= HEARTBEAT_TIMEOUT + 30
            done = wait_for(lambda: Ticket.objects.filter(pk=ticket.pk, estado="completed").first(), timeout=120,
                            what="the second run to complete")
        finally:
            script.release.set()
            for cluster in (first, second):
                if cluster is not None:
                    stop(cluster)
    assert [attempt.outcome for attempt in done.attempts.all()] == ["interrupted", "passed"]
    assert done.events.filter(to_state="completed").count() == 1
    assert script.calls == 2


# PostgreSQL restarted under a run: its own cluster, so the other tests' database stays up.


def pg_cluster(*args: str) -> None:
    env = os.environ | {"PG_EXTRA_OPTS": "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"}
    subprocess.run(["bash", "scripts/pg_cluster.sh", *args], cwd=ROOT, env=env, check=True, timeout=120)


def manage(env: dict, *args: str) -> str:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


CREATE = """
from tests.support import make_ticket
from tickets import services
project = services.create_project(name="calc", repo_url={remote!r}, test_command="python -m pytest -q")
print(make_ticket(project).pk)
"""


def ticket_row(database: str, ticket_id: str) -> tuple[str, list[str]]:
    with psycopg.connect(database.replace("postgres://", "postgresql://"), connect_timeout=3) as db:
        estado = db.execute("SELECT estado FROM factory.dev_tickets WHERE id = %s", [ticket_id]).fetchone()[0]
        outcomes = [row[0] for row in db.execute(
            "SELECT outcome FROM factory.tickets_ticketattempt WHERE ticket_id = %s ORDER BY number", [ticket_id])]
    return estado, outcomes


def settled(database: str, ticket_id: str) -> tuple[str, list[str]] | None:
    try:
        estado, outcomes = ticket_row(database, ticket_id)
    except psycopg.OperationalError:
        return None  # still restarting
    return (estado, outcomes) if estado in ("completed", "failed") else None


def test_a_postgres_restart_mid_run_leaves_a_ticket_that_completes(tmp_path):
    # Under /tmp itself: as root the server runs as `postgres`, which cannot enter pytest's private folders.
    pg_dir, port = Path(tempfile.mkdtemp(prefix="factory-restart-pg-")), free_port()
    pg_cluster("start", str(pg_dir), str(port))
    database = f"postgres://postgres@127.0.0.1:{port}/factory"
    remote = make_remote_repo(tmp_path, {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS,
                                         "tests/__init__.py": "", "conftest.py": ""})
    script, log = SlowFirstAnswer(), tmp_path / "cluster.log"
    cluster = None
    try:
        with FakeOllama(answers=script) as fake:
            env = cluster_env(fake=fake, data_dir=tmp_path / "data", database=database, secret="restart-test")
            manage(env, "migrate", "-v0")
            cluster = agent_cluster(env, log)
            ticket_id = manage(env, "shell", "-c", CREATE.format(remote=str(remote))).splitlines()[-1]
            assert script.asked.wait(timeout=90), log.read_text()[-3000:]
            pg_cluster("stop", str(pg_dir))
            pg_cluster("start", str(pg_dir), str(port))
            script.release.set()
            # The run reconnects, marks its attempt interrupted and sends the ticket back; the next run completes.
            estado, outcomes = wait_for(lambda: settled(database, ticket_id), timeout=120,
                                        what="the ticket to settle after the restart")
    finally:
        script.release.set()
        if cluster is not None:
            stop(cluster)
        pg_cluster("stop", str(pg_dir))
        shutil.rmtree(pg_dir, ignore_errors=True)
    assert "running" not in outcomes, log.read_text()[-3000:]
    assert (estado, outcomes) == ("completed", ["interrupted", "passed"]), log.read_text()[-3000:]
