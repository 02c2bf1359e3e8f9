"""An install made with the old layout (webhooks inside the tickets app) migrates with nothing lost."""
import pytest
from django.contrib.contenttypes.models import ContentType as CurrentContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_q.models import OrmQ, Schedule
from django_q.signing import SignedPackage

from webhooks.models import Webhook as MovedWebhook

pytestmark = pytest.mark.django_db(transaction=True)



def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state([node for node in targets if node[1]]).apps


def latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def old_layout():
    others = [node for node in latest() if node[0] not in ("tickets", "webhooks")]
    return [*others, ("tickets", "0003_delivery_tries"), ("webhooks", None)]


def test_the_old_layouts_webhooks_survive_the_move():
    old = migrate(old_layout())
    Webhook = old.get_model("tickets", "Webhook")
    Delivery = old.get_model("tickets", "WebhookDelivery")
    hook = Webhook.objects.create(url="https://hooks.example.com/factory", secret="s3cret", events=["merged"])
    Delivery.objects.create(webhook=hook, event="merged", payload={"event": "merged"}, attempts=2,
                            tries=[{"status_code": 500}])
    old.get_model("django_q", "Schedule").objects.create(name="retry", func="tickets.tasks_webhooks.deliver",
                                                          args="(1,)", schedule_type="O")
    old.get_model("django_q", "OrmQ").objects.create(key="factory", payload=SignedPackage.dumps(
        {"id": "x", "func": "tickets.tasks_webhooks.deliver", "args": (1,), "kwargs": {}}))
    ContentType = old.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="webhooks").delete()
    content_type, _ = ContentType.objects.get_or_create(app_label="tickets", model="webhook")

    migrate(latest())

    moved = MovedWebhook.objects.get()
    assert (moved.url, moved.secret, moved.events) == ("https://hooks.example.com/factory", "s3cret", ["merged"])
    delivery = moved.deliveries.get()
    assert delivery.attempts == 2 and delivery.tries == [{"status_code": 500}]
    assert Schedule.objects.get(name="retry").func == "webhooks.tasks.deliver"
    assert SignedPackage.loads(OrmQ.objects.get().payload)["func"] == "webhooks.tasks.deliver"
    CurrentContentType.objects.clear_cache()
    assert CurrentContentType.objects.get(pk=content_type.pk).app_label == "webhooks"
