"""docs/agent.md's recipes for uv, poetry and pnpm, each run for real through the factory's setup and test runs.

Each tiny project's setup_command brings its own tool (uv and poetry from PyPI into
a virtualenv in the setup's HOME, pnpm from the npm registry into ~/.local), then
installs the project, in the sandbox with the network; its test_command runs on an
attempt's worktree that fixes the base's bug, so a green verdict proves the editable
install imports the attempt's code. Without the registry they skip saying why, and
fail instead when FACTORY_REQUIRE_NPM=1 (CI: registries must be reachable there).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.testruns import deps
from agent.testruns.command import clean_environment
from agent.testruns.sandbox import SandboxPolicy
from agent.testruns.suite import TestSetup, run_for_verdict
from agent.testruns.verdict import Judging
from tests.support import REQUIRE_NPM, git, local_repository, npm_or_skip

requires_sandbox = pytest.mark.skipif(
    not SandboxPolicy("on").bwrap_available() and os.environ.get("FACTORY_REQUIRE_SANDBOX") != "1",
    reason="bubblewrap cannot sandbox here")

TOOLS_VENV = "python -m venv ~/.tools && ~/.tools/bin/pip install --quiet --disable-pip-version-check"
UV_SETUP = f"{TOOLS_VENV} uv && UV_PYTHON_DOWNLOADS=never ~/.tools/bin/uv sync"
POETRY_SETUP = (f"{TOOLS_VENV} poetry && POETRY_VIRTUALENVS_IN_PROJECT=true "
                "~/.tools/bin/poetry install --no-interaction")
PNPM_SETUP = "npm install -g --prefix ~/.local --no-audit --no-fund pnpm@10 && pnpm install --no-frozen-lockfile"
PYTEST = "python -m pytest -q -p no:cacheprovider"

GREET_TEST = "import greet\n\n\ndef test_hello():\n    assert greet.hello() == 'hello, world'\n"
UV_PYPROJECT = """[project]
name = "greet"
dynamic = ["version"]
requires-python = ">=3.9"

[dependency-groups]
dev = ["pytest>=8"]

[build-system]
requires = ["hatchling", "hatch-vcs"]
build-backend = "hatchling.build"

[tool.hatch.version]
source = "vcs"

[tool.hatch.build.hooks.vcs]
version-file = "src/greet/_version.py"
"""
POETRY_PYPROJECT = """[project]
name = "greet"
version = "0.1.0"
requires-python = ">=3.9"

[tool.poetry]
packages = [{include = "greet", from = "src"}]

[tool.poetry.group.dev.dependencies]
pytest = ">=8"

[build-system]
requires = ["poetry-core>=2"]
build-backend = "poetry.core.masonry.api"
"""
PNPM_PACKAGE = {"name": "sums", "version": "1.0.0", "private": True, "type": "module",
                "scripts": {"test": "vitest run"}, "devDependencies": {"vitest": "3.2.4"}}
SUM_TEST = """import {expect, test} from 'vitest';
import {sum} from '../src/sum.js';

test('adds', () => { expect(sum(1, 2)).toBe(3); });
"""
PYPI_PROBE_TIMEOUT_S = 60


def pypi_or_skip(tool: str) -> None:
    """Skip (fail with FACTORY_REQUIRE_NPM=1) when pip cannot reach the package index for `tool`."""
    try:
        probe = subprocess.run([sys.executable, "-m", "pip", "index", "versions", tool], capture_output=True,
                               text=True, timeout=PYPI_PROBE_TIMEOUT_S)
        problem = "" if probe.returncode == 0 else (probe.stderr.strip().splitlines() or ["no output"])[-1]
    except subprocess.TimeoutExpired:
        problem = f"no answer in {PYPI_PROBE_TIMEOUT_S} s"
    if not problem:
        return
    message = f"the recipe's setup installs {tool} from the package index, which pip cannot reach: {problem}"
    if os.environ.get(REQUIRE_NPM) == "1":
        pytest.fail(f"{message} ({REQUIRE_NPM}=1: this machine must reach the registries)")
    pytest.skip(message)


def base_and_attempt(root: Path, files: dict[str, str], fixed: dict[str, str]) -> tuple[Path, str, Path]:
    """A repository with `files` at its base commit, and an attempt's worktree with `fixed` written over them."""
    clone, base = local_repository(root / "clone", files)
    attempt = root / "attempt"
    git(clone, "worktree", "add", "-q", str(attempt), base)
    for name, text in fixed.items():
        (attempt / name).write_text(text)
    return clone, base, attempt


