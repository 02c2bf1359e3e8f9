"""The review page and the admin's ticket page in headless Chromium: log in, read the highlighted diff, the tests
and the answers, approve."""
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connection

from agent import services as agent_services
from lib.changerecord import ChangeRecord
from tests.support import completed_ticket, is_ancestor
from tickets import services
from tickets.models import Ticket, TicketAttempt
from tickets.roles import REVIEWER, grant_role

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOT = Path(django_settings.BASE_DIR) / "docs" / "review-page.png"
ADMIN_SCREENSHOT = Path(django_settings.BASE_DIR) / "docs" / "admin-ticket.png"

POLITE_APP = '''def greet(name: str, title: str = "") -> str:
    """Greet someone politely, with their title when known."""
    who = f"{title} {name}".strip()
    return f"Good day, {who}."


VALUE = 1
'''
APP_TESTS = '''from app import greet


def test_greet_uses_the_title():
    assert greet("Ana", title="Dr.") == "Good day, Dr. Ana."


def test_greet_without_a_title():
    assert greet("Ana") == "Good day, Ana."
'''
FAILED_RUN = {
    "command": "python -m pytest -q", "exit_code": 1, "passed": 1, "failed": 1, "errors": 0, "skipped": 0,
    "total": 2, "duration_s": 0.8, "timed_out": False, "success": False, "framework": "pytest",
    "failures": [{"name": "tests/test_app.py::test_greet_without_a_title",
                  "message": "AssertionError: assert 'Good day,  Ana.' == 'Good day, Ana.'"}],
    "output_tail": "F.\nFAILED tests/test_app.py::test_greet_without_a_title\n1 failed, 1 passed in 0.80s",
}
PASSED_RUN = {**FAILED_RUN, "exit_code": 0, "passed": 2, "failed": 0, "success": True, "failures": [],
              "duration_s": 0.7, "output_tail": "..\n2 passed in 0.70s"}


def chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("FACTORY_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{CHROMIUM} is missing and FACTORY_REQUIRE_BROWSER=1 (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")


def in_another_thread(work: Callable[[], None]) -> None:
    """Run ORM work outside the thread where Playwright's event loop runs, as the agent would."""
    def run() -> None:
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)


def log_in(page, base_url: str, next_path: str, username: str = "rita", password: str = "rita-secret-pw") -> None:
    page.goto(f"{base_url}/admin/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{next_path}")


def make_reviewer() -> None:
    user = get_user_model().objects.create_user("rita", password="rita-secret-pw", is_staff=True)
    grant_role(user, REVIEWER)


