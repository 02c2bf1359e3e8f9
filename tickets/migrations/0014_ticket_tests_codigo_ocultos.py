from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tickets', '0012_ticket_tests_codigo'),
    ]

    operations = [
        migrations.AddField(
            model_name='ticket',
            name='tests_codigo_ocultos',
            field=models.BooleanField(default=False, help_text="The acceptance tests stay out of the model's prompt (a replayed commit's own tests): they are still placed, locked and required to pass, so only a failing attempt's feedback shows them."),
        ),
    ]
