"""The minute schedule that records merges pushed by approves cut off before recording them."""
from django.db import migrations

NAME = "factory-reconcile-merges"


def create_schedule(apps, schema_editor) -> None:
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME, defaults={"func": "review.tasks.reconcile_merges", "schedule_type": "I", "minutes": 1,
                             "repeats": -1})


def remove_schedule(apps, schema_editor) -> None:
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial"),
                    ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")]
    operations = [migrations.RunPython(create_schedule, remove_schedule)]
