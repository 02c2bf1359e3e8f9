"""The metrics page and GET /api/factory/metrics: exact numbers from tickets driven through the services,
a page rendered from a real agent run, the charts, and (FACTORY_SCREENSHOTS=1) the committed screenshot."""
import os
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string
from rest_framework.test import APIClient

from agent.worker.runner import run_ticket
from lib import charts
from metrics import definitions
from metrics import selectors as metrics
from tests.fake_ollama import FakeOllama
from tests.metrics_demo import Answer, backdate, new_ticket, run
from tests.support import CALC, CALC_TESTS, RIGHT, ROOT, WRONG, client_for, make_remote_repo, make_user
from tickets import services
from tickets.states import State

NOW = datetime(2026, 3, 17, 12, 0, tzinfo=UTC)
SLOW = Answer(eval_seconds=8.0)  # m32 writes half as fast as m14


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@pytest.fixture
def factory(db, reviewer):
    """Six tickets in two projects and two models covering every path the metrics distinguish."""
    alpha = services.create_project(name="alpha", repo_url="/srv/alpha.git", test_command="pytest -q")
    beta = services.create_project(name="beta", repo_url="/srv/beta.git", test_command="pytest -q")
    # T1: passes on its first attempt, merged without changes.
    t1 = run(new_ticket(alpha, "t1"), model="m14", outcomes=["passed"], end="completed")
    services.transition(ticket=t1, to=State.MERGED, actor=reviewer)
    backdate(t1, start=at("2026-03-02"), minutes=4, wait_s=60)
    # T2: red then green; the reviewer asks for changes; the second run passes; merged.
    t2 = run(new_ticket(alpha, "t2"), model="m14", outcomes=["tests_failed", "passed"], end="completed")
    services.transition(ticket=t2, to=State.CHANGES_REQUESTED, actor=reviewer, message="Add a docstring.")
    t2 = run(t2, model="m14", outcomes=["passed"], end="completed")
    services.transition(ticket=t2, to=State.MERGED, actor=reviewer)
    backdate(t2, start=at("2026-03-09"), minutes=12, wait_s=120)
    # T3: edits do not apply, then a syntax error, then a test timeout: failed.
    t3 = run(new_ticket(beta, "t3"), model="m32", outcomes=["apply_failed", "syntax_failed", "timeout"],
             end="failed", answer=SLOW)
    backdate(t3, start=at("2026-03-10"), minutes=20, wait_s=300)
    # T4: the model server was down (attempt not counted, back to pending); next run passes at once.
    t4 = run(new_ticket(beta, "t4"), model="m32", outcomes=["model_down"], end="released")
    t4 = run(t4, model="m32", outcomes=["model_error", "passed"], end="completed", answer=SLOW)
    backdate(t4, start=at("2026-03-16"), minutes=2, wait_s=30)
    # T5: waiting in the queue. T6: its first attempt is running.
    t5 = new_ticket(alpha, "t5")
    backdate(t5, start=at("2026-03-17", 9), minutes=None, wait_s=0)
    t6 = run(new_ticket(beta, "t6"), model="m32", outcomes=["running"], end=None)
    backdate(t6, start=at("2026-03-17"), minutes=None, wait_s=600)
    return {"alpha": alpha, "beta": beta}


def by(rows: list[dict], key: str) -> dict[str, dict]:
    return {row[key]: row for row in rows}


# Exact numbers -------------------------------------------------------------------------------------------


def test_seed_metrics_and_targets(factory):
    data = metrics.factory_metrics(now=NOW)
    seed = data["seed"]
    assert data["tickets"] == 6
    first = seed["first_attempt_completion"]
    assert (first["numerator"], first["denominator"], first["value"], first["status"]) == (2, 4, 0.5, "missed")
    tests = seed["tests_first_attempt"]
    assert (tests["numerator"], tests["denominator"], tests["value"], tests["status"]) == (2, 3, 0.6667, "missed")
    time = seed["avg_ticket_seconds"]
    assert (time["count"], time["value"], time["status"], time["target"]) == (4, 570.0, "met", "< 10 min")


