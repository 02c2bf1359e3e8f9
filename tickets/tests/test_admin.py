"""The Django admin: tickets are created and edited through the same services as the API, and their change page
shows the diff, the tests and the attempts as the review page does."""
import re

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from tests.support import APP, TESTS_OK, VERDICT_TESTS, completed_ticket, make_remote_repo, make_user
from tickets import services
from tickets.models import Project, Ticket, TicketAttempt

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db) -> Client:
    user = make_user("boss", staff=True)
    user.is_superuser = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def ticket_form(project, **overrides) -> dict:
    form = {"project": project.pk, "titulo": "From the admin", "descripcion": "Made by hand", "tipo": "feature",
            "prioridad": 2, "archivos_modificar": "app.py", "archivos_referencia": "", "patrones_obligatorios": "",
            "contexto_cipher": "", "tests_requeridos": "", "_save": "Save"}
    for prefix in ("attempts", "events"):
        form.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0, f"{prefix}-MIN_NUM_FORMS": 0,
                     f"{prefix}-MAX_NUM_FORMS": 1000})
    form.update(overrides)
    return form


def test_add_and_edit_a_ticket_in_the_admin(admin_client, project):
    added = admin_client.post("/admin/tickets/ticket/add/", ticket_form(project))
    assert added.status_code == 302, added.content[:2000]
    ticket = Ticket.objects.get()
    assert ticket.events.filter(kind="created").exists() and ticket.queued_at is not None
    page = admin_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/")
    assert page.status_code == 200 and b"review page" in page.content
    edited = admin_client.post(f"/admin/tickets/ticket/{ticket.pk}/change/", ticket_form(
        project, titulo="Edited", prioridad=1, patrones_obligatorios="Use ints, never floats\r\nNo classes\r\n"))
    assert edited.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.titulo, ticket.prioridad) == ("Edited", 1)
    assert ticket.patrones_obligatorios == ["Use ints, never floats", "No classes"]
    assert ticket.events.filter(kind="updated").exists()


def test_admin_lists_filters_and_shows_model_health(admin_client, project):
    services.create_ticket(actor=None, project=project, fields={"titulo": "Listed", "descripcion": "d"})
    from agent.services import record_health

    record_health(key="model", ok=False, message="Ollama is unreachable at http://127.0.0.1:9")
    page = admin_client.get("/admin/tickets/ticket/?estado__exact=pending&q=Listed")
    assert page.status_code == 200
    assert b"Listed" in page.content and b"The model is unreachable" in page.content
    home = admin_client.get("/admin/")
    assert home.status_code == 200 and b"The model is unreachable" in home.content
    assert admin_client.get("/admin/tickets/project/").status_code == 200
    assert admin_client.get("/admin/memory/memoryitem/").status_code == 200


def test_admin_refuses_paths_outside_the_repository(admin_client, project):
    response = admin_client.post("/admin/tickets/ticket/add/", ticket_form(project, archivos_modificar="../../etc/passwd"))
    assert response.status_code == 200 and b"contains &#x27;..&#x27;" in response.content
    assert not Ticket.objects.exists()


def test_saving_a_ticket_the_agent_took_meanwhile_says_only_not_saved(admin_client, project):
    from agent.services import claim_ticket

    ticket, _ = services.create_ticket(actor=None, project=project, fields={"titulo": "Open", "descripcion": "d"})
    assert admin_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").status_code == 200
    claim_ticket(ticket_id=str(ticket.pk))  # the agent takes it while the form is open
    response = admin_client.post(f"/admin/tickets/ticket/{ticket.pk}/change/",
                                 ticket_form(project, titulo="Edited meanwhile"), follow=True)
    page = response.content.decode()
    assert "Not saved" in page and "is not editable" in page
    assert "was changed successfully" not in page
    ticket.refresh_from_db()
    assert ticket.titulo == "Open"


# Projects: the same checks as the API ----------------------------------------------------------------------


