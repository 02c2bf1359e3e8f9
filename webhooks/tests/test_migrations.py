"""An install made with the old layout (webhooks inside the tickets app) migrates with nothing lost."""
import pytest
from django.contrib.contenttypes.models import ContentType as CurrentContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_q.models import OrmQ, Schedule
from django_q.signing import SignedPackage

from webhooks.models import Webhook as MovedWebhook

pytestmark = pytest.mark.django_db(transaction=True)

# The last migration of the old layout, and the app that did not exist yet.
OLD_LAYOUT = [("tickets", "0003_delivery_tries"), ("webhooks", None)]


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def applied_state():
    """The models as the migrations applied right now define them (what an old install's code would see)."""
    return MigrationExecutor(connection)._create_project_state(with_applied_migrations=True).apps


@pytest.fixture
def old_install():
    migrate(OLD_LAYOUT)  # also unapplies what depends on later tickets migrations
    try:
        yield applied_state()
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())  # the other tests need today's schema


def test_the_old_layouts_webhooks_survive_the_move(old_install):
    old = old_install
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

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    moved = MovedWebhook.objects.get()
    assert (moved.url, moved.secret, moved.events) == ("https://hooks.example.com/factory", "s3cret", ["merged"])
    delivery = moved.deliveries.get()
    assert delivery.attempts == 2 and delivery.tries == [{"status_code": 500}]
    assert Schedule.objects.get(name="retry").func == "webhooks.tasks.deliver"
    assert SignedPackage.loads(OrmQ.objects.get().payload)["func"] == "webhooks.tasks.deliver"
    CurrentContentType.objects.clear_cache()
    assert CurrentContentType.objects.get(pk=content_type.pk).app_label == "webhooks"