def test_time_split_tokens_and_speed(factory):
    data = metrics.factory_metrics(now=NOW)
    split = data["time_per_ticket"]
    assert split["tickets"] == 4
    assert split["total"] == {"avg": 570.0, "median": 480.0, "p90": 1056.0}
    assert split["model"]["avg"] == 45.0 and split["tests"]["avg"] == 10.0
    assert split["rest"] == {"avg": 515.0, "median": 440.0, "p90": 974.0}
    tokens = data["tokens"]
    assert tokens["per_ticket"] == {"count": 4, "avg": 1800.0, "median": 1200.0}
    # 8 answered attempts of 200 output tokens: four in 4 s (m14), four in 8 s (m32).
    assert tokens["eval_tokens_per_second"] == round(1600 / 48, 1)
    assert tokens["prompt_tokens_per_second"] == 500.0


def test_a_nonsense_speed_is_left_out_and_shown_as_a_dash(db, client, reviewer):
    """A model server that reports a 1 ns duration would claim 124,000,000,000 tokens/s."""
    project = services.create_project(name="gamma", repo_url="/srv/gamma.git", test_command="pytest -q")
    run(new_ticket(project, "glitch"), model="m7", outcomes=["passed"], end="completed",
        answer=Answer(eval_tokens=124, eval_seconds=1e-9, prompt_tokens=900, prompt_eval_seconds=1e-9))
    data = metrics.factory_metrics()
    assert data["tokens"]["eval_tokens_per_second"] is None and data["tokens"]["prompt_tokens_per_second"] is None
    assert by(data["by_model"], "model")["m7"]["eval_tokens_per_second"] is None
    run(new_ticket(project, "sane"), model="m7", outcomes=["passed"], end="completed")
    data = metrics.factory_metrics()  # the sane attempt alone: 200 tokens in 4 s, 1000 in 2 s
    assert (data["tokens"]["eval_tokens_per_second"], data["tokens"]["prompt_tokens_per_second"]) == (50.0, 500.0)
    assert metrics._tokens_per_second(124, 1e-9) is None
    assert f"{definitions.MAX_TOKENS_PER_SECOND:,}" in data["definitions"]["tokens"]
    client.force_login(reviewer)
    html = client.get("/admin/metrics/").content.decode()
    assert "124,000,000,000" not in html and "Model speed <b>50.0</b> tok/s" in html


def test_queue_failures_and_reviews(factory):
    data = metrics.factory_metrics(now=NOW)
    assert data["queue"] == {"length": 1, "pending": 1, "changes_requested": 0, "oldest_wait_seconds": 10800.0,
                             "wait_seconds": {"count": 5, "median": 120.0, "p90": 480.0}}
    failures = data["failures"]
    assert {reason["key"]: reason["count"] for reason in failures["reasons"]} == {
        "apply_failed": 1, "tests_failed": 1, "timeout": 1, "syntax_failed": 1, "infrastructure": 1}
    assert (failures["failed_attempts"], failures["attempts"]) == (5, 9)
    assert data["review"] == {"reviewed": 2, "merged_first_time": 1, "merged_first_time_rate": 0.5,
                              "merged_after_changes": 1, "changes_requested_tickets": 1,
                              "changes_requested_total": 1, "awaiting_review": 1}


def test_breakdowns_per_project_model_and_week(factory):
    data = metrics.factory_metrics(now=NOW)
    projects = by(data["by_project"], "project")
    assert list(projects) == ["alpha", "beta"]
    assert projects["alpha"]["tickets"] == 3
    assert projects["alpha"]["avg_ticket_seconds"]["value"] == 480.0
    assert projects["alpha"]["tests_first_attempt"]["value"] == 0.5
    assert projects["beta"]["avg_ticket_seconds"]["value"] == 660.0
    assert projects["beta"]["avg_ticket_seconds"]["status"] == "missed"
    assert projects["beta"]["tests_first_attempt"]["value"] == 1.0
    assert projects["beta"]["tests_first_attempt"]["status"] == "met"
    models = by(data["by_model"], "model")
    assert {name: row["tickets"] for name, row in models.items()} == {"m14": 2, "m32": 3}
    assert models["m14"]["eval_tokens_per_second"] == 50.0 and models["m32"]["eval_tokens_per_second"] == 25.0
    assert models["m32"]["first_attempt_completion"]["value"] == 0.5
    weeks = by(data["by_week"], "week")
    assert list(weeks) == ["2026-W10", "2026-W11", "2026-W12"]
    assert weeks["2026-W11"]["first_attempt_completion"]["value"] == 0.0
    assert weeks["2026-W11"]["avg_ticket_seconds"]["value"] == 960.0
    assert weeks["2026-W12"]["first_attempt_completion"]["status"] == "met"