def project_form(repo_url: str, **overrides) -> dict:
    form = {"name": "web", "repo_url": repo_url, "default_branch": "main", "test_command": "pytest -q",
            "setup_command": "", "edit_format": "auto", "quick_test_command": "", "test_report": "",
            "candidates": "", "escalation": "", "memory_language": "", "_save": "Save"}
    form.update(overrides)
    return form


@pytest.mark.parametrize(("field", "value", "message"), [
    ("test_report", "/etc/hostname", "is absolute; give a path relative to the repository root"),
    ("test_report", "../reports/junit.xml", "contains &#x27;..&#x27;"),
    ("test_report", ".git/config", "is inside .git"),
    ("quick_test_command", "pytest -q", "Put {files} where the changed files go"),
    ("default_branch", "a..b", "is not a valid git branch name"),
])
def test_the_admin_refuses_project_settings_the_api_refuses(admin_client, tmp_path, field, value, message):
    remote = make_remote_repo(tmp_path, {"README.md": "x"})
    response = admin_client.post("/admin/tickets/project/add/", project_form(str(remote), **{field: value}))
    assert response.status_code == 200 and message in response.content.decode()
    assert not Project.objects.exists()
    with pytest.raises(ValidationError, match=field):  # the services check the same (full_clean)
        services.create_project(name="web", repo_url=str(remote), test_command="pytest -q", **{field: value})


def test_a_valid_project_is_added_in_the_admin_and_its_name_is_kept(admin_client, tmp_path):
    remote = make_remote_repo(tmp_path, {"README.md": "x"})
    add_page = admin_client.get("/admin/tickets/project/add/").content.decode()
    assert 'name="name"' in add_page
    added = admin_client.post("/admin/tickets/project/add/", project_form(
        str(remote), test_report="reports/junit.xml", quick_test_command="pytest -q {files}"))
    assert added.status_code == 302, added.content[:3000]
    project = Project.objects.get()
    assert (project.name, project.test_report, project.quick_test_command) == (
        "web", "reports/junit.xml", "pytest -q {files}")

    change_url = f"/admin/tickets/project/{project.pk}/change/"
    assert 'name="name"' not in admin_client.get(change_url).content.decode()  # shown, not editable
    renamed = admin_client.post(change_url, project_form(str(remote), name="renamed", test_command="pytest"))
    assert renamed.status_code == 302
    project.refresh_from_db()
    assert (project.name, project.test_command) == ("web", "pytest")


def test_escalation_blank_keeps_the_servers_and_none_means_no_escalation(admin_client, tmp_path):
    remote = make_remote_repo(tmp_path, {"README.md": "x"})
    page = admin_client.get("/admin/tickets/project/add/").content.decode()
    assert "Leave it blank to use the server's FACTORY_ESCALATION; write <code>none</code> for no escalation" in page
    assert admin_client.post("/admin/tickets/project/add/", project_form(str(remote))).status_code == 302
    project = Project.objects.get()
    assert project.escalation is None  # the server's FACTORY_ESCALATION

    change_url = f"/admin/tickets/project/{project.pk}/change/"
    for typed, stored, shown in [(" None ", [], "none"), ("qwen2.5-coder:32b, hf.co/org/repo:Q4_K_M",
                                                           ["qwen2.5-coder:32b", "hf.co/org/repo:Q4_K_M"],
                                                           "qwen2.5-coder:32b,hf.co/org/repo:Q4_K_M"),
                                 ("", None, "")]:
        saved = admin_client.post(change_url, project_form(str(remote), escalation=typed))
        assert saved.status_code == 302, saved.content[:3000]
        project.refresh_from_db()
        assert project.escalation == stored, typed
        form = admin_client.get(change_url).content.decode()
        assert re.search(rf'name="escalation"[^>]*value="{re.escape(shown)}"', form) or (
            not shown and not re.search(r'name="escalation"[^>]*value=', form)), (typed, shown)

    refused = admin_client.post(change_url, project_form(str(remote), escalation="qwen coder"))
    assert refused.status_code == 200 and "&#x27;qwen coder&#x27; is not a model name as Ollama spells it" in \
        refused.content.decode()
    project.refresh_from_db()
    assert project.escalation is None


