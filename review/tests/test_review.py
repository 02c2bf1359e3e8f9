"""Review: the queue, the review page, its actions and the review API, against real git remotes."""
import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from tests.support import (
    APP,
    TESTS_OK,
    VERDICT_TESTS,
    client_for,
    clone,
    commit_files,
    completed_ticket,
    git,
    is_ancestor,
    make_user,
    merge_commits,
    remote_head,
    staff_client,
)
from tickets import services
from tickets.models import Ticket, TicketAttempt, TicketEvent
from tickets.roles import ARCHITECT, REVIEWER
from tickets.signals import review_comment

pytestmark = pytest.mark.django_db

ACTIONS = ("approve", "request-changes", "rerun", "cancel")


def page_form_data(client: Client, ticket: Ticket) -> dict:
    """The hidden fields the review page rendered, as a browser would post them back."""
    response = client.get(reverse("review-ticket", args=[ticket.pk]))
    context = response.context
    return {"expected_state": context["ticket"].estado, "expected_head": context["head"]}


# Approve -----------------------------------------------------------------------


def test_approve_through_the_api_merges_into_the_remote_default_branch(repo_project, architect):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("'Hello '", "'Good day, '")})
    head = ticket.codigo_generado["head"]

    response = client_for(architect).post(f"/api/factory/tickets/{ticket.pk}/approve", format="json")

    assert response.status_code == 200, response.content
    assert response.data["estado"] == "merged"
    assert is_ancestor(remote, head)
    assert merge_commits(remote) == [remote_head(remote)]
    message = git(remote, "log", "-1", "--format=%B", "main")
    assert str(ticket.pk) in message and "Approved-by: architect" in message
    assert "Good day" in git(remote, "show", "main:app.py")
    merged_event = ticket.events.get(kind=TicketEvent.Kind.STATE, to_state="merged")
    assert merged_event.data["merge_commit"] == remote_head(remote)


def test_approve_on_the_page_merges_and_says_so(repo_project, reviewer):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    client = staff_client(reviewer)
    form = page_form_data(client, ticket)

    response = client.post(reverse("review-action", args=[ticket.pk, "approve"]), form, follow=True)

    assert response.redirect_chain[-1][0] == reverse("review-ticket", args=[ticket.pk])
    page = response.content.decode()
    assert "was merged into main" in page and 'id="merged-note"' in page
    assert Ticket.objects.get(pk=ticket.pk).estado == "merged"
    assert is_ancestor(remote, ticket.codigo_generado["head"])
    assert 'id="approve-button"' not in page


def test_approve_refuses_a_ticket_that_is_not_completed(repo_project, architect):
    project, _ = repo_project
    ticket, _ = services.create_ticket(actor=None, project=project, fields={"titulo": "t", "descripcion": "d"})
    response = client_for(architect).post(f"/api/factory/tickets/{ticket.pk}/approve")
    assert response.status_code == 409
    assert "pending" in response.data["detail"]


def test_approve_with_a_head_that_changed_is_refused(repo_project, architect):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    before = remote_head(remote)
    response = client_for(architect).post(f"/api/factory/tickets/{ticket.pk}/approve", {"head": "0" * 40},
                                          format="json")
    assert response.status_code == 409
    assert "new version" in response.data["detail"]
    assert remote_head(remote) == before


def test_a_misspelled_field_is_refused_so_the_head_check_is_never_skipped(repo_project, architect):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    before = remote_head(remote)
    api = client_for(architect)

    response = api.post(f"/api/factory/tickets/{ticket.pk}/approve", {"head_commit": "0" * 40}, format="json")

    assert response.status_code == 400 and response.data == {"head_commit": ["Unknown field."]}
    assert remote_head(remote) == before
    for action, body in (("request-changes", {"comentario": "Redo it.", "rebase": True}),
                         ("rerun", {"note": "Keep VALUE."}), ("cancel", {"reason": "dup"})):
        refused = api.post(f"/api/factory/tickets/{ticket.pk}/{action}", body, format="json")
        unknown = next(name for name in body if name != "comentario")
        assert refused.status_code == 400 and refused.data == {unknown: ["Unknown field."]}, action
    assert Ticket.objects.get(pk=ticket.pk).estado == "completed"