def reviewable_ticket(project, remote: Path) -> Ticket:
    ticket = completed_ticket(project, remote, {"app.py": POLITE_APP, "tests/test_app.py": APP_TESTS},
                              tests=PASSED_RUN, titulo="Polite greeting with the person's title")
    new_tests = ["tests/test_app.py::test_greet_uses_the_title", "tests/test_app.py::test_greet_without_a_title"]
    verdict = {"green": True, "basis": "baseline", "reason": "no test broke", "base_branch": "main",
               "base_commit": ticket.codigo_generado["base"], "new": new_tests, "fixed": [], "broken": [],
               "still_failing": [], "new_failing": [], "flaky": [], "removed": [], "ticket_tests": new_tests}
    Ticket.objects.filter(pk=ticket.pk).update(
        intentos=2, descripcion="greet() should say 'Good day' and use the person's title when it is given.",
        tests_resultado={**PASSED_RUN, "verdict": verdict})
    TicketAttempt.objects.filter(ticket=ticket, number=1).update(
        outcome=TicketAttempt.Outcome.TESTS_FAILED, test_result=FAILED_RUN, test_seconds=0.8,
        feedback="1 test failed: tests/test_app.py::test_greet_without_a_title (extra space without a title).")
    TicketAttempt.objects.create(ticket=ticket, number=2, outcome=TicketAttempt.Outcome.PASSED, phase="finished",
                                 response="app.py\n```python\n" + POLITE_APP + "```\n", prompt="...",
                                 model_name="qwen2.5-coder:14b", edit_format="whole (auto)",
                                 edit_results={"applied": ["app.py"], "failed": []}, test_result=PASSED_RUN,
                                 prompt_tokens=1480, eval_tokens=212, model_seconds=9.4, test_seconds=0.7)
    return ticket


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_reviewer_approves_in_the_browser(live_server, repo_project):
    chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    project, remote = repo_project
    ticket = reviewable_ticket(project, remote)
    make_reviewer()
    review_path = f"/review/{ticket.pk}/"

    # No ORM calls inside this block: Playwright's sync API runs an event loop in this thread.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            refused = []  # what the page's Content-Security-Policy blocked: nothing, or the page is broken
            page.on("console", lambda message: refused.append(message.text)
                    if "Content Security Policy" in message.text else None)
            log_in(page, live_server.url, review_path)

            expect(page.locator(".diff-unified td.hl span.kn").first).to_be_visible()  # highlighted `from`
            expect(page.locator("#test-summary")).to_contain_text("2 passed")
            expect(page.locator("#test-summary")).to_contain_text("0 failed")
            color = page.locator(".diff-unified td.hl span.kn").first.evaluate("e => getComputedStyle(e).color")
            assert color != "rgb(31, 35, 40)", "Pygments CSS did not apply"

            page.click("button[data-view=split]")
            expect(page.locator(".diff-split").first).to_be_visible()
            expect(page.locator(".diff-unified").first).to_be_hidden()
            page.click("button[data-view=unified]")
            expect(page.locator(".diff-unified").first).to_be_visible()

            if os.environ.get("FACTORY_SCREENSHOTS") == "1":
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                page.set_viewport_size({"width": 1440, "height": 1480})
                page.screenshot(path=str(SCREENSHOT))

            questions: list[str] = []  # one confirmation, as GitHub's merge button asks
            page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
            page.click("#approve-button")
            expect(page.locator("#merged-note")).to_be_visible()
            expect(page.locator(".messages")).to_contain_text("was merged into main")
            expect(page.locator("#ticket-state")).to_have_text("Merged")
            assert not refused, refused
        finally:
            browser.close()

    ticket.refresh_from_db()
    assert questions == [f"Merge {ticket.branch_name} into main and push it?"]
    assert ticket.estado == "merged"
    assert is_ancestor(remote, ticket.codigo_generado["head"])


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_dismissing_the_confirmation_merges_nothing(live_server, repo_project):
    chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    project, remote = repo_project
    ticket = reviewable_ticket(project, remote)
    make_reviewer()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            log_in(page, live_server.url, f"/review/{ticket.pk}/")
            page.once("dialog", lambda dialog: dialog.dismiss())
            page.click("#approve-button")
            expect(page.locator("#approve-button")).to_be_enabled()
            expect(page.locator("#approve-button")).to_have_text("Approve and merge")
        finally:
            browser.close()
    assert Ticket.objects.get(pk=ticket.pk).estado == "completed"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_ticket_page_shows_the_highlighted_diff_and_the_answer_as_written(live_server, repo_project):
    chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    project, remote = repo_project
    ticket = reviewable_ticket(project, remote)
    get_user_model().objects.create_superuser("boss", "boss@example.com", "boss-secret-pw")
    change_path = f"/admin/tickets/ticket/{ticket.pk}/change/"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(f"{live_server.url}/admin/login/")
            page.evaluate("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
            log_in(page, live_server.url, change_path, "boss", "boss-secret-pw")

            expect(page.locator("#review-banner a")).to_have_attribute("href", f"/review/{ticket.pk}/")
            keyword = page.locator("#ticket-changes .diff-unified td.hl span.kn").first  # highlighted `from`
            expect(keyword).to_be_visible()
            assert keyword.evaluate("e => getComputedStyle(e).color") != "rgb(31, 35, 40)", "no Pygments CSS"
            expect(page.locator("#ticket-tests table.factory-counts")).to_contain_text("passed")
            answer = page.locator(".field-answer pre.factory-answer").last
            expect(answer).to_be_visible()
            assert '\n    who = f"{title} {name}".strip()\n' in answer.inner_text()  # indentation as written
            assert answer.evaluate("e => getComputedStyle(e).whiteSpace") == "pre-wrap"
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", page.locator("td.field-time").first.inner_text())
            expect(page.locator("input[name=_save]")).to_have_count(0)

            if os.environ.get("FACTORY_SCREENSHOTS") == "1":  # down to the test table: the attempts follow
                bottom = page.locator("#ticket-tests").evaluate("e => e.getBoundingClientRect().bottom + scrollY")
                page.screenshot(path=str(ADMIN_SCREENSHOT), full_page=True,
                                clip={"x": 0, "y": 0, "width": 1440, "height": bottom + 16})
        finally:
            browser.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_live_progress_updates_and_reloads_when_the_agent_finishes(live_server, repo_project):
    chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    project, _ = repo_project
    ticket, _ = services.create_ticket(actor=None, project=project, fields={"titulo": "Live", "descripcion": "d"})
    services.transition(ticket=ticket, to="in_progress", actor="agent")
    attempt = TicketAttempt.objects.create(ticket=ticket, number=1, phase="waiting for the model")
    make_reviewer()
    review_path = f"/review/{ticket.pk}/"

    def finish() -> None:
        agent_services.finish_attempt(attempt=attempt, fields={"outcome": TicketAttempt.Outcome.PASSED})
        agent_services.complete_ticket(ticket=ticket, tests=PASSED_RUN, code=ChangeRecord(
            diff="diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n",
            files=({"path": "x.py", "added": 1, "removed": 1, "binary": False},)))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            log_in(page, live_server.url, review_path)
            expect(page.locator("[data-field=attempt]")).to_contain_text("Attempt 1 of")
            expect(page.locator("[data-field=phase]")).to_have_text("waiting for the model")
            expect(page.locator("[data-field=elapsed]")).to_contain_text("elapsed")

            in_another_thread(lambda: agent_services.set_phase(attempt=attempt, phase="running the tests"))
            expect(page.locator("[data-field=phase]")).to_have_text("running the tests", timeout=8000)

            in_another_thread(finish)
            expect(page.locator("#ticket-state")).to_have_text("Completed (awaiting review)", timeout=8000)
            expect(page.locator("#approve-button")).to_be_visible()
            expect(page.locator("#live-progress")).to_have_count(0)
        finally:
            browser.close()
