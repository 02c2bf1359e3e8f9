"""`manage.py factory_bench` on the real pyinventory suite: real remotes, worktrees, agent runs, test runs,
hidden tests, merges; the scripted model, and a real HTTP server speaking Ollama's API."""
import json
import os
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_q.models import OrmQ

from factory_bench.harness import SUITES_DIR
from factory_bench.suite import BenchmarkError, load_suite
from tests.fake_ollama import FakeOllama, unreachable_url
from tests.support import ROOT, database_url
from tickets.models import Project, Ticket, TicketEvent

SUITE = SUITES_DIR / "pyinventory"


def bench(tmp_path: Path, *args: str) -> tuple[str, dict]:
    out = StringIO()
    report = tmp_path / "report.json"
    call_command("factory_bench", "--suite", "pyinventory", "--output", str(report),
                 "--data-dir", str(tmp_path / "data"), *args, stdout=out)
    return out.getvalue(), json.loads(report.read_text())


def row(output: str, key: str) -> list[str]:
    return next(line.split() for line in output.splitlines() if line.startswith(f"{key} "))


def run_hidden_tests(checkout: Path, keys: list[str]) -> subprocess.CompletedProcess:
    target = checkout / "hidden_tests"
    target.mkdir()
    for key in keys:
        for source in load_suite("pyinventory").hidden_files(key):
            shutil.copy2(source, target / source.name)
    env = {"PATH": os.environ["PATH"], "HOME": str(checkout), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:django",
                           "tests", "hidden_tests"], cwd=checkout, env=env, capture_output=True, text=True)


@pytest.mark.django_db(transaction=True)
def test_scripted_run_judges_by_hidden_tests_and_builds_on_reference_solutions(tmp_path):
    # T10 depends on T03, the suite's known-wrong ticket: --tickets T01,T10 must pull T03 in.
    output, report = bench(tmp_path, "--model", "scripted", "--tickets", "T01,T10")

    assert row(output, "T01") == ["T01", "bugfix", "completed", "1", "yes", "pass", "yes", *row(output, "T01")[7:]]
    assert row(output, "T03")[:7] == ["T03", "feature", "completed", "1", "yes", "FAIL", "no"]
    assert row(output, "T10")[:7] == ["T10", "feature", "completed", "1", "yes", "pass", "yes"]
    assert "T03: not accepted, the agent's tests passed but the hidden tests failed" in output
    assert "Not in this run: T02, T04, T05, T06, T07, T08, T09;" in output
    assert "Completed on the first attempt    100.0 % (3/3)" in output
    assert "Tests pass on the first attempt   100.0 % (3/3)" in output
    assert "Accepted by the hidden tests      66.7 % (2/3)" in output

    assert report["suite"] == "pyinventory" and report["model"] == "scripted" and report["aborted"] == ""
    assert report["tickets"] == ["T01", "T03", "T10"]
    assert report["settings"]["num_ctx"] > 0 and report["settings"]["edit_format"] == "auto"
    results = {result["key"]: result for result in report["repeats"][0]["tickets"]}
    wrong = results["T03"]
    assert (wrong["agent_state"], wrong["final_state"], wrong["accepted"]) == ("completed", "cancelled", False)
    assert wrong["tests_passed_first_attempt"] and wrong["hidden"]["passed"] is False
    assert wrong["hidden"]["tests_failed"] > 0 and wrong["reference_commit"]
    for key in ("T01", "T10"):
        assert (results[key]["final_state"], results[key]["accepted"], results[key]["hidden"]["passed"]) == (
            "merged", True, True)
        assert results[key]["merge_commit"] and results[key]["prompt_tokens"] > 0
    metrics = report["aggregate"]["metrics"]
    assert metrics["first_attempt_completion"]["value"] == 1.0
    assert metrics["tests_first_attempt"]["value"] == 1.0
    assert metrics["avg_ticket_seconds"]["status"] == "met" and metrics["avg_ticket_seconds"]["value"] < 600
    assert metrics["accepted_by_hidden_tests"] == {"label": "Accepted by the hidden tests", "count": 2, "of": 3,
                                                   "value": 0.6667}
    assert metrics["not_accepted"] == ["T03"] and metrics["failure_reasons"] == {"hidden_tests_failed": 1}

    # The factory's own records: visible in the admin and on the metrics page like any project's.
    project = Project.objects.get(name=report["repeats"][0]["project"])
    assert project.name.startswith("bench-pyinventory-")
    states = {ticket.titulo[:40]: ticket.estado for ticket in project.tickets.all()}
    assert sorted(states.values()) == ["cancelled", "merged", "merged"]
    t10 = Ticket.objects.get(pk=results["T10"]["ticket_id"])
    assert not t10.depende_de.exists()  # T03 was replaced by its reference solution, so T10 does not wait
    assert t10.events.filter(kind=TicketEvent.Kind.COMMENT, message__contains="T03 was not accepted").exists()
    assert not OrmQ.objects.filter(key="agent").exists()  # no agent run was queued for a worker to take

    # Main ends up correct: every hidden test of the three tickets passes on it, with the project's own tests.
    checkout = tmp_path / "final"
    subprocess.run(["git", "clone", "-q", report["repeats"][0]["remote"], str(checkout)], check=True)
    log = subprocess.run(["git", "log", "--format=%s"], cwd=checkout, capture_output=True, text=True).stdout
    assert "reference solution for T03" in log and "reference solution for T09 (not in this run)" in log
    final = run_hidden_tests(checkout, ["T01", "T03", "T10"])
    assert final.returncode == 0, final.stdout[-3000:]


