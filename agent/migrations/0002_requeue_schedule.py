from django.db import migrations


def create_schedule(apps, schema_editor) -> None:
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="factory-requeue-waiting",
        defaults={"func": "agent.tasks.requeue_waiting", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def remove_schedule(apps, schema_editor) -> None:
    apps.get_model("django_q", "Schedule").objects.filter(name="factory-requeue-waiting").delete()


class Migration(migrations.Migration):
    dependencies = [("agent", "0001_initial"), ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")]
    operations = [migrations.RunPython(create_schedule, remove_schedule)]