def test_patch_to_merged_records_its_comentario_with_the_merge(repo_project, architect):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    api = client_for(architect)

    response = api.patch(f"/api/factory/tickets/{ticket.pk}", {"estado": "merged", "comentario": "Ship it."},
                         format="json")

    assert response.status_code == 200, response.content
    events = [(event["kind"], event["message"]) for event in response.data["events"]][-2:]
    assert events[0] == ("comment", "Ship it.") and events[1][0] == "state"
    again = api.patch(f"/api/factory/tickets/{ticket.pk}", {"estado": "merged", "comentario": "Released in 2.1."},
                      format="json")
    assert again.status_code == 200
    assert again.data["events"][-1]["kind"] == "comment" and again.data["events"][-1]["message"] == "Released in 2.1."
    assert len(merge_commits(remote)) == 1


def test_double_approve_merges_once(repo_project, architect):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    api = client_for(architect)

    first = api.post(f"/api/factory/tickets/{ticket.pk}/approve")
    second = api.post(f"/api/factory/tickets/{ticket.pk}/approve/")

    assert (first.status_code, second.status_code) == (200, 409)
    assert "merged" in second.data["detail"]
    assert len(merge_commits(remote)) == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_approves_merge_once(repo_project, architect):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def approve() -> None:
        try:
            api = client_for(architect)
            barrier.wait(timeout=30)
            codes.append(api.post(f"/api/factory/tickets/{ticket.pk}/approve").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(codes) == [200, 409]
    assert len(merge_commits(remote)) == 1
    assert Ticket.objects.get(pk=ticket.pk).estado == "merged"
    assert ticket.events.filter(kind=TicketEvent.Kind.STATE, to_state="merged").count() == 1


# Conflicts ---------------------------------------------------------------------


def test_conflict_pushes_nothing_lists_the_files_and_offers_a_rerun(repo_project, architect, reviewer):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    other = clone(remote, remote.parent / "other-dev")
    commit_files(other, {"app.py": APP.replace("VALUE = 1", "VALUE = 3")}, "someone else changed VALUE")
    git(other, "push", "-q", "origin", "main")
    before = remote_head(remote)

    response = client_for(architect).post(f"/api/factory/tickets/{ticket.pk}/approve")

    assert response.status_code == 409, response.content
    assert response.json()["conflicts"] == ["app.py"]
    assert "nothing was pushed" in response.json()["detail"]
    assert remote_head(remote) == before
    assert Ticket.objects.get(pk=ticket.pk).estado == "completed"

    page = staff_client(reviewer).get(reverse("review-ticket", args=[ticket.pk])).content.decode()
    assert 'id="conflicts"' in page and "<code>app.py</code>" in page and 'id="rerun-button"' in page

    rerun = client_for(architect).post(f"/api/factory/tickets/{ticket.pk}/rerun", {"comentario": "Keep VALUE 3."},
                                       format="json")
    assert rerun.status_code == 200, rerun.content
    assert rerun.data["estado"] == "changes_requested"
    comment = ticket.events.filter(kind=TicketEvent.Kind.COMMENT).latest("created_at")
    assert comment.data == {"feedback": True, "rebase": True}
    assert "app.py" in comment.message and "Keep VALUE 3." in comment.message


def test_only_what_the_reviewer_wrote_on_a_rerun_becomes_a_lesson(repo_project, architect,
                                                                   django_capture_on_commit_callbacks):
    project, remote = repo_project
    learnt: list[str] = []

    def remember(sender, *, comment: str, **kwargs) -> None:
        learnt.append(comment)

    review_comment.connect(remember, dispatch_uid="test-rerun-lessons")
    try:
        for note in ("", "Keep VALUE 3: the pricing team set it."):
            ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
            with django_capture_on_commit_callbacks(execute=True):
                rerun = client_for(architect).post(f"/api/factory/tickets/{ticket.pk}/rerun", {"comentario": note},
                                                   format="json")
            assert rerun.status_code == 200, rerun.content
    finally:
        review_comment.disconnect(dispatch_uid="test-rerun-lessons")
    assert learnt == ["Keep VALUE 3: the pricing team set it."]


def test_conflict_on_the_page_shows_the_files_in_the_message(repo_project, reviewer):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    other = clone(remote, remote.parent / "other-dev")
    commit_files(other, {"app.py": APP.replace("VALUE = 1", "VALUE = 3")}, "moved on")
    git(other, "push", "-q", "origin", "main")
    client = staff_client(reviewer)

    response = client.post(reverse("review-action", args=[ticket.pk, "approve"]), page_form_data(client, ticket),
                           follow=True)

    page = response.content.decode()
    assert "merge conflicts in app.py" in page and "Nothing was pushed" in page
    assert "Try the merge again" in page
    rerun = client.post(reverse("review-action", args=[ticket.pk, "rerun"]), {"expected_state": "completed"},
                        follow=True)
    assert "Sent back to the agent" in rerun.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).estado == "changes_requested"


