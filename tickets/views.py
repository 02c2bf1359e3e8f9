from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from tickets.models import Ticket
from tickets.states import State


@staff_member_required
def review_queue(request: HttpRequest) -> HttpResponse:
    tickets = Ticket.objects.filter(estado=State.COMPLETED).order_by("completado_en")
    return render(request, "tickets/review_queue.html", {"tickets": tickets})


@staff_member_required
def review_ticket(request: HttpRequest, ticket_id) -> HttpResponse:
    ticket = get_object_or_404(Ticket, pk=ticket_id)
    return render(request, "tickets/review_ticket.html", {"ticket": ticket})
