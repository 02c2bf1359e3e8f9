"""Shared set-up for the benchmark scripts: Django, and a private database they create and drop."""
import os
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "factory_site.settings")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")


def setup() -> None:
    import django
    from django.test.utils import setup_test_environment

    django.setup()
    setup_test_environment()


def _admin_sql(statement: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement)
    connection.close()


def _use_database(name: str) -> None:
    """Point Django at another database; a connection pool made for the previous one is closed with it."""
    from django.conf import settings
    from django.db import connection

    connection.close()
    connection.close_pool()
    settings.DATABASES["default"]["NAME"] = name


@contextmanager
def bench_database(name: str):
    """Create `name`, migrate it, point Django at it; drop it afterwards. Your own data is never touched."""
    from django.conf import settings
    from django.core.management import call_command

    original = settings.DATABASES["default"]["NAME"]
    _admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _admin_sql(f"CREATE DATABASE {name}")
    _use_database(name)
    try:
        call_command("migrate", verbosity=0)
        yield name
    finally:
        _use_database(original)
        _admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def architect_client():
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from tickets.roles import ARCHITECT, grant_role

    user = get_user_model().objects.create_user(username="bench-architect")
    grant_role(user, ARCHITECT)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return api


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def report(name: str, samples: list[float], *, target: float, unit: str) -> None:
    """One line: p50, p95, the target and whether p50 meets it."""
    p50, p95 = percentile(samples, 0.5), percentile(samples, 0.95)
    verdict = "OK" if p50 <= target else "MISSED"
    print(f"{name:<44} p50 {p50:8.3f} {unit}   p95 {p95:8.3f} {unit}   target p50 <= {target:g} {unit}  {verdict}")
