"""Vitest's per-test report and scoped run without a single option added to Vitest's argv (issue 23, item 3).

A real Vitest (installed by the project's setup_command from the npm registry, as
tests/test_jest_reports.py installs Jest) runs `npm test` (`vitest run`) in the
sandbox. The report comes from agent/testruns/hooks/vitest_report.cjs, preloaded
through NODE_OPTIONS: it adds its reporter to the ones Vitest made from the
project's configuration, and asks for Vitest's related mode for the scoped run.
One test checks that process.argv holds nothing the project did not put there.
"""
import json
import subprocess
from pathlib import Path

import pytest

from agent.testruns import deps
from agent.testruns.sandbox import SandboxPolicy
from agent.testruns.suite import TestSetup, run_for_verdict, scoped_command
from agent.testruns.verdict import Judging
from tests.test_factory_bench_nexo import npm_or_skip

PACKAGE = {"name": "sums", "version": "1.0.0", "private": True, "type": "module",
           "scripts": {"test": "vitest run"}, "devDependencies": {"vitest": "3.2.4"}}
SUM_TEST = """import {describe, expect, test} from 'vitest';
import {sum} from '../src/sum.js';

describe('sum', () => {
  test('adds', () => { expect(sum(1, 2)).toBe(3); });
  test('argv holds only what the command gave', () => {
    expect(process.argv.slice(2).filter((arg) => arg.startsWith('-'))).toEqual([]);
  });
});
"""
BROKEN_TEST = """import {expect, test} from 'vitest';

test('still wrong', () => { expect(1 + 1).toBe(3); });
"""
SUM = "export const sum = (a, b) => a - b;\n"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def project(tmp_path):
    clone = tmp_path / "clone"
    files = {"package.json": json.dumps(PACKAGE, indent=1), "src/sum.js": SUM, "tests/sum.test.js": SUM_TEST,
             "tests/broken.test.js": BROKEN_TEST, ".gitignore": "node_modules/\n"}
    for name, text in files.items():
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        (clone / name).write_text(text)
    git(clone, "init", "-q", "-b", "main")
    git(clone, "add", "-A")
    git(clone, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    return clone, git(clone, "rev-parse", "HEAD")


def test_npm_test_running_vitest_gets_a_scoped_run_through_the_environment(tmp_path, project):
    clone, _ = project
    setup = TestSetup(command="npm test", timeout=60, sandbox=SandboxPolicy("off"))
    plan = scoped_command(setup, cwd=clone, files=["src/sum.js"])
    assert plan is not None and plan.command == "npm test" and plan.env == {"FACTORY_RELATED_FILES": "src/sum.js"}


def test_vitest_reports_passing_and_failing_tests_and_scopes_runs_without_argv(tmp_path, project):
    npm_or_skip()
    clone, base = project
    attempt = tmp_path / "attempt"
    git(clone, "worktree", "add", "-q", str(attempt), base)
    (attempt / "src/sum.js").write_text("export const sum = (a, b) => a + b;\n")
    judging = Judging(base_outcomes=None, base_commit=base, base_branch="main", changed_files=frozenset({"src/sum.js"}))
    with deps.prepared(clone=clone, commit=base, setup_command="npm install --no-audit --no-fund",
                       cache_dir=tmp_path / "deps", sandbox=SandboxPolicy("on"), timeout=600) as installed:
        setup = TestSetup(command="npm test", timeout=120, sandbox=SandboxPolicy("on"), dependencies=installed)
        runs = run_for_verdict(setup, cwd=attempt, judging=judging)
    assert runs.scoped is not None and runs.scoped.result["command"] == "npm test"  # nothing appended
    assert runs.scoped.report.kind == "jest-json", runs.scoped.result
    assert runs.scoped.report.outcomes() == {  # the tests that import src/sum.js, and only those
        "tests/sum.test.js::sum > adds": "passed",
        "tests/sum.test.js::sum > argv holds only what the command gave": "passed"}
    assert runs.full is not None and runs.full.report.outcomes() == {
        "tests/sum.test.js::sum > adds": "passed",
        "tests/sum.test.js::sum > argv holds only what the command gave": "passed",
        "tests/broken.test.js::still wrong": "failed"}
    assert not runs.verdict.green
    assert "expected 2 to be 3" in runs.full.report.cases["tests/broken.test.js::still wrong"].message