# Request changes and cancel -------------------------------------------------------


def test_request_changes_records_the_comment_for_the_agent(repo_project, architect, reviewer):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    api = client_for(reviewer)

    assert api.post(f"/api/factory/tickets/{ticket.pk}/request-changes", {}, format="json").status_code == 400
    blank = api.post(f"/api/factory/tickets/{ticket.pk}/request-changes", {"comentario": "  "}, format="json")
    assert blank.status_code == 400 and "comentario" in blank.data
    response = api.post(f"/api/factory/tickets/{ticket.pk}/request-changes/",
                        {"comentario": "Use an f-string."}, format="json")

    assert response.status_code == 200, response.content
    assert response.data["estado"] == "changes_requested"
    comment = ticket.events.get(kind=TicketEvent.Kind.COMMENT)
    assert (comment.message, comment.actor, comment.data) == ("Use an f-string.", "reviewer",
                                                              {"feedback": True, "rebase": False})
    again = api.post(f"/api/factory/tickets/{ticket.pk}/request-changes", {"comentario": "x"}, format="json")
    assert again.status_code == 409


def test_request_changes_on_the_page(repo_project, reviewer):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    client = staff_client(reviewer)
    url = reverse("review-action", args=[ticket.pk, "request-changes"])

    empty = client.post(url, {"expected_state": "completed", "comentario": ""}, follow=True)
    assert "Say what to change" in empty.content.decode()
    response = client.post(url, {"expected_state": "completed", "comentario": "Add a docstring."}, follow=True)

    page = response.content.decode()
    assert "Changes requested" in page and "Add a docstring." in page
    assert 'id="live-progress"' in page  # now waiting for the agent
    assert Ticket.objects.get(pk=ticket.pk).estado == "changes_requested"


def test_cancel_through_the_api_and_the_page(repo_project, architect, reviewer):
    project, remote = repo_project
    first = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    second = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 4")}, titulo="Other")

    response = client_for(architect).post(f"/api/factory/tickets/{first.pk}/cancel", {"comentario": "Not needed."},
                                          format="json")
    assert response.status_code == 200 and response.data["estado"] == "cancelled"
    assert client_for(architect).post(f"/api/factory/tickets/{first.pk}/cancel").status_code == 409

    client = staff_client(reviewer)
    page = client.post(reverse("review-action", args=[second.pk, "cancel"]), {"expected_state": "completed"},
                       follow=True).content.decode()
    assert "Ticket cancelled." in page and "was cancelled" in page
    assert Ticket.objects.get(pk=second.pk).estado == "cancelled"
    assert len(merge_commits(remote)) == 0


