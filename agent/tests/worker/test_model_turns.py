"""Turns on the model hosts (agent.worker.turns), for real: PostgreSQL advisory locks and queue rows shared by
separate processes, and a ticket run that waits for its turn instead of failing."""
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from agent.core.turns import TurnCancelled
from agent.models import ModelTurnWait
from agent.worker.runner import run_ticket
from agent.worker.turns import RunTurns
from tests.fake_ollama import FakeOllama
from tests.support import RIGHT
from tickets import services

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[3]
HOST = "http://model-a.test:11434"
# Another worker process: takes the only place on the host, says so, holds it until its stdin says "release".
HOLDER = """
import sys
import django
django.setup()
from agent.worker.turns import RunTurns
with RunTurns().take([sys.argv[1]]) as turn:
    print("holding", turn.host, flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""
class Holder:
    """The other process holding the host's only place."""

    def __init__(self, host: str) -> None:
        db = connection.settings_dict
        url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        env = {**os.environ, "DATABASE_URL": url, "FACTORY_OLLAMA_NUM_PARALLEL": "1",
               "DJANGO_SETTINGS_MODULE": "factory_site.settings"}
        self.process = subprocess.Popen([sys.executable, "-c", HOLDER, host], cwd=ROOT, env=env, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("holding"), f"the holder did not take the place: {line!r}"

    def release(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("release\n")
        self.process.stdin.flush()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def one_place(settings) -> None:
    settings.FACTORY_OLLAMA_NUM_PARALLEL = {"": 1}


@pytest.fixture
def holder(one_place) -> Iterator[Holder]:
    held = Holder(HOST)
    yield held
    held.close()


def take_in_thread(turns: RunTurns, got: list, host: str = HOST) -> threading.Thread:
    def take() -> None:
        with turns.take([host]) as turn:
            got.append((time.monotonic(), turn, turns))
        connection.close()

    thread = threading.Thread(target=take)
    thread.start()
    return thread


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_second_process_waits_for_the_only_place_then_runs(holder):
    got: list = []
    thread = take_in_thread(RunTurns(), got)
    wait_until(lambda: ModelTurnWait.objects.count() == 1)  # queued, visibly
    time.sleep(1.0)
    assert got == []  # the other process holds the only place
    released = time.monotonic()
    holder.release()
    thread.join(timeout=10)
    assert len(got) == 1, "the waiter never got the place"
    when, turn, _ = got[0]
    assert turn.host == HOST and turn.waited_s >= 1.0
    assert when - released < 1.0  # woken by the release, not by a slow poll
    assert ModelTurnWait.objects.count() == 0


def test_a_holder_that_dies_gives_its_place_back(holder):
    got: list = []
    thread = take_in_thread(RunTurns(), got)
    wait_until(lambda: ModelTurnWait.objects.count() == 1)
    holder.process.kill()  # no release, no NOTIFY: its connection closing frees the advisory lock
    thread.join(timeout=10)
    assert len(got) == 1 and got[0][1].waited_s > 0


def test_a_run_that_had_an_answer_goes_before_first_requests(holder):
    got: list = []
    retry_free = RunTurns()
    first = take_in_thread(retry_free, got)
    wait_until(lambda: ModelTurnWait.objects.count() == 1)
    retry = RunTurns()
    retry.answered = True  # this run's first answer came back: its next request is a retry
    second = take_in_thread(retry, got)
    wait_until(lambda: ModelTurnWait.objects.count() == 2)
    holder.release()
    first.join(timeout=10)
    second.join(timeout=10)
    assert len(got) == 2
    assert [entry[2] for entry in got] == [retry, retry_free] and got[0][1].waited_s < got[1][1].waited_s


def test_a_cancelled_waiter_leaves_the_queue(holder):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(TurnCancelled):
        with RunTurns().take([HOST], cancel=cancel):
            pass
    assert ModelTurnWait.objects.count() == 0


def test_no_limit_takes_no_place(settings):
    settings.FACTORY_OLLAMA_NUM_PARALLEL = {"": 0}
    with RunTurns().take([HOST]) as turn:
        assert turn.host == HOST and turn.waited_s == 0.0


def release_when_queued(held: Holder) -> None:
    """Once the ticket's request waits in the queue, 3 s later: longer than the model's timeout."""
    wait_until(lambda: ModelTurnWait.objects.exists(), timeout=60)
    connection.close()
    time.sleep(3.0)
    held.release()


def test_a_ticket_waiting_for_the_model_is_not_failed(calc_project, one_place, settings):
    project, _ = calc_project
    settings.FACTORY_MODEL_TIMEOUT = 2.0  # far shorter than the wait: waiting must not count as the model's time
    with FakeOllama(answers=[RIGHT]) as fake:
        settings.OLLAMA_HOST = fake.url
        held = Holder(fake.url)
        try:
            ticket, _ = services.create_ticket(actor=None, project=project, fields={
                "titulo": "Add multiply to calc", "descripcion": "Add multiply(a, b) returning the product.",
                "tipo": "refactor", "archivos_modificar": ["calc.py"]})
            releaser = threading.Thread(target=release_when_queued, args=(held,))
            releaser.start()
            done = run_ticket(str(ticket.pk))
            releaser.join()
        finally:
            held.close()
    assert done is not None and done.estado == "completed", done and done.error_mensaje
    attempt = done.attempts.get()
    assert done.intentos == 1 and attempt.outcome == "passed"
    assert attempt.model_wait_seconds is not None and attempt.model_wait_seconds >= 2.5
    assert attempt.model_seconds is not None and attempt.model_seconds < 2.0
    assert len(fake.requests) == 1  # sent once, after the wait
