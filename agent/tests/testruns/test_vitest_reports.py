"""Vitest's per-test report and scoped run without a single option added to Vitest's argv (issue 23, item 3).

A real Vitest (installed by the project's setup_command from the npm registry, as
agent/tests/testruns/test_jest_reports.py installs Jest) runs `npm test` (`vitest run`) in the
sandbox. The report comes from agent/testruns/hooks/vitest_report.cjs, preloaded
through NODE_OPTIONS: it adds its reporter to the ones Vitest made from the
project's configuration, and asks for Vitest's related mode for the scoped run.
One test checks that process.argv holds nothing the project did not put there; the
project's vitest.config.js names a reporter of its own, which still runs.
"""
import json
import os
from pathlib import Path

import pytest

from agent.testruns import deps
from agent.testruns.command import run_command
from agent.testruns.sandbox import PROJECT_DIR, SandboxPolicy
from agent.testruns.suite import TestSetup, run_for_verdict, scoped_command
from agent.testruns.verdict import Judging
from tests.support import git, local_repository, npm_or_skip

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
# The project's own configuration: Vite bundles it into node_modules/.vite-temp (a private tmpfs in the sandbox,
# node_modules being read-only), and its reporter stays beside the factory's.
CONFIG = "import {defineConfig} from 'vitest/config';\n\nexport default defineConfig({test: {reporters: ['verbose']}});\n"


@pytest.fixture
def project(tmp_path):
    return local_repository(tmp_path / "clone", {
        "package.json": json.dumps(PACKAGE, indent=1), "src/sum.js": SUM, "tests/sum.test.js": SUM_TEST,
        "tests/broken.test.js": BROKEN_TEST, ".gitignore": "node_modules/\n", "vitest.config.js": CONFIG})


@pytest.mark.skipif(not SandboxPolicy("on").bwrap_available() and os.environ.get("FACTORY_REQUIRE_SANDBOX") != "1",
                    reason="bubblewrap cannot sandbox here")
def test_test_runs_write_tool_caches_inside_a_read_only_node_modules_on_a_private_tmpfs(tmp_path, project):
    clone, base = project
    setup = "mkdir -p node_modules/.vite/old && ln -s /etc node_modules/.cache && echo x > node_modules/kept.js"
    with deps.prepared(clone=clone, commit=base, setup_command=setup, cache_dir=tmp_path / "deps",
                       sandbox=SandboxPolicy("on"), timeout=60) as installed:
        assert installed.scratch() == tuple(Path(PROJECT_DIR) / "node_modules" / name for name in deps.NODE_SCRATCH)
        assert not (installed.tree / "node_modules/.cache").is_symlink()  # a link the setup left is never followed
        probe = ("ls -A node_modules/.vite; echo cfg > node_modules/.vite-temp/c.mjs && cat node_modules/.vite-temp/c.mjs; "
                 "echo no > node_modules/kept.js || echo READ-ONLY")
        result = run_command(command=probe, cwd=clone, timeout=60, sandbox=SandboxPolicy("on"),
                             readonly=installed.mounts(), scratch=installed.scratch())
        assert not (installed.tree / "node_modules/.vite-temp/c.mjs").exists()  # private to that run
    out = result["output_tail"]
    assert "cfg" in out and "READ-ONLY" in out and "old" not in out, out


def test_npm_test_running_vitest_gets_a_scoped_run_through_the_environment(tmp_path, project):
    clone, _ = project
    setup = TestSetup(command="npm test", timeout=60, sandbox=SandboxPolicy("off"))
    plan = scoped_command(setup, cwd=clone, files=["src/sum.js"])
    assert plan is not None and plan.command == "npm test" and plan.env == {"FACTORY_RELATED_FILES": "src/sum.js"}


def test_vitest_reports_passing_and_failing_tests_and_scopes_runs_without_argv(tmp_path, project):
    npm_or_skip("Vitest is installed from the npm registry")
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
    assert "sum > argv holds only what the command gave" in runs.full.result["output_tail"]  # 'verbose' still ran
    assert "expected 2 to be 3" in runs.full.report.cases["tests/broken.test.js::still wrong"].message
