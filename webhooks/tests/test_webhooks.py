"""Outbound webhooks against a real HTTP receiver: signature, retries with backoff, filters, admin."""
import hashlib
import hmac
import json
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pydoc import locate

import pytest
from django.utils import timezone
from django_q.models import OrmQ, Schedule
from django_q.scheduler import scheduler

from tests.support import SEED_TICKET
from tickets import services
from tickets.models import Ticket
from webhooks import services as webhooks
from webhooks import tasks as tasks_webhooks
from webhooks.models import Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db

SECRET = "s3cret-for-tests"


class Receiver:
    """A webhook endpoint on 127.0.0.1 answering from a script of status codes (the last one repeats)."""

    def __init__(self, statuses: list[int], *, delay: float = 0.0) -> None:
        self.statuses, self.delay, self.requests = list(statuses), delay, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(b"ok" if status < 300 else b"receiver is down")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the factory gave up waiting (the timeout tests): nothing to answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/factory"

    def __enter__(self) -> "Receiver":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def signature_is_valid(self, request: dict, secret: str = SECRET) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, request["headers"]["X-Factory-Signature"])


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/dead"


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.FACTORY_URL = "https://factory.example.com"
    settings.FACTORY_WEBHOOK_BACKOFF_S = 10
    settings.FACTORY_WEBHOOK_MAX_TRIES = 5
    settings.FACTORY_WEBHOOK_TIMEOUT = 2


@pytest.fixture
def create_ticket_via_api(api, project, django_capture_on_commit_callbacks):
    def create(**extra) -> Ticket:
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post("/api/factory/tickets", {**SEED_TICKET, **extra}, format="json")
        assert response.status_code == 201, response.content
        return Ticket.objects.get(pk=response.json()["id"])

    return create


def queued_deliveries() -> list[dict]:
    return [row.task for row in OrmQ.objects.all() if row.task.get("func") == webhooks.DELIVER_TASK]


# Transactional: django-q2's scheduler closes the connection, which a test transaction would not survive.
@pytest.mark.django_db(transaction=True)
def test_signed_post_is_retried_after_a_500_and_then_delivered(create_ticket_via_api):
    with Receiver([500, 200]) as receiver:
        hook = webhooks.create_webhook(url=receiver.url, events=["created"], secret=SECRET)
        ticket = create_ticket_via_api()
        delivery = WebhookDelivery.objects.get(webhook=hook)
        assert (delivery.event, delivery.ticket_id, delivery.attempts) == ("created", ticket.pk, 0)
        # Queued on the default cluster, never the agent's.
        [queued] = queued_deliveries()
        assert queued["args"] == (delivery.pk,)
        assert queued["cluster"] == "factory"

        assert "failed" in tasks_webhooks.deliver(delivery.pk)
        delivery.refresh_from_db()
        assert (delivery.attempts, delivery.status_code, delivery.delivered) == (1, 500, False)
        assert "HTTP 500" in delivery.error and "receiver is down" in delivery.error
        assert delivery.latency_ms is not None
        wait = delivery.next_retry_at - timezone.now()
        assert timedelta(seconds=8) < wait <= timedelta(seconds=10)
        [retry] = Schedule.objects.filter(func=webhooks.DELIVER_TASK)
        assert (retry.schedule_type, retry.cluster, retry.repeats) == (Schedule.ONCE, "factory", -1)

        # django-q2's own scheduler turns the due schedule into a task; run it as a worker would.
        Schedule.objects.filter(pk=retry.pk).update(next_run=timezone.now() - timedelta(seconds=1))
        OrmQ.objects.all().delete()
        scheduler()
        assert not Schedule.objects.filter(pk=retry.pk).exists()
        [task] = queued_deliveries()
        assert "delivered" in locate(task["func"])(*task["args"], **task["kwargs"])

    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.status_code, delivery.delivered, delivery.error) == (2, 200, True, "")
    assert delivery.next_retry_at is None
    assert [(row["status_code"], bool(row["error"])) for row in delivery.tries] == [(500, True), (200, False)]
    assert not Schedule.objects.filter(func=webhooks.DELIVER_TASK).exists()

    assert len(receiver.requests) == 2
    for request in receiver.requests:
        assert receiver.signature_is_valid(request)
        assert request["headers"]["Content-Type"] == "application/json"
        assert request["headers"]["X-Factory-Event"] == "created"
        assert request["headers"]["X-Factory-Delivery"] == str(delivery.pk)
    body = json.loads(receiver.requests[-1]["body"])
    assert body["event"] == "created"
    assert body["delivery_id"] == delivery.pk
    assert body["sent_at"]
    assert body["ticket"] == {"id": str(ticket.pk), "estado": "pending", "titulo": SEED_TICKET["titulo"],
                              "project": "demo", "intentos": 0, "branch_name": None, "failure_kind": ""}
    assert body["links"]["self"] == f"https://factory.example.com/api/factory/tickets/{ticket.pk}"
    assert set(body["links"]) >= {"self", "diff", "review", "admin"}
    forged = {**receiver.requests[-1], "body": receiver.requests[-1]["body"].replace(b"pending", b"merged")}
    assert not receiver.signature_is_valid(forged)
    assert webhooks.signature_matches(secret=SECRET, body=receiver.requests[-1]["body"],
                                      header=receiver.requests[-1]["headers"]["X-Factory-Signature"])


