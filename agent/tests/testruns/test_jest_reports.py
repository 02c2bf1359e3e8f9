"""Jest's per-test report and scoped run without a single option added to Jest's argv (issue 23, item 3).

A real Jest (installed by the project's setup_command from the npm registry, as in
factory_bench/tests/test_factory_bench_nexo.py) runs `npm test` in the sandbox; one of its tests
fails if process.argv holds anything the project did not put there (a CLI library's
tests read it, and `--json` made them fail with "unknown option"). The report comes
from agent/testruns/hooks/jest_report.cjs, preloaded through NODE_OPTIONS.
"""
import json

import pytest

from agent.testruns import deps
from agent.testruns.sandbox import SandboxPolicy
from agent.testruns.suite import TestSetup, run_for_verdict
from agent.testruns.verdict import Judging
from tests.support import git, local_repository, npm_or_skip

PACKAGE = {"name": "argv-cli", "version": "1.0.0", "private": True, "scripts": {"test": "jest --ci"},
           "devDependencies": {"jest": "29.7.0"}, "jest": {"testEnvironment": "node"}}
ARGV_TEST = """const {parse} = require('../src/cli');

test('the test process has only the options its command gave', () => {
  const options = process.argv.slice(2).filter((arg) => arg.startsWith('-'));
  expect(options.filter((arg) => arg !== '--ci')).toEqual([]);
  expect(parse(['--name', 'x'])).toEqual({name: 'x'});
});
"""
OTHER_TEST = "test('unrelated', () => { expect(1 + 1).toBe(2); });\n"
CLI = "exports.parse = (argv) => ({name: argv[1]});\n"


@pytest.fixture
def project(tmp_path):
    return local_repository(tmp_path / "clone", {
        "package.json": json.dumps(PACKAGE, indent=1), "src/cli.js": CLI, "tests/cli.test.js": ARGV_TEST,
        "tests/other.test.js": OTHER_TEST, ".gitignore": "node_modules/\n"})


def test_jest_reports_and_scoped_runs_leave_its_argv_alone(tmp_path, project):
    npm_or_skip("Jest is installed from the npm registry")
    clone, base = project
    attempt = tmp_path / "attempt"
    git(clone, "worktree", "add", "-q", str(attempt), base)
    (attempt / "src/cli.js").write_text("exports.parse = (argv) => ({name: argv[argv.indexOf('--name') + 1]});\n")
    judging = Judging(base_outcomes=None, base_commit=base, base_branch="main", changed_files=frozenset({"src/cli.js"}))
    with deps.prepared(clone=clone, commit=base, setup_command="npm install --no-audit --no-fund",
                       cache_dir=tmp_path / "deps", sandbox=SandboxPolicy("on"), timeout=600) as installed:
        setup = TestSetup(command="npm test", timeout=120, sandbox=SandboxPolicy("on"), dependencies=installed)
        runs = run_for_verdict(setup, cwd=attempt, judging=judging)
    assert runs.verdict.green, runs.as_result()
    assert runs.scoped is not None and runs.scoped.result["command"] == "npm test"  # nothing appended
    assert runs.scoped.report.kind == "jest-json"
    assert sorted(runs.scoped.report.outcomes()) == [
        "tests/cli.test.js::the test process has only the options its command gave"]  # the related test only
    assert runs.full.report.outcomes() == {
        "tests/cli.test.js::the test process has only the options its command gave": "passed",
        "tests/other.test.js::unrelated": "passed"}
