"""`manage.py factory_bench replay --model gold` on a small real git history: commit selection, one ticket per
commit on a remote seeded at its parent, the real sandbox and pytest, the accepted count and why a miss missed."""
import json
import os
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.fake_ollama import FakeOllama, unreachable_url
from tickets import services
from tickets.models import Project, Ticket

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@localhost",
           "GIT_COMMITTER_NAME": "dev", "GIT_COMMITTER_EMAIL": "dev@localhost"}

CALC = '''"""A small calculator."""


def add(a, b):
    return a + b


def legacy(a):
    return a


def describe():
    return "calc"
'''


def commit(repo: Path, message: str, files: dict[str, str | None]) -> str:
    for path, content in files.items():
        target = repo / path
        if content is None:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=GIT_ENV)
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=repo, check=True, env=GIT_ENV)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, env=GIT_ENV, capture_output=True,
                          text=True).stdout.strip()


def history(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Six commits: the first, two good ones, a docs-only one, one whose tests pass on its parent, tests-only."""
    repo = tmp_path / "calc"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=GIT_ENV)
    shas = {"first": commit(repo, "Start calc", {
        "calc.py": CALC, "README.md": "# calc\n",
        "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
        "tests/test_legacy.py": "from calc import legacy\n\n\ndef test_legacy():\n    assert legacy(4) == 4\n"})}
    shas["subtract"] = commit(repo, "Add subtract(a, b)\n\nTakes b from a.", {
        "calc.py": CALC.replace("def legacy", "def subtract(a, b):\n    return a - b\n\n\ndef legacy"),
        "tests/test_subtract.py": "from calc import subtract\n\n\ndef test_subtract():\n    assert subtract(5, 3) == 2\n"})
    shas["docs"] = commit(repo, "Document subtract", {"README.md": "# calc\n\nadd and subtract\n"})
    with_subtract = (repo / "calc.py").read_text()
    shas["multiply"] = commit(repo, "Replace legacy() by multiply(a, b)", {
        "calc.py": with_subtract.replace("def legacy(a):\n    return a", "def multiply(a, b):\n    return a * b"),
        "tests/test_legacy.py": None,
        "tests/test_multiply.py": "from calc import multiply\n\n\ndef test_multiply():\n    assert multiply(2, 3) == 6\n"})
    shas["idle"] = commit(repo, "Describe calc better", {
        "calc.py": (repo / "calc.py").read_text().replace('return "calc"', 'return "calc"  # the name'),
        "tests/test_describe.py": "from calc import describe\n\n\ndef test_describe():\n"
                                  "    assert describe() == 'calc'\n"})
    shas["tests_only"] = commit(repo, "More add tests", {
        "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
                              "    assert add(-1, 1) == 0\n"})
    return repo, shas


def replay(tmp_path: Path, *args: str) -> tuple[str, dict]:
    out = StringIO()
    report = tmp_path / "replay.json"
    call_command("factory_bench", "replay", "--output", str(report), "--data-dir", str(tmp_path / "data"), *args,
                 stdout=out)
    return out.getvalue(), json.loads(report.read_text())


@pytest.mark.django_db(transaction=True)
def test_gold_replay_accepts_real_changes_and_says_why_a_miss_missed(tmp_path):
    repo, shas = history(tmp_path)

    output, report = replay(tmp_path, "--repo", str(repo), "--last", "3", "--model", "gold", "--verbose")

    entries = {entry["sha"]: entry for entry in report["commits"]}
    assert list(entries) == [shas["idle"], shas["multiply"], shas["subtract"]]  # newest first
    assert [entries[shas[key]]["accepted"] for key in ("subtract", "multiply", "idle")] == [True, True, False]
    assert report["aggregate"]["accepted"] == 2 and report["aggregate"]["of"] == 3 and report["aborted"] == ""
    idle = entries[shas["idle"]]
    assert idle["agent_state"] == "failed" and idle["why"].startswith(
        "the commit's tests already pass on its parent, so they do not test its change: Fix the ticket:")
    assert "tests/test_describe.py::test_describe" in idle["why"]
    assert f"{shas['idle'][:10]} not accepted: the commit's tests already pass on its parent" in output
    assert "Commits accepted                  2 of 3" in output
    skipped = {entry["sha"]: entry["reason"] for entry in report["skipped"]}
    assert skipped == {shas["tests_only"]: "it changes only tests (and documentation or configuration)",
                       shas["docs"]: "it changes only documentation, CI or configuration files"}
    assert f"skipped {shas['docs'][:10]} Document subtract: it changes only documentation" in output

    multiply = entries[shas["multiply"]]
    assert multiply["deleted_tests"] == ["tests/test_legacy.py"] and multiply["tests"] == ["tests/test_multiply.py"]
    assert multiply["attempts"] == 1 and multiply["files"] == ["calc.py"]
    for entry in (entries[shas["subtract"]], multiply):
        split = entry["time"]
        assert split["total"] > 0 and split["setup"] > 0 and split["tests"] > 0
        assert abs(split["setup"] + split["model"] + split["tests"] + split["other"] - split["total"]) < 0.5

    assert Project.objects.get().name == report["project"]  # one project: its dependency cache serves every commit
    ticket = Ticket.objects.get(pk=entries[shas["subtract"]]["ticket_id"])
    assert ticket.titulo == "Add subtract(a, b)" and ticket.descripcion == "Takes b from a."
    assert ticket.archivos_modificar == ["calc.py"] and list(ticket.tests_codigo) == ["tests/test_subtract.py"]
    prompt = ticket.attempts.get().prompt
    # Hidden until judging: the file's name is in the repository tree (it is placed in the worktree), not its code.
    assert "def test_subtract" not in prompt and "subtract(5, 3)" not in prompt


@pytest.mark.django_db(transaction=True)
def test_replayable_only_passes_over_commits_whose_tests_pass_on_their_parent(tmp_path):
    repo, shas = history(tmp_path)

    output, report = replay(tmp_path, "--repo", str(repo), "--last", "2", "--model", "gold", "--replayable-only")

    assert [(entry["sha"], entry["accepted"]) for entry in report["commits"]] == [
        (shas["multiply"], True), (shas["subtract"], True)]
    skipped = {entry["sha"]: entry["reason"] for entry in report["skipped"]}
    assert list(skipped) == [shas["tests_only"], shas["idle"], shas["docs"]]
    assert skipped[shas["idle"]].startswith("its tests pass on its parent (the commit's tests already pass")
    assert "3 commits passed over (not code-and-tests changes, or tests passing on the parent; --verbose" in output
    assert "Commits accepted                  2 of 2" in output


@pytest.mark.django_db(transaction=True)
def test_a_factory_project_is_replayed_with_its_own_settings(tmp_path):
    repo, shas = history(tmp_path)
    services.create_project(name="calc", repo_url=str(repo), test_command="python -m pytest -q -x",
                            default_branch="main")

    _, report = replay(tmp_path, "--project", "calc", "--model", "gold", "--commits", shas["subtract"][:10])

    assert report["repository"] == str(repo) and report["branch"] == "main"
    assert report["settings"]["test_command"] == "python -m pytest -q -x"
    assert [entry["accepted"] for entry in report["commits"]] == [True]
    with pytest.raises(CommandError, match="No project named 'shop' in the factory; its projects are: calc"):
        replay(tmp_path, "--project", "shop", "--model", "gold", "--last", "1")


@pytest.mark.django_db(transaction=True)
def test_a_gold_change_that_fails_the_verdict_is_a_miss_after_one_attempt(tmp_path):
    repo, _ = history(tmp_path)
    wrong = commit(repo, "Add power(a, b)", {
        "calc.py": (repo / "calc.py").read_text() + "\n\ndef power(a, b):\n    return a ** b\n",
        "tests/test_power.py": "from calc import power\n\n\ndef test_power():\n    assert power(2, 3) == 9\n"})

    output, report = replay(tmp_path, "--repo", str(repo), "--model", "gold", "--commits", wrong)

    entry = report["commits"][0]
    assert (entry["accepted"], entry["agent_state"], entry["attempts"]) == (False, "failed", 1)
    assert entry["why"].startswith("the commit's real change did not pass the factory's verdict: Failed after 1 ")
    assert "test_power" in entry["why"] and report["settings"]["max_attempts"] == 1


@pytest.mark.django_db(transaction=True)
def test_listed_commits_that_cannot_be_replayed_are_misses_with_why(tmp_path):
    repo, shas = history(tmp_path)

    output, report = replay(tmp_path, "--repo", str(repo), "--model", "gold",
                            "--commits", f"{shas['docs'][:8]},{shas['first']}")

    assert [entry["why"] for entry in report["commits"]] == [
        "not replayable: it changes only documentation, CI or configuration files",
        "not replayable: the first commit: it has no parent to start from"]
    assert report["aggregate"]["accepted"] == 0 and Ticket.objects.count() == 0
    assert "Commits accepted                  0 of 2 (2 could not be made into a ticket)" in output


def test_bad_replay_arguments_are_explained(tmp_path):
    with pytest.raises(CommandError, match="--last N or --commits A,B,C"):
        call_command("factory_bench", "replay", "--repo", str(tmp_path), "--model", "gold")
    with pytest.raises(CommandError, match="--replayable-only chooses among the newest commits"):
        call_command("factory_bench", "replay", "--repo", str(tmp_path), "--model", "gold", "--commits", "HEAD",
                     "--replayable-only")
    with pytest.raises(CommandError, match="--repo PATH|URL or --project NAME"):
        call_command("factory_bench", "replay", "--model", "gold", "--last", "1")
    with pytest.raises(CommandError, match="Name a suite"):
        call_command("factory_bench")


@pytest.mark.django_db(transaction=True)
def test_an_ollama_model_replays_over_http_with_the_tests_out_of_its_prompt(tmp_path, settings):
    repo, shas = history(tmp_path)
    answer = "calc.py\n```python\n" + CALC.replace("def legacy", "def subtract(a, b):\n    return a - b\n\n\n"
                                                   "def legacy") + "```\n"
    with FakeOllama(answers=lambda body: answer) as fake:
        settings.OLLAMA_HOST = url = fake.url
        _, report = replay(tmp_path, "--repo", str(repo), "--model", "qwen2.5-coder:14b",
                                "--commits", shas["subtract"])

    assert report["model"] == "qwen2.5-coder:14b" and report["model_source"] == {"kind": "ollama", "host": url}
    assert [entry["accepted"] for entry in report["commits"]] == [True]
    assert report["commits"][0]["eval_tokens"] > 0 and report["commits"][0]["attempts"] == 1
    prompt = fake.requests[0]["messages"][1]["content"]
    assert "Add subtract(a, b)" in prompt and "Takes b from a." in prompt and "subtract(5, 3)" not in prompt


@pytest.mark.django_db(transaction=True)
def test_a_model_lost_mid_replay_stops_it_with_a_partial_report_and_nothing_left_pending(tmp_path, settings):
    repo, shas = history(tmp_path)
    answer = "calc.py\n```python\n" + CALC.replace("def legacy", "def subtract(a, b):\n    return a - b\n\n\n"
                                                   "def legacy") + "```\n"

    def respond(body: dict) -> str:
        if "Replace legacy() by multiply" in body["messages"][1]["content"]:
            fake.stop()  # the second ticket: the server goes away
        return answer

    with FakeOllama(answers=respond) as fake:
        settings.OLLAMA_HOST = fake.url
        with pytest.raises(CommandError, match=rf"The replay stopped: {shas['multiply'][:10]}: the model stopped "
                                               r"answering.*partial report in"):
            replay(tmp_path, "--repo", str(repo), "--model", "qwen2.5-coder:14b",
                   "--commits", f"{shas['subtract']},{shas['multiply']}")

    report = json.loads((tmp_path / "replay.json").read_text())
    assert [entry["sha"] for entry in report["commits"]] == [shas["subtract"]]
    assert report["aggregate"]["accepted"] == 1 and "the model stopped answering" in report["aborted"]
    assert sorted(Ticket.objects.values_list("estado", flat=True)) == ["cancelled", "completed"]


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_model_stops_the_replay_before_anything_is_created(tmp_path, settings):
    repo, _ = history(tmp_path)
    settings.OLLAMA_HOST = unreachable_url()

    with pytest.raises(CommandError, match="Ollama is unreachable at "):
        replay(tmp_path, "--repo", str(repo), "--model", "qwen2.5-coder:14b", "--last", "2")

    assert not Project.objects.exists() and not (tmp_path / "data").exists()
