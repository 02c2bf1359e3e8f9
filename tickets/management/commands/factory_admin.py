import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from rest_framework.authtoken.models import Token

from tickets.roles import ARCHITECT, grant_role


class Command(BaseCommand):
    help = "Create the admin login on first run (password kept in FACTORY_DATA_DIR) and print it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin")

    @transaction.atomic
    def handle(self, *args, username: str, **options) -> None:
        login_file = settings.FACTORY_DATA_DIR / "admin-login.txt"
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = get_user_model().objects.create_superuser(username=username, password=password, email="")
            settings.FACTORY_DATA_DIR.mkdir(parents=True, exist_ok=True)
            login_file.write_text(f"{username}\n{password}\n")
            login_file.chmod(0o600)
        elif login_file.exists():
            password = login_file.read_text().splitlines()[1]
        else:
            password = f"(unchanged; reset it with: python manage.py changepassword {username})"
        grant_role(user, ARCHITECT)
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(f"Admin login: {username} / {password}")
        self.stdout.write(f"API token for {username}: {token.key}")
