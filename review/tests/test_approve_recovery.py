"""Approve is all or nothing for the user: a merge pushed by an approve that could not record it (its database
connection killed during the push, the web process killed) is found on the remote by its `Ticket:` line and
recorded as merged with that commit by the next approve, at start and by the minute reconcile; never merged
twice. A database outage answers 503 with a clear message, on the API and on the pages."""
import os
import subprocess
import sys

import pytest
from django.db import connection

from tests.support import (
    APP,
    ROOT,
    client_for,
    completed_ticket,
    database_url,
    make_remote_repo,
    merge_commits,
    remote_head,
    staff_client,
)
from tickets import decisions as review
from tickets import services
from tickets.models import Ticket, TicketEvent
from tickets.repos import merge_and_push, project_repo

pytestmark = pytest.mark.django_db(transaction=True)

# Installed in the remote: when the default branch is pushed, every other connection to the test database is
# terminated, as a PostgreSQL restart would, while the approve still holds its transaction open.
KILL_HOOK = """#!{python}
import sys
import psycopg
if any(line.split()[2] == "refs/heads/main" for line in sys.stdin if line.strip()):
    with psycopg.connect({dsn!r}, autocommit=True) as db:
        db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   "WHERE datname = current_database() AND pid <> pg_backend_pid()")
"""


@pytest.fixture
def repo_project(tmp_path, settings):
    settings.FACTORY_DATA_DIR = tmp_path / "data"
    remote = make_remote_repo(tmp_path, {"app.py": APP, "README.md": "# demo\n"})
    return services.create_project(name="demo", repo_url=str(remote), test_command="python -m pytest -q"), remote


def dsn() -> str:
    given = connection.settings_dict
    return (f"host={given['HOST'] or 'localhost'} port={given['PORT'] or 5432} dbname={given['NAME']} "
            f"user={given['USER']} password={given['PASSWORD']}")


def push_merge_as_a_cut_approve(ticket: Ticket, *, mark: bool = True) -> str:
    """What an approve killed between its push and its commit leaves: the merge on the remote, `completed` here."""
    if mark:
        review.mark_approving(ticket=ticket, user=_Named())
    outcome = merge_and_push(
        project_repo(ticket.project), branch=ticket.branch_name, message=f"Merge {ticket.branch_name}\n\nTicket: {ticket.pk}\nApproved-by: ana",
        ticket_id=str(ticket.pk))
    assert outcome.merged and not outcome.earlier
    return outcome.commit


class _Named:
    """The approver of the cut approve (events name actors by username)."""

    def get_username(self) -> str:
        return "ana"


def test_the_next_approve_records_the_pushed_merge_without_merging_again(repo_project, architect):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    pushed = push_merge_as_a_cut_approve(ticket, mark=False)

    response = client_for(architect).post(f"/api/factory/tickets/{ticket.pk}/approve", format="json")

    assert response.status_code == 200, response.content
    assert response.data["estado"] == "merged"
    assert merge_commits(remote) == [pushed] == [remote_head(remote)]
    merged = Ticket.objects.get(pk=ticket.pk).events.get(kind=TicketEvent.Kind.STATE, to_state="merged")
    assert merged.data == {"merge_commit": pushed, "recovered": True}


def test_reconcile_at_start_records_the_pushed_merge(repo_project, settings):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 3")})
    untouched = completed_ticket(project, remote, {"README.md": "# other\n"}, titulo="Other change")
    pushed = push_merge_as_a_cut_approve(ticket)

    # As `make run` and the compose file do before serving: a real process of its own.
    env = os.environ | {"DATABASE_URL": database_url(settings.DATABASES["default"]),
                        "FACTORY_DATA_DIR": str(settings.FACTORY_DATA_DIR)}
    started = subprocess.run([sys.executable, "manage.py", "reconcile_merges"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)

    assert started.returncode == 0, started.stderr
    assert "Recorded 1 merge" in started.stdout
    ticket.refresh_from_db()
    assert ticket.estado == "merged"
    assert ticket.events.get(to_state="merged").data["merge_commit"] == pushed
    assert Ticket.objects.get(pk=untouched.pk).estado == "completed"
    assert merge_commits(remote) == [pushed]
    assert review.reconcile_merges() == 0  # nothing left to record


def test_database_killed_during_the_approve_push_answers_503_then_the_reconcile_records_it(repo_project, architect):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 4")})
    hook = remote / "hooks" / "post-receive"
    hook.write_text(KILL_HOOK.format(python=sys.executable, dsn=dsn()))
    hook.chmod(0o755)

    response = client_for(architect).post(f"/api/factory/tickets/{ticket.pk}/approve", format="json")
    connection.close()

    assert response.status_code == 503, response.content
    assert "database is unavailable" in response.json()["detail"]
    assert response["Retry-After"]
    pushed = remote_head(remote)
    assert merge_commits(remote) == [pushed]
    assert Ticket.objects.get(pk=ticket.pk).estado == "completed"  # the transaction was rolled back

    hook.unlink()
    assert review.reconcile_merges() == 1
    ticket.refresh_from_db()
    assert ticket.estado == "merged"
    assert ticket.events.get(to_state="merged").data == {"merge_commit": pushed, "recovered": True}
    again = client_for(architect).post(f"/api/factory/tickets/{ticket.pk}/approve", format="json")
    assert again.status_code == 409
    assert merge_commits(remote) == [pushed]


def test_the_review_page_answers_503_when_the_database_goes_away(repo_project, reviewer):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 5")})
    hook = remote / "hooks" / "post-receive"
    hook.write_text(KILL_HOOK.format(python=sys.executable, dsn=dsn()))
    hook.chmod(0o755)
    page = staff_client(reviewer)
    form = {"expected_state": "completed", "expected_head": ticket.codigo_generado["head"]}

    response = page.post(f"/review/{ticket.pk}/approve", form)
    connection.close()

    assert response.status_code == 503
    assert "database is unavailable" in response.content.decode()
    hook.unlink()
    assert review.reconcile_merges() == 1
    assert Ticket.objects.get(pk=ticket.pk).estado == "merged"