@pytest.mark.django_db(transaction=True)
def test_repeats_use_fresh_remotes_and_are_aggregated(tmp_path):
    output, report = bench(tmp_path, "--model", "scripted", "--tickets", "T01", "--repeat", "2")

    assert [repeat["index"] for repeat in report["repeats"]] == [1, 2]
    assert report["repeats"][0]["remote"] != report["repeats"][1]["remote"]
    assert Project.objects.filter(name__startswith="bench-pyinventory-").count() == 2
    assert report["aggregate"]["metrics"]["tickets"] == 2
    assert report["aggregate"]["per_ticket"]["T01"]["runs"] == 2
    assert report["aggregate"]["per_ticket"]["T01"]["accepted"] == 2
    assert "Metrics over all 2 runs together (scripted, suite pyinventory):" in output


@pytest.mark.django_db(transaction=True)
def test_ollama_model_runs_a_ticket_over_http(tmp_path, settings):
    answer = (SUITE / "solutions" / "T01.md").read_text()
    with FakeOllama(answers=lambda body: answer) as fake:
        settings.OLLAMA_HOST = url = fake.url
        output, report = bench(tmp_path, "--model", "qwen2.5-coder:14b", "--tickets", "T01")

    assert row(output, "T01")[:7] == ["T01", "bugfix", "completed", "1", "yes", "pass", "yes"]
    assert report["model"] == "qwen2.5-coder:14b"
    assert report["model_source"] == {"kind": "ollama", "host": url}
    result = report["repeats"][0]["tickets"][0]
    assert result["accepted"] and result["eval_tokens"] > 0 and result["eval_tokens_per_second"] > 0
    assert report["aggregate"]["metrics"]["eval_tokens_per_second"] == result["eval_tokens_per_second"]
    assert [request["model"] for request in fake.requests] == ["qwen2.5-coder:14b"]
    assert fake.requests[0]["options"]["num_ctx"] == settings.FACTORY_NUM_CTX
    assert "bulk_discount" in fake.requests[0]["messages"][1]["content"]


