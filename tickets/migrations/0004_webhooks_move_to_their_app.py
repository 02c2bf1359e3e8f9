# The webhook models moved to the webhooks app. Their tables keep their names and
# their rows: only Django's idea of which app owns them changes (see webhooks 0001).
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("tickets", "0003_delivery_tries"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="webhookdelivery", name="webhook"),
                migrations.DeleteModel(name="Webhook"),
                migrations.DeleteModel(name="WebhookDelivery"),
            ],
            database_operations=[],
        ),
    ]