def test_a_nul_byte_in_a_comment_on_the_page_is_refused_and_changes_nothing(repo_project, reviewer):
    project, remote = repo_project
    pending, _ = services.create_ticket(actor=None, project=project, fields={"titulo": "t", "descripcion": "d"})
    completed = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    client = staff_client(reviewer)

    for ticket, action in ((pending, "cancel"), (completed, "request-changes"), (completed, "rerun"),
                           (completed, "cancel")):
        events = TicketEvent.objects.filter(ticket_id=ticket.pk).count()
        response = client.post(reverse("review-action", args=[ticket.pk, action]),
                               {"expected_state": ticket.estado, "comentario": "a\x00b"}, follow=True)
        assert response.status_code == 200, action
        assert "Nothing was done" in response.content.decode() and "NUL" in response.content.decode(), action
        assert Ticket.objects.get(pk=ticket.pk).estado == ticket.estado
        assert TicketEvent.objects.filter(ticket_id=ticket.pk).count() == events, action


# Stale pages and permissions --------------------------------------------------------


def test_a_stale_page_cannot_act_on_a_changed_ticket(repo_project, architect, reviewer):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    client = staff_client(reviewer)
    stale = page_form_data(client, ticket)
    client_for(architect).post(f"/api/factory/tickets/{ticket.pk}/request-changes", {"comentario": "Redo it."},
                               format="json")

    for action in ("approve", "cancel", "request-changes"):
        response = client.post(reverse("review-action", args=[ticket.pk, action]),
                               {**stale, "comentario": "late"}, follow=True)
        page = response.content.decode()
        assert "Nothing was done" in page and "now &#x27;changes_requested&#x27;" in page, action

    assert Ticket.objects.get(pk=ticket.pk).estado == "changes_requested"
    assert len(merge_commits(remote)) == 0
    missing = client.post(reverse("review-action", args=[ticket.pk, "cancel"]), {}, follow=True)
    assert "did not say which version" in missing.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).estado == "changes_requested"


def test_a_page_showing_an_older_version_of_the_change_cannot_approve(repo_project, reviewer):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    client = staff_client(reviewer)
    stale = {**page_form_data(client, ticket), "expected_head": "f" * 40}

    page = client.post(reverse("review-action", args=[ticket.pk, "approve"]), stale, follow=True).content.decode()

    assert "new version of the change" in page
    assert Ticket.objects.get(pk=ticket.pk).estado == "completed"
    assert len(merge_commits(remote)) == 0


def test_outsiders_get_403_on_every_review_action(repo_project):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    outsider = client_for(make_user("outsider"))
    for action in ACTIONS:
        response = outsider.post(f"/api/factory/tickets/{ticket.pk}/{action}", {"comentario": "x"}, format="json")
        assert response.status_code == 403, action
        assert "reviewer" in response.data["detail"]
    from rest_framework.test import APIClient

    assert APIClient().post(f"/api/factory/tickets/{ticket.pk}/approve").status_code in (401, 403)
    assert Ticket.objects.get(pk=ticket.pk).estado == "completed"
    assert len(merge_commits(remote)) == 0


def test_unknown_ticket_is_404_on_review_routes(architect):
    api = client_for(architect)
    for action in ACTIONS:
        response = api.post(f"/api/factory/tickets/00000000-0000-0000-0000-000000000000/{action}",
                            {"comentario": "x"}, format="json")
        assert response.status_code == 404 and "detail" in response.json(), action
    diff = api.get("/api/factory/tickets/not-a-uuid/diff")
    assert diff.status_code == 404 and "detail" in diff.json()


def test_review_pages_need_staff(repo_project):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    login = reverse("admin:login")
    for client in (Client(), staff_client(make_user("plain", role=REVIEWER))):
        for url in (reverse("review-queue"), reverse("review-ticket", args=[ticket.pk])):
            response = client.get(url)
            assert response.status_code == 302 and response.url.startswith(login), url
        posted = client.post(reverse("review-action", args=[ticket.pk, "approve"]), {"expected_state": "completed"})
        assert posted.status_code == 302 and posted.url.startswith(login)
        assert client.get(reverse("review-progress", args=[ticket.pk])).status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).estado == "completed"