def run_recipe(root: Path, *, files: dict[str, str], fixed: dict[str, str], setup_command: str,
               test_command: str) -> tuple[deps.Dependencies, dict[str, str], Path]:
    """setup_command on the base, test_command on the attempt: the setup's result and the test outcomes."""
    clone, base, attempt = base_and_attempt(root, files, fixed)
    judging = Judging(base_outcomes=None, base_commit=base, base_branch="main", changed_files=frozenset(fixed))
    with deps.prepared(clone=clone, commit=base, setup_command=setup_command, cache_dir=root / "deps",
                       sandbox=SandboxPolicy("on"), timeout=300) as installed:
        assert installed is not None
        setup = TestSetup(command=test_command, timeout=120, sandbox=SandboxPolicy("on"), dependencies=installed)
        runs = run_for_verdict(setup, cwd=attempt, judging=judging)
    assert runs.verdict.green, runs.as_result()
    assert git(attempt, "ls-files", "--others", "--exclude-standard").strip() == ""  # nothing the setup made gets committed
    return installed, runs.final.report.outcomes() if runs.final.report else {}, attempt


@requires_sandbox
def test_uv_sync_with_a_hatch_vcs_version_file(tmp_path):
    pypi_or_skip("uv")
    installed, outcomes, attempt = run_recipe(
        tmp_path, setup_command=UV_SETUP, test_command=PYTEST,
        files={"pyproject.toml": UV_PYPROJECT, ".gitignore": ".venv/\nsrc/greet/_version.py\n",
               "src/greet/__init__.py": "from ._version import version\n\n\ndef hello():\n    return 'hi'\n",
               "tests/test_greet.py": GREET_TEST + "\n\ndef test_version():\n    assert greet.version\n"},
        fixed={"src/greet/__init__.py": "from ._version import version\n\n\ndef hello():\n    return 'hello, world'\n"})
    assert installed.outputs == (".venv",) and installed.generated == ("src/greet/_version.py",)
    assert "0+factory" in (attempt / "src/greet/_version.py").read_text()  # SETUPTOOLS_SCM_PRETEND_VERSION
    assert outcomes == {"tests/test_greet.py::test_hello": "passed", "tests/test_greet.py::test_version": "passed"}


@requires_sandbox
def test_poetry_install_in_project(tmp_path):
    pypi_or_skip("poetry")
    installed, outcomes, _ = run_recipe(
        tmp_path, setup_command=POETRY_SETUP, test_command=PYTEST,
        files={"pyproject.toml": POETRY_PYPROJECT, ".gitignore": ".venv/\n",
               "src/greet/__init__.py": "def hello():\n    return 'hi'\n", "tests/test_greet.py": GREET_TEST},
        fixed={"src/greet/__init__.py": "def hello():\n    return 'hello, world'\n"})
    assert installed.outputs == (".venv",)
    assert outcomes == {"tests/test_greet.py::test_hello": "passed"}


@requires_sandbox
def test_pnpm_install_and_pnpm_test_with_vitest(tmp_path):
    npm_or_skip("pnpm and Vitest are installed from the npm registry")
    installed, outcomes, _ = run_recipe(
        tmp_path, setup_command=PNPM_SETUP, test_command="pnpm test",
        files={"package.json": json.dumps(PNPM_PACKAGE, indent=1), ".gitignore": "node_modules/\n",
               "src/sum.js": "export const sum = (a, b) => a - b;\n", "tests/sum.test.js": SUM_TEST},
        fixed={"src/sum.js": "export const sum = (a, b) => a + b;\n"})
    assert installed.outputs == ("node_modules",)
    assert outcomes == {"tests/sum.test.js::adds": "passed"}  # Vitest's report through the hook, under pnpm


def test_setup_runs_get_the_ca_bundles_the_worker_trusts(tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    setup = clean_environment(home="/h", project="/p", runner=tmp_path, network=True, extra={})
    tests = clean_environment(home="/h", project="/p", runner=tmp_path, network=False, extra={})
    assert setup["SSL_CERT_FILE"] == "/etc/ssl/certs/ca-certificates.crt" and "SSL_CERT_FILE" not in tests
