"""The architect's tests (tests_codigo) checked on the base, as real commits write them: on a real git repository,
run by real pytest in the sandbox. A file already on the base keeps tests that pass there; only the ones the
ticket adds or changes must bite, and a guard case beside a biting one may pass."""
import subprocess
from pathlib import Path

import pytest

from agent.errors import TicketProblem
from agent.testruns.sandbox import SandboxPolicy
from agent.testruns.suite import TestSetup
from agent.worker.acceptance import check_they_fail_on_base
from lib.gitrepo import ProjectRepo

SLUG = 'def slugify(text):\n    return text.lower().replace(" ", "-")\n'
TESTS = ('from slug import slugify\n\n\ndef test_lower():\n    assert slugify("AB") == "ab"\n\n\n'
         'def test_spaces():\n    assert slugify("a b") == "a-b"\n')
NEW_BITING = '\n\ndef test_strips():\n    assert slugify(" a ") == "a"\n'
NEW_GUARD = '\n\ndef test_empty():\n    assert slugify("") == ""\n'
CHANGED_BITING = TESTS.replace('slugify("AB") == "ab"', 'slugify("A_B") == "a-b"')


@pytest.fixture
def repo(tmp_path: Path) -> tuple[ProjectRepo, str]:
    source = tmp_path / "source"
    source.mkdir()
    (source / "slug.py").write_text(SLUG)
    (source / "tests").mkdir()
    (source / "tests" / "test_slug.py").write_text(TESTS)
    for command in (["init", "-q", "-b", "main"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t",
                                                                 "commit", "-q", "-m", "base"]):
        subprocess.run(["git", *command], cwd=source, check=True)
    project = ProjectRepo(data_dir=tmp_path / "data", name="slug", url=str(source), default_branch="main")
    project.sync()
    base = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, check=True, capture_output=True,
                          text=True).stdout.strip()
    return project, base


def check(repo: tuple[ProjectRepo, str], files: dict[str, str]) -> None:
    project, base = repo
    setup = TestSetup(command="python -m pytest -q", timeout=120, sandbox=SandboxPolicy("auto"))
    check_they_fail_on_base(repo=project, base=base, branch="main", setup=setup, files=files)


def test_an_existing_file_with_one_new_biting_test_passes_the_check(repo):
    check(repo, {"tests/test_slug.py": TESTS + NEW_BITING})  # test_lower and test_spaces pass on the base


def test_a_changed_existing_test_that_bites_passes_the_check(repo):
    check(repo, {"tests/test_slug.py": CHANGED_BITING})


def test_a_guard_case_beside_a_biting_test_may_pass_on_the_base(repo):
    check(repo, {"tests/test_slug.py": TESTS + NEW_BITING + NEW_GUARD})


def test_an_existing_file_whose_new_tests_all_pass_on_the_base_is_refused_naming_only_those(repo):
    with pytest.raises(TicketProblem) as refused:
        check(repo, {"tests/test_slug.py": TESTS + NEW_GUARD})
    assert "already pass there: tests/test_slug.py::test_empty." in str(refused.value)


def test_an_unchanged_existing_file_is_refused(repo):
    with pytest.raises(TicketProblem, match="must fail on main"):
        check(repo, {"tests/test_slug.py": TESTS})


def test_a_new_file_whose_tests_all_pass_on_the_base_is_refused(repo):
    with pytest.raises(TicketProblem, match="already pass there: tests/test_new.py::test_empty"):
        check(repo, {"tests/test_new.py": "from slug import slugify" + NEW_GUARD})
