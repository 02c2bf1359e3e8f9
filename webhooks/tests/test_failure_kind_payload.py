"""A webhook's payload says why the ticket failed or waits (Ticket.failure_kind), not only its state."""
import pytest

from tickets import services
from tickets.models import FailureKind
from webhooks.services import event_payload

pytestmark = pytest.mark.django_db


def test_the_payload_carries_the_failure_kind(project):
    ticket, _ = services.create_ticket(actor=None, project=project, fields={"titulo": "t", "descripcion": "d"})
    ticket = services.transition(ticket=ticket, to="in_progress", actor="agent")
    ticket = services.transition(ticket=ticket, to="failed", actor="agent",
                                 fields={"error_mensaje": "Fix the project: no clone", "failure_kind": FailureKind.PROJECT})
    assert event_payload(ticket=ticket, event="failed", data={})["ticket"]["failure_kind"] == "project"
