"""The token -> user and roles lookup is remembered, and forgotten as soon as a token, user or role changes."""
import os
import subprocess
import sys

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token, TokenProxy

from tests.support import SEED_TICKET, client_for, make_user
from tickets import tokencache
from tickets.roles import ARCHITECT, REVIEWER, grant_role

pytestmark = pytest.mark.django_db
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def token_lookups(client) -> int:
    """How many times a list request read the token table."""
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/factory/tickets").status_code == 200
    return sum('"authtoken_token"' in query["sql"] for query in captured.captured_queries)


def creates(client) -> int:
    return client.post("/api/factory/tickets", {**SEED_TICKET, "project": "demo"}, format="json").status_code


def test_a_known_token_is_not_looked_up_again(api, project):
    assert token_lookups(api) == 1
    assert token_lookups(api) == 0
    assert creates(api) == 201  # the remembered roles still allow writing


def test_a_revoked_role_is_seen_on_the_next_request(api, architect, project):
    assert creates(api) == 201
    architect.groups.remove(Group.objects.get(name=ARCHITECT))
    assert creates(api) == 403
    grant_role(architect, REVIEWER)
    assert creates(api) == 403 and token_lookups(api) == 0
    grant_role(architect, ARCHITECT)
    assert creates(api) == 201


def test_a_deleted_token_and_a_deactivated_user_are_refused_at_once(architect, project):
    first = client_for(architect)
    assert token_lookups(first) == 1
    Token.objects.filter(user=architect).delete()
    assert first.get("/api/factory/tickets").status_code == 401
    second = client_for(architect)
    assert token_lookups(second) == 1
    architect.is_active = False
    architect.save(update_fields=["is_active"])
    assert second.get("/api/factory/tickets").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_a_token_deleted_through_the_admins_proxy_is_refused_at_once(architect, project):
    """DRF's admin deletes tokens as TokenProxy rows, and the signal names the proxy."""
    staff = make_user("boss", staff=True)
    staff.is_superuser = True
    staff.save()
    admin = Client()
    admin.force_login(staff)  # a login saves the user (last_login), which itself empties the cache: first
    api = client_for(architect)
    assert token_lookups(api) == 1
    proxy = TokenProxy.objects.get(user=architect)
    answer = admin.post(f"/admin/authtoken/tokenproxy/{proxy.pk}/delete/", {"post": "yes"})
    assert answer.status_code == 302 and not Token.objects.filter(user=architect).exists()
    assert api.get("/api/factory/tickets").status_code == 401


def test_a_lookup_between_a_change_and_its_commit_is_forgotten_at_the_commit(api, architect, project):
    """The change's own signal clears the cache before the commit; a lookup then reads the old committed row."""
    with transaction.atomic():
        architect.groups.remove(Group.objects.get(name=ARCHITECT))
        tokencache.remember("stale", architect, frozenset({ARCHITECT}), before=tokencache.Snapshot())
        assert tokencache.size() == 1
    # pytest-django's test transaction never commits: run what the commit would run.
    for _savepoint, callback, _robust in connection.run_on_commit:
        callback()
    assert tokencache.size() == 0


def test_a_renamed_group_takes_its_role_away(api, project):
    assert creates(api) == 201
    group = Group.objects.get(name=ARCHITECT)
    group.name = "former-architects"
    group.save()
    assert creates(api) == 403


def test_a_change_made_by_another_process_is_seen_through_the_stamp(api, architect, project, settings):
    assert creates(api) == 201
    with connection.cursor() as cursor:  # around Django: no signal in this process
        cursor.execute("DELETE FROM auth_user_groups WHERE user_id = %s", [architect.pk])
    assert creates(api) == 201  # still remembered: no process said anything changed
    bump = "import django; django.setup(); from tickets import tokencache; tokencache.bump_stamp()"
    env = {**os.environ, "FACTORY_DATA_DIR": str(settings.FACTORY_DATA_DIR),
           "DJANGO_SETTINGS_MODULE": "factory_site.settings"}
    subprocess.run([sys.executable, "-c", bump], cwd=ROOT, env=env, check=True, timeout=60)
    assert creates(api) == 403


def test_an_entry_older_than_the_setting_is_looked_up_again(api, architect, project, settings):
    assert token_lookups(api) == 1
    settings.FACTORY_TOKEN_CACHE_SECONDS = 0
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM auth_user_groups WHERE user_id = %s", [architect.pk])
    assert creates(api) == 403


def test_the_cache_is_bounded_and_can_be_turned_off(project, settings):
    settings.FACTORY_TOKEN_CACHE_SIZE = 2
    clients = [client_for(make_user(f"architect-{n}", role=ARCHITECT)) for n in range(3)]
    for client in clients:
        assert token_lookups(client) == 1
    assert tokencache.size() == 2
    assert token_lookups(clients[0]) == 1  # the least recently used went out
    assert token_lookups(clients[2]) == 0
    settings.FACTORY_TOKEN_CACHE_SIZE = 0
    assert token_lookups(clients[2]) == 1 and token_lookups(clients[2]) == 1


def test_a_lookup_that_raced_a_change_is_not_remembered(architect):
    before = tokencache.Snapshot()
    tokencache.forget_all()
    tokencache.remember("some-key", architect, frozenset({ARCHITECT}), before=before)
    assert tokencache.cached("some-key") is None
