# The webhook models, moved here from the tickets app with their tables unchanged
# (tickets_webhook, tickets_webhookdelivery): the state moves, the data stays.
# Also moved: their content types (so admin permissions and history follow) and
# the queued and scheduled deliveries that named the old task path.
import django.contrib.postgres.fields
import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models
from django_q.signing import SignedPackage

OLD_TASK, NEW_TASK = "tickets.tasks_webhooks.deliver", "webhooks.tasks.deliver"


def move_bookkeeping(apps, schema_editor, *, old_app="tickets", new_app="webhooks", old=OLD_TASK, new=NEW_TASK):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ("webhook", "webhookdelivery"):
        if not ContentType.objects.filter(app_label=new_app, model=model).exists():
            ContentType.objects.filter(app_label=old_app, model=model).update(app_label=new_app)
    apps.get_model("django_q", "Schedule").objects.filter(func=old).update(func=new)
    for entry in apps.get_model("django_q", "OrmQ").objects.all():
        try:
            task = SignedPackage.loads(entry.payload)
        except Exception:
            continue  # signed with another key: nothing this factory could run either way
        if task.get("func") == old:
            task["func"] = new
            entry.payload = SignedPackage.dumps(task)
            entry.save(update_fields=["payload"])


def move_bookkeeping_back(apps, schema_editor):
    move_bookkeeping(apps, schema_editor, old_app="webhooks", new_app="tickets", old=NEW_TASK, new=OLD_TASK)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("tickets", "0004_webhooks_move_to_their_app"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Webhook",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("url", models.URLField(max_length=500, validators=[django.core.validators.URLValidator(schemes=["http", "https"])])),
                        ("events", django.contrib.postgres.fields.ArrayField(base_field=models.CharField(choices=[("created", "Created"), ("started", "Started"), ("attempt_finished", "Attempt Finished"), ("completed", "Completed"), ("failed", "Failed"), ("merged", "Merged"), ("changes_requested", "Changes Requested"), ("cancelled", "Cancelled"), ("requeued", "Requeued")], max_length=50), blank=True, default=list, help_text="Comma-separated event names; empty means every event.", size=None)),
                        ("secret", models.CharField(blank=True, default="", help_text="Signs every body (X-Factory-Signature); generated when left empty.", max_length=200)),
                        ("active", models.BooleanField(default=True)),
                        ("description", models.CharField(blank=True, default="", max_length=200)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={"db_table": "tickets_webhook", "ordering": ["created_at", "id"]},
                ),
                migrations.CreateModel(
                    name="WebhookDelivery",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("event", models.CharField(max_length=50)),
                        ("ticket_id", models.UUIDField(blank=True, db_index=True, null=True)),
                        ("payload", models.JSONField(default=dict)),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        ("status_code", models.IntegerField(blank=True, null=True)),
                        ("latency_ms", models.IntegerField(blank=True, null=True)),
                        ("error", models.TextField(blank=True, default="")),
                        ("delivered", models.BooleanField(default=False)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("next_retry_at", models.DateTimeField(blank=True, null=True)),
                        ("tries", models.JSONField(blank=True, default=list, help_text="Every try: when, status code, latency in ms, error.")),
                        ("webhook", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="deliveries", to="webhooks.webhook")),
                    ],
                    options={
                        "db_table": "tickets_webhookdelivery",
                        "verbose_name_plural": "webhook deliveries",
                        "ordering": ["-created_at", "-id"],
                        "indexes": [models.Index(fields=["webhook", "created_at"], name="delivery_webhook_time_idx")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_bookkeeping, move_bookkeeping_back),
    ]