@pytest.mark.django_db(transaction=True)
def test_worker_mode_hands_tickets_to_a_running_agent_worker(tmp_path, settings):
    answer = (SUITE / "solutions" / "T01.md").read_text()
    settings.FACTORY_DATA_DIR = tmp_path / "data"
    report_path = tmp_path / "report.json"
    with FakeOllama(answers=lambda body: answer) as fake:
        settings.OLLAMA_HOST = fake.url
        env = {**os.environ, "Q_CLUSTER_NAME": "agent", "OLLAMA_HOST": fake.url, "FACTORY_MODEL": "qwen2.5-coder:14b",
               "FACTORY_DATA_DIR": str(settings.FACTORY_DATA_DIR), "DJANGO_SECRET_KEY": settings.SECRET_KEY,
               "DATABASE_URL": database_url(settings.DATABASES["default"])}
        worker = subprocess.Popen([sys.executable, "manage.py", "qcluster"], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            out = StringIO()
            call_command("factory_bench", "--suite", "pyinventory", "--model", "qwen2.5-coder:14b", "--tickets", "T01",
                         "--worker", "--output", str(report_path), stdout=out)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    assert row(out.getvalue(), "T01")[:7] == ["T01", "bugfix", "completed", "1", "yes", "pass", "yes"]
    assert json.loads(report_path.read_text())["repeats"][0]["tickets"][0]["accepted"]
    assert len(fake.requests) == 1  # the worker asked the model, not this process


def test_worker_mode_refuses_the_scripted_model(tmp_path):
    with pytest.raises(CommandError, match="--worker"):
        call_command("factory_bench", "--suite", "pyinventory", "--model", "scripted", "--worker")


@pytest.mark.django_db(transaction=True)
def test_failed_ticket_is_replaced_by_its_reference_solution_for_its_dependents(tmp_path, settings):
    solution = (SUITE / "solutions" / "T10.md").read_text()

    def answer(body: dict) -> str:
        prompt = body["messages"][1]["content"]
        return "Sorry, I cannot do that." if "Añadir money.parse_amount" in prompt else solution

    with FakeOllama(answers=answer) as fake:
        settings.OLLAMA_HOST = fake.url
        output, report = bench(tmp_path, "--model", "qwen2.5-coder:14b", "--tickets", "T10")

    assert row(output, "T03")[:7] == ["T03", "feature", "failed", "3", "no", "-", "no"]
    assert row(output, "T10")[:7] == ["T10", "feature", "completed", "1", "yes", "pass", "yes"]
    assert "T03: not accepted, the agent failed (Failed after 3 attempts" in output
    assert "Completed on the first attempt    50.0 % (1/2)        target > 60 %   MISSED" in output
    results = {result["key"]: result for result in report["repeats"][0]["tickets"]}
    assert results["T03"]["attempt_outcomes"] == ["apply_failed"] * 3 and results["T03"]["hidden"] is None
    assert results["T03"]["final_state"] == "cancelled" and results["T10"]["final_state"] == "merged"
    metrics = report["aggregate"]["metrics"]
    assert metrics["failure_reasons"] == {"apply_failed": 3}
    assert metrics["first_attempt_completion"]["status"] == "missed"
    assert metrics["tests_first_attempt"] | {"label": ""} == {"label": "", "value": 1.0, "count": 1, "of": 1,
                                                              "target": "> 70 %", "status": "met"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("models", "message"), [
    (None, "Ollama is unreachable at "),
    (["nomic-embed-text"], "Model 'qwen2.5-coder:32b' is not available on "),
])
def test_unusable_model_fails_before_creating_anything(tmp_path, settings, models, message):
    with FakeOllama(models=models or ["nomic-embed-text"]) as fake:
        settings.OLLAMA_HOST = fake.url if models else unreachable_url()
        with pytest.raises(CommandError, match=message):
            bench(tmp_path, "--model", "qwen2.5-coder:32b")

    assert not Project.objects.exists() and not Ticket.objects.exists()
    assert not (tmp_path / "report.json").exists() and not (tmp_path / "data").exists()


@pytest.mark.django_db(transaction=True)
def test_model_lost_mid_run_stops_with_a_partial_report(tmp_path, settings):
    solutions = {key: (SUITE / "solutions" / f"{key}.md").read_text() for key in ("T01", "T02")}

    def answer(body: dict) -> str:
        if "percentage_discount(999, 15)" in body["messages"][1]["content"]:  # T02: the server goes away
            fake.stop()
        return solutions["T01"]

    with FakeOllama(answers=answer) as fake:
        settings.OLLAMA_HOST = fake.url
        with pytest.raises(CommandError, match=r"The benchmark stopped: T02: the model stopped answering.*"
                                               r"partial report in"):
            bench(tmp_path, "--model", "qwen2.5-coder:14b", "--tickets", "T01,T02")

    report = json.loads((tmp_path / "report.json").read_text())
    assert "T02: the model stopped answering" in report["aborted"]
    assert [result["key"] for result in report["repeats"][0]["tickets"]] == ["T01"]
    assert report["aggregate"]["metrics"]["tickets"] == 1
    states = dict(Ticket.objects.values_list("titulo", "estado"))
    assert sorted(states.values()) == ["cancelled", "merged"]  # nothing left for a worker to pick up later


def test_bad_arguments_are_explained(tmp_path):
    with pytest.raises(CommandError, match="No suite 'nope' .*available: nexo, pyinventory"):
        call_command("factory_bench", "--suite", "nope", "--model", "scripted")
    with pytest.raises(CommandError, match="Unknown ticket.* T99 in suite pyinventory; its tickets are T01, T02"):
        call_command("factory_bench", "--suite", "pyinventory", "--model", "scripted", "--tickets", "T01,T99")
    with pytest.raises(CommandError, match="--repeat must be 1 or more"):
        call_command("factory_bench", "--suite", "pyinventory", "--model", "scripted", "--repeat", "0")


def test_shared_hidden_files_go_with_every_tickets_own():
    nexo, pyinventory = load_suite("nexo"), load_suite("pyinventory")
    assert [path.name for path in nexo.hidden_files("T05")] == ["mutantes_runner.js", "t05_rls_tests_mutantes.test.js"]
    assert [path.name for path in nexo.hidden_files("T07")] == [
        "mutantes_runner.js", "t07_mutantes.js", "t07_ventas_tests_mutantes.test.js"]
    assert [path.name for path in pyinventory.hidden_files("T01")] == ["mutants_judge.py", "test_t01_bulk_threshold.py"]
    assert {path.parent.name for path in pyinventory.hidden_files("T15")} == {"_shared", "T15"}


def test_a_ticket_file_named_like_a_shared_one_is_refused(tmp_path):
    shutil.copytree(SUITE, tmp_path / "pyinventory", ignore=shutil.ignore_patterns("repo"))
    (tmp_path / "pyinventory" / "repo").mkdir()
    (tmp_path / "pyinventory" / "hidden" / "T02" / "mutants_judge.py").write_text("# a copy\n")
    with pytest.raises(BenchmarkError, match=r"hidden/T02/mutants_judge.py has the name of a file in hidden/_shared/"):
        load_suite("pyinventory", root=tmp_path)
