"""The review page in headless Chromium: log in, read the highlighted diff and the tests, approve."""
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connection

from agent import services as agent_services
from tests.test_review import APP, completed_ticket, is_ancestor, repo_project  # noqa: F401 (fixture)
from tickets import services
from tickets.models import Ticket, TicketAttempt
from tickets.roles import REVIEWER, grant_role

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOT = Path(django_settings.BASE_DIR) / "docs" / "review-page.png"

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


def log_in(page, base_url: str, next_path: str) -> None:
    page.goto(f"{base_url}/admin/login/?next={next_path}")
    page.fill("#id_username", "rita")
    page.fill("#id_password", "rita-secret-pw")
    page.click("input[type=submit]")
    page.wait_for_url(f"**{next_path}")


def make_reviewer() -> None:
    user = get_user_model().objects.create_user("rita", password="rita-secret-pw", is_staff=True)
    grant_role(user, REVIEWER)


def reviewable_ticket(project, remote: Path) -> Ticket:
    ticket = completed_ticket(project, remote, {"app.py": POLITE_APP, "tests/test_app.py": APP_TESTS},
                              tests=PASSED_RUN, titulo="Polite greeting with the person's title")
    Ticket.objects.filter(pk=ticket.pk).update(
        intentos=2, descripcion="greet() should say 'Good day' and use the person's title when it is given.")
    TicketAttempt.objects.filter(ticket=ticket, number=1).update(
        outcome=TicketAttempt.Outcome.TESTS_FAILED, test_result=FAILED_RUN, test_seconds=0.8,
        feedback="1 test failed: tests/test_app.py::test_greet_without_a_title (extra space without a title).")
    TicketAttempt.objects.create(ticket=ticket, number=2, outcome=TicketAttempt.Outcome.PASSED, phase="finished",
                                 response="app.py\n```python\n" + POLITE_APP + "```\n", prompt="...",
                                 edit_results={"applied": ["app.py"], "failed": []}, test_result=PASSED_RUN,
                                 prompt_tokens=1480, eval_tokens=212, model_seconds=9.4, test_seconds=0.7)
    return ticket


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_reviewer_approves_in_the_browser(live_server, repo_project):  # noqa: F811 (fixture)
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

            page.click("#approve-button")
            expect(page.locator("#merged-note")).to_be_visible()
            expect(page.locator(".messages")).to_contain_text("was merged into main")
            expect(page.locator("#ticket-state")).to_have_text("Merged")
            assert not refused, refused
        finally:
            browser.close()

    ticket.refresh_from_db()
    assert ticket.estado == "merged"
    assert is_ancestor(remote, ticket.codigo_generado["head"])


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_live_progress_updates_and_reloads_when_the_agent_finishes(live_server, repo_project):  # noqa: F811
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
        agent_services.complete_ticket(ticket=ticket, tests=PASSED_RUN, code={
            "diff": "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n",
            "files": [{"path": "x.py", "added": 1, "removed": 1, "binary": False}], "base": "", "head": ""})

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