def test_inactive_hooks_get_nothing_and_event_filters_apply(create_ticket_via_api, django_capture_on_commit_callbacks):
    with Receiver([200]) as receiver:
        every = webhooks.create_webhook(url=receiver.url, secret=SECRET)
        inactive = webhooks.create_webhook(url=receiver.url, active=False)
        merged_only = webhooks.create_webhook(url=receiver.url, events=["merged"])
        ticket = create_ticket_via_api()
        with django_capture_on_commit_callbacks(execute=True):
            services.cancel(ticket=ticket, actor="architect", reason="not needed")
        assert list(every.deliveries.order_by("id").values_list("event", flat=True)) == ["created", "cancelled"]
        assert not inactive.deliveries.exists()
        assert not merged_only.deliveries.exists()
        for delivery in every.deliveries.order_by("id"):
            tasks_webhooks.deliver(delivery.pk)
    assert len(receiver.requests) == 2
    cancelled = json.loads(receiver.requests[-1]["body"])
    assert cancelled["ticket"]["estado"] == "cancelled"
    assert cancelled["data"] == {}


def test_a_hook_deactivated_after_the_event_is_not_called(create_ticket_via_api):
    with Receiver([200]) as receiver:
        hook = webhooks.create_webhook(url=receiver.url)
        create_ticket_via_api()
        Webhook.objects.filter(pk=hook.pk).update(active=False)
        delivery = hook.deliveries.get()
        tasks_webhooks.deliver(delivery.pk)
    delivery.refresh_from_db()
    assert receiver.requests == []
    assert (delivery.delivered, delivery.next_retry_at) == (False, None)
    assert "deactivated" in delivery.error
    assert not Schedule.objects.filter(func=webhooks.DELIVER_TASK).exists()


def test_a_dead_endpoint_is_retried_with_growing_backoff_then_given_up(create_ticket_via_api, settings):
    settings.FACTORY_WEBHOOK_MAX_TRIES = 3
    hook = webhooks.create_webhook(url=closed_port_url())
    create_ticket_via_api()
    delivery = hook.deliveries.get()
    waits = []
    for _ in range(3):
        before = timezone.now()
        tasks_webhooks.deliver(delivery.pk)
        delivery.refresh_from_db()
        waits.append(round((delivery.next_retry_at - before).total_seconds()) if delivery.next_retry_at else None)
    assert waits == [10, 30, None]
    assert (delivery.attempts, delivery.delivered, delivery.status_code) == (3, False, None)
    assert "ConnectError" in delivery.error
    assert Schedule.objects.filter(func=webhooks.DELIVER_TASK).count() == 2


def test_a_hanging_endpoint_never_slows_the_api_and_times_out_in_the_task(create_ticket_via_api, settings):
    settings.FACTORY_WEBHOOK_TIMEOUT = 0.3
    with Receiver([200], delay=3) as receiver:
        hook = webhooks.create_webhook(url=receiver.url)
        started = time.monotonic()
        create_ticket_via_api()
        assert time.monotonic() - started < 1.5
        assert receiver.requests == []
        delivery = hook.deliveries.get()
        started = time.monotonic()
        tasks_webhooks.deliver(delivery.pk)
        assert time.monotonic() - started < 2
    delivery.refresh_from_db()
    assert "No answer within 0.3 s" in delivery.error
    assert delivery.next_retry_at is not None


def test_webhooks_need_a_valid_url_and_known_events():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as bad_url:
        webhooks.create_webhook(url="ftp://example.com/hook")
    assert "url" in bad_url.value.message_dict
    with pytest.raises(ValidationError) as bad_event:
        webhooks.create_webhook(url="https://example.com/hook", events=["exploded"])
    assert "events" in bad_event.value.message_dict
    hook = webhooks.create_webhook(url="https://example.com/hook", events=["merged", "merged"])
    assert hook.events == ["merged"]
    assert len(hook.secret) == 64


def test_admin_manages_hooks_and_shows_deliveries(admin_client, create_ticket_via_api,
                                                  django_capture_on_commit_callbacks):
    added = admin_client.post("/admin/webhooks/webhook/add/", {
        "url": "https://n8n.example.com/webhook/factory", "description": "n8n", "events": ["completed", "failed"],
        "active": "on", "secret": "",
        "deliveries-TOTAL_FORMS": "0", "deliveries-INITIAL_FORMS": "0",
    })
    assert added.status_code == 302, added.content.decode()[:2000]
    hook = Webhook.objects.get(description="n8n")
    assert hook.events == ["completed", "failed"] and len(hook.secret) == 64
    assert admin_client.get("/admin/webhooks/webhook/").status_code == 200
    old = admin_client.get("/admin/tickets/webhookdelivery/?q=x")  # bookmarks from before the webhooks app
    assert old.status_code == 301 and old["Location"] == "/admin/webhooks/webhookdelivery/?q=x"
    assert admin_client.get("/admin/webhooks/webhook/add/").status_code == 200

    every = webhooks.create_webhook(url=closed_port_url(), description="dead")
    ticket = create_ticket_via_api()
    delivery = every.deliveries.get()
    tasks_webhooks.deliver(delivery.pk)
    page = admin_client.get(f"/admin/webhooks/webhook/{every.pk}/change/")
    assert page.status_code == 200
    assert "ConnectError" in page.content.decode()
    listing = admin_client.get("/admin/webhooks/webhookdelivery/", {"q": "ConnectError"})
    assert listing.status_code == 200 and str(ticket.pk) in listing.content.decode()
    by_ticket = admin_client.get("/admin/webhooks/webhookdelivery/", {"q": str(ticket.pk)})
    assert by_ticket.status_code == 200 and f"/webhookdelivery/{delivery.pk}/change/" in by_ticket.content.decode()
    detail = admin_client.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/")
    assert detail.status_code == 200 and "payload" in detail.content.decode().lower()
    OrmQ.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        action = admin_client.post("/admin/webhooks/webhookdelivery/", {
            "action": "send_again", "_selected_action": [delivery.pk]})
    assert action.status_code == 302
    assert [task["args"] for task in queued_deliveries()] == [(delivery.pk,)]