def test_filters_select_by_project_and_creation_day(factory):
    assert metrics.factory_metrics(filters=definitions.parse_filters({"project": "beta"}))["tickets"] == 3
    assert metrics.factory_metrics(filters=definitions.parse_filters({"since": "2026-03-09"}))["tickets"] == 5
    only_t1 = metrics.factory_metrics(filters=definitions.parse_filters({"until": "2026-03-02"}))
    assert only_t1["tickets"] == 1 and only_t1["seed"]["first_attempt_completion"]["value"] == 1.0
    empty = metrics.factory_metrics(filters=definitions.parse_filters({"since": "2030-01-01"}))
    assert empty["tickets"] == 0 and empty["seed"]["tests_first_attempt"]["status"] == "no_data"


def test_api_returns_the_same_numbers_and_needs_a_login(factory):
    assert APIClient().get("/api/factory/metrics").status_code in (401, 403)
    api = client_for(make_user("watcher"))
    response = api.get("/api/factory/metrics/?project=alpha")
    assert response.status_code == 200
    body = response.json()
    expected = metrics.factory_metrics(filters=definitions.parse_filters({"project": "alpha"}))
    assert body["seed"] == expected["seed"] and body["by_week"] == expected["by_week"]
    assert body["filters"] == {"project": "alpha", "since": None, "until": None}


@pytest.mark.parametrize(("query", "field", "text"), [
    ("project=nope", "project", "No project named 'nope'"),
    ("since=2026-13-01", "since", "use YYYY-MM-DD"),
    ("until=9999-12-31", "until", "out of range"),
    ("since=2026-03-10&until=2026-03-01", "until", "is before since"),
    ("project=%00", "project", "a project name contains no NUL byte"),
])
def test_bad_filters_are_400_naming_the_parameter(factory, query, field, text):
    response = client_for(make_user("watcher")).get(f"/api/factory/metrics?{query}")
    assert response.status_code == 400
    assert text in response.json()[field][0]


def test_page_renders_a_real_agent_run(transactional_db, tmp_path, settings, client):
    """Three tickets through the real agent (git, worktrees, pytest) against a scripted Ollama server."""
    settings.FACTORY_DATA_DIR = tmp_path / "data"
    remote = make_remote_repo(tmp_path, {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS,
                                         "tests/__init__.py": "", "conftest.py": ""})
    project = services.create_project(name="calc", repo_url=str(remote), test_command="python -m pytest -q")
    fields = {"titulo": "Add multiply", "descripcion": "multiply(a, b) returns the product.",
              "archivos_modificar": ["calc.py", "tests/test_multiply.py"]}
    with FakeOllama() as fake:
        settings.OLLAMA_HOST = fake.url
        fake.push(RIGHT, WRONG, RIGHT, WRONG, WRONG.replace("return a + b\n```\n\ntests", "return a - b\n```\n\ntests"),
                  "No changes needed.")
        states = [run_ticket(str(services.create_ticket(actor=None, project=project, fields=fields)[0].pk)).estado
                  for _ in range(3)]
    assert states == ["completed", "completed", "failed"]
    data = metrics.factory_metrics()
    seed = data["seed"]
    assert (seed["first_attempt_completion"]["numerator"], seed["first_attempt_completion"]["denominator"]) == (1, 3)
    assert (seed["tests_first_attempt"]["numerator"], seed["tests_first_attempt"]["denominator"]) == (1, 3)
    assert seed["avg_ticket_seconds"]["count"] == 3 and seed["avg_ticket_seconds"]["value"] > 0
    assert data["time_per_ticket"]["tests"]["avg"] > 0
    reasons = {reason["key"]: reason["count"] for reason in data["failures"]["reasons"]}
    assert (reasons["tests_failed"], reasons["apply_failed"]) == (3, 1)
    assert data["failures"]["attempts"] == 6
    # The scripted server reports 1 ms per output token and 0.1 ms per prompt token.
    assert (data["tokens"]["eval_tokens_per_second"], data["tokens"]["prompt_tokens_per_second"]) == (1000.0, 10000.0)
    assert [row["model"] for row in data["by_model"]] == [settings.FACTORY_MODEL]
    client.force_login(make_user("lead", staff=True))
    html = client.get("/admin/metrics/").content.decode()
    assert "33.3 %" in html and "1 of 3 tickets" in html and settings.FACTORY_MODEL in html


