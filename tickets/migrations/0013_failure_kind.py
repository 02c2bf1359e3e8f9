"""Ticket.failure_kind: why a ticket failed or waits, as a choice instead of error_mensaje's first words.

Existing rows get theirs from the wording the agent used until now; a message none of them matches leaves it
blank (unknown), as it was.
"""
from django.db import migrations, models
from django.db.models import Q

# (kind, how error_mensaje starts) in the order the agent's messages are told apart.
PREFIXES = (
    ("project", "Fix the project:"),
    ("ticket", "Fix the ticket:"),
    ("models", "Every model failed"),
    ("attempts", "Failed after "),
    ("disk", "Waiting for disk space"),
    ("internal", "Internal error in the agent"),
    ("interrupted", "The agent worker stopped during the run"),
    ("interrupted", "The database connection was lost during the run"),
)
# What the model server's failures said (agent.core.model); any other wait was one for the model too, the only
# waits besides the disk's and an interrupted run's.
MODEL_UNAVAILABLE = ("Ollama ", "no model is configured")
WAITING = ("pending", "changes_requested")


def fill_failure_kind(apps, schema_editor) -> None:
    Ticket = apps.get_model("tickets", "Ticket")
    with_message = Ticket.objects.filter(error_mensaje__isnull=False, failure_kind="")
    for kind, prefix in PREFIXES:
        with_message.filter(error_mensaje__startswith=prefix).update(failure_kind=kind)
    model_messages = Q(estado__in=WAITING)
    for start in MODEL_UNAVAILABLE:
        model_messages |= Q(error_mensaje__startswith=start)
    with_message.filter(model_messages).update(failure_kind="model_unavailable")


class Migration(migrations.Migration):

    dependencies = [
        ('tickets', '0012_ticket_tests_codigo'),
    ]

    operations = [
        migrations.AddField(
            model_name='ticket',
            name='failure_kind',
            field=models.CharField(blank=True, choices=[('', 'None'), ('project', 'Fix the project'), ('ticket', 'Fix the ticket'), ('attempts', 'Tests still failing after the attempts'), ('models', 'Every model failed'), ('model_unavailable', 'Model server unreachable or broken'), ('disk', 'Not enough disk space'), ('interrupted', 'Run interrupted'), ('internal', 'Internal error in the agent')], default='', help_text='Why the ticket failed or waits (error_mensaje says it in words).', max_length=20),
        ),
        migrations.RunPython(fill_failure_kind, migrations.RunPython.noop),
    ]