def test_staff_without_a_role_can_read_but_not_decide(repo_project):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    client = staff_client(make_user("staffer", staff=True))
    page = client.get(reverse("review-ticket", args=[ticket.pk])).content.decode()
    assert "Deciding needs the" in page and 'id="approve-button"' not in page

    response = client.post(reverse("review-action", args=[ticket.pk, "approve"]), {"expected_state": "completed"},
                           follow=True)

    assert "Only users with the" in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).estado == "completed"
    assert len(merge_commits(remote)) == 0


# What the reviewer sees -----------------------------------------------------------


def test_review_page_shows_request_diff_tests_and_attempts(repo_project, reviewer):
    project, remote = repo_project
    failing = {**TESTS_OK, "passed": 6, "failed": 1, "success": False, "exit_code": 1,
               "failures": [{"name": "tests/test_app.py::test_greet", "message": "AssertionError: 'Hi' != 'Hello'"}]}
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2"),
                                                "new_module.py": "import os\n"}, tests=failing)

    response = staff_client(reviewer).get(reverse("review-ticket", args=[ticket.pk]))
    page = response.content.decode()

    assert "Make greet() polite." in page and "Keep functions pure" in page and "greet(&#x27;Ana&#x27;)" in page
    assert '<span class="badge added">added</span>' in page and '<span class="badge modified">modified</span>' in page
    assert '<span class="kn">import</span>' in page  # a Pygments token inside the highlighted diff
    assert reverse("review-pygments-css") in page  # the Pygments stylesheet, a file: no inline style
    assert ".diff .hl .kn" in staff_client(reviewer).get(reverse("review-pygments-css")).content.decode()
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy and "unsafe-inline" not in policy
    assert "<script>" not in page and "<style" not in page and " style=" not in page
    assert 'class="diff-table diff-unified"' in page and 'class="diff-table diff-split"' in page
    assert "6 passed" in page and "1 failed" in page
    assert "tests/test_app.py::test_greet" in page and "AssertionError: &#x27;Hi&#x27; != &#x27;Hello&#x27;" in page
    assert "Full output" in page and "7 passed, 1 skipped in 2.50s" in page
    assert "#1" in page and "1,200 in · 340 out" in page and "12.5 s" in page
    assert "✓ applied <code>app.py</code>" in page
    assert "Model answer" in page
    assert 'name="csrfmiddlewaretoken"' in page and 'name="expected_state" value="completed"' in page
    assert f'name="expected_head" value="{ticket.codigo_generado["head"]}"' in page


def test_review_page_marks_renamed_and_deleted_files(repo_project, reviewer):
    project, remote = repo_project
    body = "".join(f"def f{n}():\n    return {n}\n\n" for n in range(12))
    seed = clone(remote, remote.parent / "seed-more")
    commit_files(seed, {"lib/old.py": body, "gone.txt": "bye\n"}, "more files")
    git(seed, "push", "-q", "origin", "main")
    ticket, _ = services.create_ticket(actor=None, project=project, fields={"titulo": "Move", "descripcion": "d"})
    work = clone(remote, remote.parent / "mover")
    git(work, "checkout", "-q", "-b", "factory/move")
    git(work, "mv", "lib/old.py", "lib/new.py")
    git(work, "rm", "-q", "gone.txt")
    git(work, "commit", "-q", "-m", "move")
    diff = git(work, "diff", "--find-renames", "origin/main", "HEAD")
    services.transition(ticket=ticket, to="in_progress", actor="agent")
    services.transition(ticket=ticket, to="completed", actor="agent",
                        fields={"branch_name": "factory/move", "codigo_generado": {"diff": diff, "files": []}})

    page = staff_client(reviewer).get(reverse("review-ticket", args=[ticket.pk])).content.decode()

    assert '<span class="badge renamed">renamed</span>' in page and "lib/old.py → lib/new.py" in page
    assert '<span class="badge deleted">deleted</span>' in page and "gone.txt" in page


