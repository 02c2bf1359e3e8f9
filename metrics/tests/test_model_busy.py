"""The model hosts' busy fraction: generation time over the factory's working wall time, per host and week, on the
metrics page, in GET /api/factory/metrics and in factory_bench's report; requests served at once count once."""
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from agent.worker.runner import run_ticket
from factory_bench.report import model_busy as bench_busy
from lib.intervals import busy_fraction, covered
from metrics import selectors as metrics
from metrics.busy import UNRECORDED_HOST
from tests.fake_ollama import FakeOllama
from tests.support import RIGHT, make_ticket, make_user
from tickets import services
from tickets.models import Ticket, TicketAttempt

A, B = "http://gpu-a:11434", "http://gpu-b:11434"
MONDAY = datetime(2026, 3, 16, 10, 0, tzinfo=UTC)  # 2026-W12


def t(minutes: float) -> datetime:
    return MONDAY + timedelta(minutes=minutes)


def test_covered_counts_overlaps_once_and_busy_is_clipped_to_the_wall():
    assert covered([(0, 10), (5, 15), (20, 25), (30, 30)]) == 20
    assert busy_fraction([(0, 10), (5, 15)], [(0, 30)]) == 0.5
    assert busy_fraction([(-100, 10)], [(0, 20)]) == 0.5  # what came before the window does not count
    assert busy_fraction([(0, 10)], []) is None


def ticket_run(project, title: str, start: datetime, end: datetime) -> Ticket:
    ticket, _ = services.create_ticket(actor=None, project=project, fields={"titulo": title, "descripcion": title})
    Ticket.objects.filter(pk=ticket.pk).update(estado="completed", iniciado_en=start, completado_en=end)
    return ticket


def attempt(ticket: Ticket, number: int, *, start: datetime, end: datetime, **fields) -> TicketAttempt:
    return TicketAttempt.objects.create(ticket=ticket, number=number, outcome="passed", started_at=start,
                                        finished_at=end, **fields)


@pytest.fixture
def two_hosts(db):
    project = services.create_project(name="busy", repo_url="/srv/busy.git", test_command="pytest -q")
    first = ticket_run(project, "one", t(0), t(10))
    attempt(first, 1, start=t(1), end=t(4), model_host=A, model_started_at=t(1), model_seconds=120)
    # Two candidates at once, one on each host.
    attempt(first, 2, start=t(5), end=t(8), model_host=B, model_started_at=t(5), model_seconds=90, candidates=[
        {"model_host": A, "model_started": t(5).timestamp(), "model_seconds": 60.0, "chosen": False},
        {"model_host": B, "model_started": t(5).timestamp(), "model_seconds": 90.0, "chosen": True},
        {"model_host": A, "model_started": None, "model_seconds": None, "chosen": False}])  # cancelled
    second = ticket_run(project, "two", t(5), t(15))
    attempt(second, 1, start=t(5.5), end=t(7), model_host=A, model_started_at=t(5.5), model_seconds=60)
    # An attempt from before hosts were recorded, a week earlier, alone in its week.
    old = ticket_run(project, "old", t(-7 * 24 * 60), t(-7 * 24 * 60 + 10))
    attempt(old, 1, start=t(-7 * 24 * 60), end=t(-7 * 24 * 60 + 5), model_seconds=150)
    return project


def test_busy_fraction_per_host_and_week(two_hosts):
    rows = {(row["host"], row["week"]): row for row in metrics.factory_metrics(now=t(60))["model_busy"]}
    # Working wall time in W12: 10:00 to 10:15. A: 10:01-10:03 and 10:05-10:06:30 (two requests at once count once).
    a = rows[(A, "2026-W12")]
    assert (a["requests"], a["generation_seconds"], a["wall_seconds"], a["busy_fraction"]) == (3, 210.0, 900.0,
                                                                                                 0.2333)
    assert rows[(B, "2026-W12")]["busy_fraction"] == 0.1
    old = rows[(UNRECORDED_HOST, "2026-W11")]
    assert (old["wall_seconds"], old["busy_fraction"]) == (600.0, 0.25)
    assert list(rows)[0][1] == "2026-W12"  # newest week first


def test_the_metrics_page_and_api_show_the_busy_fraction(two_hosts):
    client = Client()
    client.force_login(make_user("lead", staff=True))
    html = client.get("/admin/metrics/").content.decode()
    table = html[html.index('id="model-busy"'):]
    assert A in table and "23.3 %" in table and "10.0 %" in table and "Model busy fraction" in html
    client.force_login(make_user("api", role="architect"))
    data = client.get("/api/factory/metrics").json()
    assert {row["host"] for row in data["model_busy"]} == {A, B, UNRECORDED_HOST}


def test_factory_bench_reports_the_busy_fraction_over_the_run(two_hosts):
    results = [{"model_calls": calls, "run": run} for calls, run in [
        ([[A, t(1).timestamp(), 120.0], [A, t(5).timestamp(), 60.0], [B, t(5).timestamp(), 90.0]],
         [t(0).timestamp(), t(10).timestamp()]),
        ([[A, t(5.5).timestamp(), 60.0]], [t(5).timestamp(), t(15).timestamp()])]]
    busy = bench_busy(results)
    assert busy == {"wall_seconds": 900.0, "hosts": {A: {"requests": 3, "generation_seconds": 210.0,
                                                         "busy_fraction": 0.2333},
                                                     B: {"requests": 1, "generation_seconds": 90.0,
                                                         "busy_fraction": 0.1}}}


@pytest.mark.django_db(transaction=True)
def test_answers_queued_at_a_one_at_a_time_server_count_once(calc_project, settings):
    """Two candidates of an attempt for a server that generates one answer at a time (OLLAMA_NUM_PARALLEL=1): the
    second waits its turn at the factory, and that wait is recorded apart, not as the model's time."""
    project, _ = calc_project
    settings.FACTORY_CANDIDATES = 2
    with FakeOllama(answers=lambda _: RIGHT, delay_s=1.5, parallel=1) as fake:
        settings.OLLAMA_HOST = url = fake.url
        done = run_ticket(str(make_ticket(project).pk))
    assert done.estado == "completed", done.error_mensaje
    server_busy = covered(fake.generating)
    assert 2.9 < server_busy < 3.5
    [row] = [row for row in metrics.factory_metrics()["model_busy"] if row["host"] == url]
    [attempt] = done.attempts.all()
    requested = sum(candidate["model_seconds"] or 0 for candidate in attempt.candidates)
    assert abs(row["generation_seconds"] - server_busy) < 0.5 and requested < server_busy + 0.5
    assert max(candidate["model_wait_seconds"] or 0 for candidate in attempt.candidates) > 1.0
    assert 0 < row["busy_fraction"] < 1