# The admin page ----------------------------------------------------------------------------------------------


def test_admin_page_renders_the_numbers_charts_and_tables(factory, client, reviewer):
    client.force_login(reviewer)
    response = client.get("/admin/metrics/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in ('data-metric="first_attempt_completion" data-status="missed"', "50.0 %", "2 of 4 tickets",
                 'data-metric="avg_ticket_seconds" data-status="met"', "9.5 min", "over 4 finished tickets",
                 'data-metric="tests_first_attempt" data-status="missed"', "66.7 %", "target &gt; 70 %",
                 "Seed rates per project", "2026-W11", "m32", "Edit apply failures", "How these are computed",
                 "Merged first time"):
        assert text in html, text
    assert html.count('<svg class="chart"') == 8
    assert html.index('<svg class="chart"') < html.index("<table")
    filtered = client.get("/admin/metrics/?project=beta").content.decode()
    assert '<option value="beta" selected>' in filtered and "3 tickets" in filtered


def test_admin_page_explains_bad_filters_and_needs_staff(factory, client, reviewer):
    assert client.get("/admin/metrics/").status_code == 302
    client.force_login(make_user("outsider"))
    assert client.get("/admin/metrics/").status_code == 302
    client.force_login(reviewer)
    response = client.get("/admin/metrics/?since=yesterday")
    assert response.status_code == 400
    assert "&#x27;yesterday&#x27; is not a date; use YYYY-MM-DD." in response.content.decode()
    nul = client.get("/admin/metrics/?project=%00")  # PostgreSQL cannot take it: a clear 400, not a 500
    assert nul.status_code == 400 and "'project' contains a NUL byte" in nul.content.decode()


def test_empty_factory_shows_no_data(db, client, reviewer):
    client.force_login(reviewer)
    html = client.get("/admin/metrics/").content.decode()
    assert html.count('data-status="no_data"') == 3 and "No data yet" in html


def test_index_link_snippet_points_at_the_page(db):
    assert 'href="/admin/metrics/"' in render_to_string("metrics/admin_link.html")


# Charts --------------------------------------------------------------------------------------------------


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_charts_are_well_formed_svg_and_escape_labels():
    series = [charts.Series("a<b", [10, None, 80], "#123456")]
    line = charts.line_chart(title="t", labels=["w1", "w2", "<script>"], series=series,
                             targets=[charts.TargetLine(60, "target")])
    assert parse(line).tag.endswith("svg") and "<script>" not in line and "&lt;script&gt;" in line
    columns = charts.stacked_columns(title="t", labels=["w1", "w2", "w3"], series=series,
                                     target=charts.TargetLine(10, "10 min"))
    assert len(parse(columns).findall(".//{http://www.w3.org/2000/svg}rect")) == 2 + 1  # two bars + legend
    rows = charts.bar_rows(title="t", labels=["x", "y", "z"], series=series, targets=[60])
    assert "no data" in rows and parse(rows) is not None
    assert "No data yet" in charts.bar_rows(title="t", labels=[], series=[])


def test_nice_max_rounds_up_to_a_readable_axis():
    assert [charts.nice_max(value) for value in (0, 0.4, 7, 10.5, 13, 37, 100, 101, 2600)] == [
        1, 0.4, 8, 12, 16, 40, 100, 120, 3200]


# The committed screenshot ----------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.skipif(os.environ.get("FACTORY_SCREENSHOTS") != "1", reason="set FACTORY_SCREENSHOTS=1 to refresh "
                                                                        "docs/metrics-page.png")
@pytest.mark.django_db(transaction=True)
def test_screenshot_of_the_metrics_page(live_server):
    from playwright.sync_api import sync_playwright

    from tests.metrics_demo import build_demo_factory

    build_demo_factory()
    get_user_model().objects.create_superuser("admin", "admin@example.com", "pw-admin")
    target = ROOT / "docs" / "metrics-page.png"
    target.parent.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-background-networking", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
        page.goto(f"{live_server.url}/admin/login/?next=/admin/metrics/")
        page.evaluate("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "pw-admin")
        page.click("input[type=submit]")
        page.wait_for_selector("#factory-metrics svg")
        page.screenshot(path=str(target), full_page=True)
        browser.close()
    assert target.stat().st_size > 20_000
