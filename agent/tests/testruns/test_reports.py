"""Per-test reports read as hostile input, and the verdict's rules on them."""
import json
import os

import pytest

from agent.testruns.reports import Report, TestCase, read_reports
from agent.testruns.sandbox import SandboxPolicy
from agent.testruns.suite import TestSetup, run_once
from agent.testruns.verdict import Judging, judge

JUNIT = b"""<?xml version="1.0"?><testsuites><testsuite name="pytest">
<testcase classname="tests.test_text" name="test_slugify" file="tests/test_text.py" line="3"/>
<testcase classname="tests.test_text.TestDuration" name="test_minutes[2m]" file="tests/test_text.py" line="9">
  <failure message="assert None == 120">def test_minutes(): ...</failure></testcase>
<testcase classname="tests.test_text" name="test_later" file="tests/test_text.py"><skipped message="todo"/></testcase>
</testsuite></testsuites>"""
JEST = {"testResults": [
    {"name": "/work/tree/src/facturas.test.js", "status": "failed", "assertionResults": [
        {"fullName": "GET /facturas/:id 200 con PDF", "status": "passed", "failureMessages": []},
        {"fullName": "GET /facturas/:id 403 si otro tenant", "status": "failed", "failureMessages": ["Expected 403"]},
        {"fullName": "later", "status": "pending", "failureMessages": []}]},
    {"name": "/work/tree/src/broken.test.js", "status": "failed", "message": "SyntaxError: Unexpected token",
     "assertionResults": []}]}


def test_junit_from_pytest_gives_node_ids_and_outcomes(tmp_path):
    (tmp_path / "pytest.xml").write_bytes(JUNIT)
    report = read_reports(report_dir=tmp_path, worktree=tmp_path / "tree")
    assert report.outcomes() == {"tests/test_text.py::test_slugify": "passed",
                                 "tests/test_text.py::TestDuration::test_minutes[2m]": "failed",
                                 "tests/test_text.py::test_later": "skipped"}
    assert "assert None == 120" in report.cases["tests/test_text.py::TestDuration::test_minutes[2m]"].message


def test_a_projects_jest_json_report_is_read_relative_to_the_worktree(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "jest.json").write_text(json.dumps(JEST).replace("/work/tree", str(tree)))
    report = read_reports(report_dir=tmp_path / "none", worktree=tree, project_report="jest.json")
    assert report.kind == "jest-json"
    assert report.outcomes() == {"src/facturas.test.js::GET /facturas/:id 200 con PDF": "passed",
                                 "src/facturas.test.js::GET /facturas/:id 403 si otro tenant": "failed",
                                 "src/facturas.test.js::later": "skipped",
                                 "src/broken.test.js::(test file failed to run)": "error"}


def test_a_report_that_links_out_of_the_worktree_is_never_read(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps(JEST))
    os.symlink(secret, tree / "jest.json")
    (tmp_path / "reports").mkdir()
    os.symlink(secret, tmp_path / "reports" / "pytest.xml")
    assert read_reports(report_dir=tmp_path / "reports", worktree=tree, project_report="jest.json") is None


def test_garbage_and_huge_reports_fall_back_to_the_console(tmp_path):
    (tmp_path / "a.xml").write_text("<not-closed")
    with open(tmp_path / "b.xml", "wb") as big:
        big.truncate(30_000_000)
    assert read_reports(report_dir=tmp_path, worktree=tmp_path) is None


def report(**outcomes: str) -> Report:
    return Report(kind="junit", cases={name: TestCase(id=name, status=status) for name, status in outcomes.items()})


def judging(base: dict | None, *, changed=(), required=(), full=True) -> Judging:
    return Judging(base_outcomes=base, base_commit="abc", base_branch="main", changed_files=frozenset(changed),
                   required=tuple(required), full_run=full)


@pytest.mark.parametrize("now, green, reason", [
    ({"a": "passed", "b": "failed"}, True, "already failing on main"),
    ({"a": "failed", "b": "failed"}, False, "pass on main fail now"),
    ({"a": "skipped", "b": "failed"}, False, "pass on main fail now"),  # skipping a passing test hides it
    ({"b": "failed"}, False, "did not run"),
    ({"a": "passed", "b": "failed", "c": "failed"}, False, "new test(s) fail"),
])
def test_the_verdict_judges_the_change_not_the_repository(now, green, reason):
    verdict = judge(judging=judging({"a": "passed", "b": "failed"}), report=report(**now), exit_code=1,
                    timed_out=False)
    assert verdict.green is green and reason.replace("pass on", "pass on") in verdict.reason.replace("that ", "")


def test_absent_tests_are_not_removed_in_a_scoped_run():
    verdict = judge(judging=judging({"a": "passed", "b": "passed"}, full=False), report=report(a="passed"),
                    exit_code=0, timed_out=False)
    assert verdict.green and verdict.removed == []


def test_a_named_required_test_must_pass_even_if_it_failed_on_main():
    verdict = judge(judging=judging({"t.py::test_x": "failed"}, required=["t.py::test_x"]),
                    report=report(**{"t.py::test_x": "failed"}), exit_code=1, timed_out=False)
    assert not verdict.green and verdict.ticket_failing == ["t.py::test_x"]
    assert "1 of the ticket's own test(s) fail on main and still fail: t.py::test_x" in verdict.reason


def test_without_a_report_on_main_the_exit_code_decides():
    verdict = judge(judging=judging(None), report=report(a="failed"), exit_code=0, timed_out=False)
    assert verdict.green and verdict.basis == "exit_code" and "the run on main" in verdict.reason


@pytest.mark.parametrize("setting", ["{outside}/victim.xml", "../outside/victim.xml", "out/victim.xml", ".git/config",
                                     "gitdir/config"])
def test_clearing_the_stale_report_never_deletes_outside_the_worktree_or_in_git(tmp_path, setting):
    """test_report stored before the check at the door, or a link the code under test left: nothing is deleted."""
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    (tree / ".git").mkdir(parents=True)
    outside.mkdir()
    victim, git_config = outside / "victim.xml", tree / ".git" / "config"
    victim.write_bytes(JUNIT)
    git_config.write_text("[core]\n")
    os.symlink(outside, tree / "out")
    os.symlink(tree / ".git", tree / "gitdir")
    setup = TestSetup(command="true", timeout=10, sandbox=SandboxPolicy("off"),
                      project_report=setting.format(outside=outside))

    run = run_once(setup, cwd=tree, command="true")

    assert victim.read_bytes() == JUNIT and git_config.read_text() == "[core]\n"
    assert run.report is None  # and nothing there is read as the project's report either


def test_the_projects_own_stale_report_is_cleared_before_a_run(tmp_path):
    tree = tmp_path / "tree"
    (tree / "reports").mkdir(parents=True)
    (tree / "reports" / "junit.xml").write_bytes(JUNIT)
    setup = TestSetup(command="true", timeout=10, sandbox=SandboxPolicy("off"), project_report="reports/junit.xml")

    assert run_once(setup, cwd=tree, command="true").report is None
    assert not (tree / "reports" / "junit.xml").exists()