def test_review_queue_lists_completed_tickets_oldest_first(repo_project, reviewer):
    project, remote = repo_project
    older = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")}, titulo="Older one")
    newer = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 5\nMORE = 6")},
                             titulo="Newer one")
    services.create_ticket(actor=None, project=project, fields={"titulo": "Still pending", "descripcion": "d"})

    page = staff_client(reviewer).get(reverse("review-queue")).content.decode()

    assert page.index("Older one") < page.index("Newer one")
    assert "Still pending" not in page
    assert reverse("review-ticket", args=[older.pk]) in page and reverse("review-ticket", args=[newer.pk]) in page
    assert "7 passed" in page and "+2" in page and "demo" in page
    services.transition(ticket=older, to="cancelled", actor="system")
    assert "Older one" not in staff_client(reviewer).get(reverse("review-queue")).content.decode()


def test_admin_links_to_the_review_queue_and_page(repo_project):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    admin = make_user("boss", role=ARCHITECT, staff=True)
    admin.is_superuser = True
    admin.save()
    client = staff_client(admin)
    index = client.get(reverse("admin:index")).content.decode()
    assert reverse("review-queue") in index
    change = client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).content.decode()
    assert reverse("review-ticket", args=[ticket.pk]) in change and reverse("review-queue") in change


def test_progress_endpoint_reports_the_current_attempt(repo_project, reviewer):
    project, _ = repo_project
    ticket, _ = services.create_ticket(actor=None, project=project, fields={"titulo": "Live", "descripcion": "d"})
    client = staff_client(reviewer)
    assert client.get(reverse("review-progress", args=[ticket.pk])).json()["estado"] == "pending"
    services.transition(ticket=ticket, to="in_progress", actor="agent")
    TicketAttempt.objects.create(ticket=ticket, number=1, outcome="tests_failed", phase="finished")
    TicketAttempt.objects.create(ticket=ticket, number=2, phase="running the tests")

    data = client.get(reverse("review-progress", args=[ticket.pk])).json()
    page = client.get(reverse("review-ticket", args=[ticket.pk])).content.decode()

    assert data["estado"] == "in_progress" and data["attempt"] == 2 and data["phase"] == "running the tests"
    assert data["max_attempts"] >= 1 and data["attempt_elapsed_s"] >= 0 and data["run_elapsed_s"] >= 0
    assert 'id="live-progress"' in page and reverse("review-progress", args=[ticket.pk]) in page
    assert "Attempt 2 of" in page and "running the tests" in page
    missing = client.get(reverse("review-progress", args=["00000000-0000-0000-0000-000000000000"]))
    assert missing.status_code == 404


def test_diff_api_returns_plain_unified_diff(repo_project, architect):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    api = client_for(architect)

    response = api.get(f"/api/factory/tickets/{ticket.pk}/diff")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/x-diff")
    assert response.content.decode() == ticket.codigo_generado["diff"] and "+VALUE = 2" in response.content.decode()
    fresh, _ = services.create_ticket(actor=None, project=project, fields={"titulo": "n", "descripcion": "d"})
    empty = api.get(f"/api/factory/tickets/{fresh.pk}/diff/")
    assert empty.status_code == 200 and empty.content == b""


def test_approve_when_git_fails_answers_502_and_changes_nothing(repo_project, architect):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    git(remote, "branch", "-D", ticket.branch_name)
    before = remote_head(remote)

    response = client_for(architect).post(f"/api/factory/tickets/{ticket.pk}/approve")

    assert response.status_code == 502, response.content
    assert response.json()["detail"].startswith("Nothing was merged: git merge failed")
    assert remote_head(remote) == before
    assert Ticket.objects.get(pk=ticket.pk).estado == "completed"
    assert ticket.events.filter(kind=TicketEvent.Kind.ERROR).exists()


# What the page shows of a verdict, and a project to fix ------------------------------

