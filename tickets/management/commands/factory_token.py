from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

from tickets.roles import ARCHITECT, ROLES, grant_role


class Command(BaseCommand):
    help = "Create the user if needed, give it a role, and print its API token on the last line."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", choices=ROLES, default=ARCHITECT)
        parser.add_argument("--staff", action="store_true", help="Also allow the user into the admin.")

    @transaction.atomic
    def handle(self, *args, username: str, role: str, staff: bool, **options) -> None:
        if not username.strip():
            raise CommandError("USERNAME cannot be empty")
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
        if staff and not user.is_staff:
            user.is_staff = True
        user.save()
        grant_role(user, role)
        token, _ = Token.objects.get_or_create(user=user)
        # Roles add up: granting one keeps the others, so say what the user holds now.
        roles = sorted(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        verb = "Created" if created else "Found"
        self.stderr.write(f"{verb} user {username!r}, given role {role!r}; roles now: {', '.join(roles)}. "
                          "Use: Authorization: Token <key>")
        self.stdout.write(token.key)