# The ticket's change page shows what it holds -------------------------------------------------------------

INDENTED_ANSWER = "app.py\n```python\ndef greet(name):\n    if name:\n        return 'Good day, ' + name\n```\n"
FAILED_FIRST = {**TESTS_OK, "success": False, "exit_code": 1, "passed": 6, "failed": 1, "failures": [
    {"name": "tests/test_app.py::test_greet", "message": "assert greet('Ana') == 'Good day, Ana'\n    where 'x'"}],
    "output_tail": "F......\n    def test_greet():\n>       assert greet('Ana')"}


def test_the_change_page_shows_the_diff_tests_and_answers_as_they_are(repo_project, admin_client):
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")}, tests=VERDICT_TESTS)
    TicketAttempt.objects.filter(ticket=ticket).update(response=INDENTED_ANSWER, test_result=FAILED_FIRST,
                                                       prompt="## Files\n    indented prompt line",
                                                       edit_format="diff (auto)", feedback="1 failed:\n    why")
    page = admin_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()

    assert 'id="review-banner"' in page and f'href="/review/{ticket.pk}/"' in page
    diff = page[page.index('id="ticket-changes"'):page.index('id="ticket-tests"')]
    assert '<td class="code hl"><span class="n">VALUE</span>' in diff and "ln-add" in diff  # Pygments tokens
    assert "factory/diff.css" in page and ".diff .hl .kn" in page
    tests = page[page.index('id="ticket-tests"'):]
    assert '<td class="num">7</td>' in tests and "judged against <code>main</code>" in tests
    for category in ("fixed (failed on the base, pass now)", "already failing on main", "flaky (failed once"):
        assert category in tests, category
    assert "tests/test_a.py::test_parse_duration" in tests and "7 passed, 1 skipped in 2.50s" in tests
    # Attempts: answer, prompt, feedback and the attempt's own failures keep their indentation.
    assert "def greet(name):\n    if name:\n        return &#x27;Good day, &#x27; + name" in page
    assert "## Files\n    indented prompt line" in page and "1 failed:\n    why" in page
    assert "assert greet(&#x27;Ana&#x27;) == &#x27;Good day, Ana&#x27;\n    where" in page
    assert "diff (auto)" in page
    # Times to the second, and no Save button on a ticket nothing of which can be edited.
    event_times = re.findall(r'<td class="field-time">\s*<p>(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)</p>', page)
    assert len(event_times) == ticket.events.count()
    assert 'name="_save"' not in page and 'name="_continue"' not in page


def test_an_editable_ticket_keeps_its_save_buttons(admin_client, project):
    ticket, _ = services.create_ticket(actor=None, project=project, fields={"titulo": "Open", "descripcion": "d"})
    page = admin_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert 'name="_save"' in page and 'name="_continue"' in page
    assert "No diff yet" in page and "No test result yet." in page


def test_favicon_on_every_kind_of_page(admin_client, repo_project):
    icon = admin_client.get("/favicon.ico", follow=True)
    assert icon.status_code == 200 and icon["Content-Type"] == "image/x-icon"
    svg = admin_client.get("/static/factory/favicon.svg")
    assert svg.status_code == 200 and svg["Content-Type"].startswith("image/svg+xml")
    project, remote = repo_project
    ticket = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    for path in ("/admin/", f"/admin/tickets/ticket/{ticket.pk}/change/", "/admin/metrics/", f"/review/{ticket.pk}/",
                 "/review/", "/api/docs/"):
        page = admin_client.get(path).content.decode()
        assert "/static/factory/favicon.svg" in page, path


@pytest.mark.parametrize("query", ["?q=%00", "?estado=%00", "?project__id__exact=a%00b", "?o=%00", "?%00=1"])
def test_a_nul_byte_in_any_admin_list_filter_is_a_400_naming_the_parameter(admin_client, project, query):
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist") + query
        response = admin_client.get(url)
        assert response.status_code == 400, url
        assert b"contains a NUL byte" in response.content