def test_the_page_shows_each_test_by_its_verdict(repo_project, reviewer):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")},
                              tests=VERDICT_TESTS)
    Ticket.objects.filter(pk=ticket.pk).update(codigo_generado={**ticket.codigo_generado,
                                                                "dependency_manifests_changed": ["package.json"]})
    page = staff_client(reviewer).get(reverse("review-ticket", args=[ticket.pk])).content.decode()
    assert "judged against <code>main</code> at <code>0123456789</code>" in page
    assert "1 already failing on main" in page and "tests/test_a.py::test_parse_duration" in page
    assert "1 flaky (failed once, passed on re-run)" in page and "1 fixed" in page
    assert "related tests first: 1.5 s · full suite: 4.0 s" in page
    assert 'id="manifests-changed"' in page and "<code>package.json</code>" in page


def test_a_changed_required_test_is_marked_with_its_diff_before_the_verdict(repo_project, reviewer):
    project, remote = repo_project
    diff = "--- a/tests/test_a.py::test_add\n+++ b/tests/test_a.py::test_add\n-def test_add():\n+@pytest.mark.parametrize('a', [1, 2])\n"
    tests = {**VERDICT_TESTS, "required_changed": [{"test": "tests/test_a.py::test_add", "path": "tests/test_a.py",
                                                    "diff": diff}],
             "verdict": {**VERDICT_TESTS["verdict"], "ticket_failing": ["tests/test_a.py::test_own"]}}
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")}, tests=tests)
    page = staff_client(reviewer).get(reverse("review-ticket", args=[ticket.pk])).content.decode()
    marked = page.index("required test changed")
    assert marked < page.index("<b>Verdict:</b>")
    assert "<code>tests/test_a.py::test_add</code>" in page[marked:]
    assert "+@pytest.mark.parametrize(&#x27;a&#x27;, [1, 2])" in page[marked:]
    assert "1 the ticket&#x27;s own, failing on the base and still failing" in page


def test_a_ticket_failed_by_its_project_offers_to_edit_the_project_and_retry(repo_project, reviewer):
    project, _ = repo_project
    ticket, _ = services.create_ticket(actor=None, project=project, fields={"titulo": "t", "descripcion": "d"})
    ticket = services.transition(ticket=ticket, to="in_progress", actor="agent")
    ticket = services.transition(ticket=ticket, to="failed", actor="agent", fields={
        "error_mensaje": "Fix the project: setup_command `npm ci` failed (exit 1) on the base commit abc",
        "failure_kind": "project"})
    client = staff_client(reviewer)
    page = client.get(reverse("review-ticket", args=[ticket.pk])).content.decode()
    assert 'id="project-problem"' in page and 'id="edit-project"' in page
    assert f"/admin/tickets/project/{project.pk}/change/" in page
    assert 'id="retry-button"' in page and 'id="request-changes-button"' not in page
    response = client.post(reverse("review-action", args=[ticket.pk, "retry"]), {"expected_state": "failed"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.estado == "pending" and ticket.error_mensaje is None and ticket.failure_kind == ""


def test_cancelling_a_waiting_ticket_drops_why_it_waited_but_a_failure_keeps_its_reason(project, architect):
    waiting, _ = services.create_ticket(actor=None, project=project, fields={"titulo": "w", "descripcion": "d"})
    services.transition(ticket=waiting, to="in_progress", actor="agent")
    services.transition(ticket=waiting, to="pending", actor="agent",
                        fields={"error_mensaje": "Ollama is unreachable at http://127.0.0.1:11434"})
    failed, _ = services.create_ticket(actor=None, project=project, fields={"titulo": "f", "descripcion": "d"})
    services.transition(ticket=failed, to="in_progress", actor="agent")
    services.transition(ticket=failed, to="failed", actor="agent", fields={"error_mensaje": "Failed after 3 attempts"})
    for ticket in (waiting, failed):
        assert client_for(architect).post(f"/api/factory/tickets/{ticket.pk}/cancel").status_code == 200
    assert Ticket.objects.get(pk=waiting.pk).error_mensaje in (None, "")
    assert Ticket.objects.get(pk=failed.pk).error_mensaje == "Failed after 3 attempts"
