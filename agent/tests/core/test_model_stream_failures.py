"""A model answer that breaks on the way (stream cut after a few chunks, a 5xx, a stream ending without its
done chunk) is the infrastructure's failure: asked again with backoff, and when the server stays broken the
ticket waits as for an unreachable model. No attempt is burned. Real worker code, real git, real HTTP."""
import pytest

from agent.worker.runner import run_ticket
from tests.fake_ollama import Fault
from tests.support import RIGHT, make_ticket
from tickets.models import TicketEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("fault", [Fault(cut_after=3), Fault(status=503), Fault(end_after=3)],
                         ids=["cut-after-3-chunks", "http-503", "ends-without-done"])
def test_a_broken_answer_is_asked_again_and_burns_no_attempt(calc_project, fake_model, fault):
    project, _ = calc_project
    fake_model.push(RIGHT)
    fake_model.break_next(fault)
    ticket = run_ticket(str(make_ticket(project).pk))
    assert ticket.estado == "completed", ticket.error_mensaje
    assert ticket.intentos == 1
    assert [attempt.outcome for attempt in ticket.attempts.all()] == ["passed"]
    assert len(fake_model.requests) == 2  # the broken request, and the one that answered


def test_a_server_that_stays_broken_leaves_the_ticket_waiting_then_failed(calc_project, fake_model, settings):
    project, _ = calc_project
    settings.FACTORY_MODEL_RETRIES = 2
    ticket = make_ticket(project)
    for run in range(1, 4):
        fake_model.break_next(Fault(cut_after=3), Fault(status=500), Fault(cut_after=1))
        ticket = run_ticket(str(ticket.pk))
        assert ticket.intentos == 0 and not ticket.attempts.exists()
        assert "kept failing" in ticket.error_mensaje and "3 tries" in ticket.error_mensaje
        if run < 3:
            assert ticket.estado == "pending"  # waits like an unreachable model: agent.worker.requeue queues it again
    assert ticket.estado == "failed"
    assert "retry the ticket" in ticket.error_mensaje
    assert len(fake_model.requests) == 9
    not_made = ticket.events.filter(kind=TicketEvent.Kind.ERROR, message__contains="not made")
    assert not_made.count() == 3


def test_the_next_ticket_runs_normally_once_the_server_answers(calc_project, fake_model):
    project, _ = calc_project
    fake_model.break_next(*[Fault(status=502)] * 3)
    ticket = run_ticket(str(make_ticket(project).pk))
    assert ticket.estado == "pending" and ticket.intentos == 0
    fake_model.push(RIGHT)
    ticket = run_ticket(str(ticket.pk))
    assert ticket.estado == "completed" and ticket.intentos == 1
