"""The architect's tests (tests_codigo) checked on the base, as real commits write them: on a real git repository,
run by real pytest in the sandbox. A file already on the base keeps tests that pass there; only the ones the
ticket adds or changes must bite, and a guard case beside a biting one may pass. At judging, a base test the
architect's version of a file removed or re-parametrized is theirs to change, not a test the attempt lost."""
import subprocess
from pathlib import Path

import pytest

from agent.errors import TicketProblem
from agent.testruns.reports import PASSED
from agent.testruns.sandbox import SandboxPolicy
from agent.testruns.suite import TestSetup
from agent.testruns.verdict import Judging, compare
from agent.worker.acceptance import check_they_fail_on_base
from tickets.repos import ProjectRepo

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


ARCHITECT = {"tests/test_slug.py": 'import pytest\n\n\n@pytest.mark.parametrize("text, slug", [("A B", "a-b")])\n'
                                   'def test_slug(text, slug):\n    pass\n\n\ndef test_lower():\n    pass\n'}
BASE = {"tests/test_slug.py::test_slug[A B-a b]": PASSED, "tests/test_slug.py::test_old": PASSED,
        "tests/test_slug.py::test_lower": PASSED, "tests/test_other.py::test_gone": PASSED}


def judged(now: dict[str, str], architect: dict[str, str]):
    return compare(judging=Judging(base_outcomes=BASE, base_commit="b", base_branch="main",
                                   changed_files=frozenset(), architect_tests=architect), now=now)


def test_base_tests_the_architects_version_removed_or_reparametrized_are_not_missing():
    now = {"tests/test_slug.py::test_slug[A B-a-b]": PASSED, "tests/test_slug.py::test_lower": PASSED}
    assert judged(now, ARCHITECT).removed == ["tests/test_other.py::test_gone"]  # not an architect's file
    assert judged(now, {}).removed == ["tests/test_other.py::test_gone", "tests/test_slug.py::test_old",
                                       "tests/test_slug.py::test_slug[A B-a b]"]


def test_a_test_the_architects_file_still_holds_that_did_not_run_is_missing():
    now = {"tests/test_slug.py::test_slug[A B-a-b]": PASSED, "tests/test_other.py::test_gone": PASSED}
    assert judged(now, ARCHITECT).removed == ["tests/test_slug.py::test_lower"]
