"""The project's own environment (issues 21 and 23): never the factory's interpreter, one fixed path, real installs.

A run without a setup finds the minimal runner (pytest alone), not the factory's
Django; a src-layout project whose setup makes a virtualenv with an editable
install (`pip install -e .[test]`, the README's pip recipe, with the package
registry) runs its tests on the attempt's code, because setup and tests both
see the worktree at agent.testruns.sandbox.PROJECT_DIR. A suite that is quick
on the base is not run twice.
"""
import os
import sys
from pathlib import Path

import pytest

from agent.testruns import deps
from agent.testruns.command import run_command
from agent.testruns.sandbox import PROJECT_DIR, SandboxPolicy
from agent.testruns.suite import TestSetup, run_for_verdict
from agent.testruns.verdict import Judging
from tests.support import git, local_repository

requires_sandbox = pytest.mark.skipif(
    not SandboxPolicy("on").bwrap_available() and os.environ.get("FACTORY_REQUIRE_SANDBOX") != "1",
    reason="bubblewrap cannot sandbox here")

PYPROJECT = """[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "greet"
version = "0.1"

[project.optional-dependencies]
test = ["pytest"]

[tool.setuptools.packages.find]
where = ["src"]
"""
GREET_TEST = """import greet


def test_hello():
    assert greet.hello() == "hello, world"
"""
SCM_PYPROJECT = PYPROJECT.replace('requires = ["setuptools>=64"]', 'requires = ["setuptools>=64", "setuptools-scm>=8"]') \
    .replace('version = "0.1"', 'dynamic = ["version"]') + '\n[tool.setuptools_scm]\nversion_file = "src/greet/_version.py"\n'
PIP_SETUP = "python -m venv .venv && .venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'"


@pytest.mark.parametrize("mode", [pytest.param("on", marks=requires_sandbox), "off"])
def test_python_runs_find_pytest_but_never_the_factorys_packages(tmp_path, mode):
    tree, _ = local_repository(tmp_path / "tree", {"README": "x\n"})
    probe = ("python -c 'import pytest, sys; print(\"pytest\", pytest.__version__, sys.prefix)'; "
             "python -c 'import django' 2>&1 | tail -1; echo \"PATH=$PATH\"")
    result = run_command(command=probe, cwd=tree, timeout=60, sandbox=SandboxPolicy(mode))
    out = result["output_tail"]
    assert "pytest " in out and "No module named 'django'" in out, out
    assert f"{sys.prefix}/bin" not in out and str(Path(sys.executable).parent) not in out, out


@requires_sandbox
def test_a_src_layout_project_installed_editable_by_its_setup_tests_the_attempts_code(tmp_path):
    clone, base = local_repository(tmp_path / "clone", {
        "pyproject.toml": PYPROJECT, "src/greet/__init__.py": "def hello():\n    return 'hi'\n",
        "tests/test_greet.py": GREET_TEST})
    attempt = tmp_path / "attempt"
    git(clone, "worktree", "add", "-q", str(attempt), base)
    (attempt / "src/greet/__init__.py").write_text("def hello():\n    return 'hello, world'\n")
    with deps.prepared(clone=clone, commit=base, setup_command=PIP_SETUP, cache_dir=tmp_path / "deps",
                       sandbox=SandboxPolicy("on"), timeout=300) as installed:
        assert ".venv" in installed.outputs
        result = run_command(command="python -m pytest -q -p no:cacheprovider; python -c 'import greet; "
                                     "print(\"FROM\", greet.__file__)'", cwd=attempt, timeout=120,
                             sandbox=SandboxPolicy("on"), readonly=installed.mounts())
    out = result["output_tail"]
    assert "1 passed" in out, out  # the attempt's hello(), not the base's the setup saw
    assert f"FROM {PROJECT_DIR}/src/greet/__init__.py" in out, out


def test_a_suite_quick_on_the_base_runs_once_not_scoped_then_full(tmp_path):
    tree, _ = local_repository(tmp_path / "tree", {"test_one.py": "def test_one():\n    pass\n"})
    judging = Judging(base_outcomes=None, base_commit="0" * 40, base_branch="main",
                      changed_files=frozenset({"test_one.py"}))
    quick = TestSetup(command="python -m pytest -q -p no:cacheprovider", timeout=60, sandbox=SandboxPolicy("off"),
                      full_suite_s=0.4, scoped_min_s=10)
    runs = run_for_verdict(quick, cwd=tree, judging=judging)
    assert runs.scoped is None and runs.full is not None and runs.verdict.green
    assert "FACTORY_SCOPED_RUN_MIN_S" in runs.notes[0]
    slow = TestSetup(command=quick.command, timeout=60, sandbox=SandboxPolicy("off"), full_suite_s=12, scoped_min_s=10)
    assert run_for_verdict(slow, cwd=tree, judging=judging).scoped is not None


@requires_sandbox
def test_a_version_file_the_setup_generates_is_there_for_the_tests_and_never_committed(tmp_path):
    clone, base = local_repository(tmp_path / "clone", {
        "pyproject.toml": SCM_PYPROJECT, ".gitignore": "src/greet/_version.py\n*.egg-info/\n.venv/\n",
        "src/greet/__init__.py": "from ._version import version\n\n\ndef hello():\n    return 'hello, world'\n",
        "tests/test_greet.py": GREET_TEST})
    attempt = tmp_path / "attempt"
    git(clone, "worktree", "add", "-q", str(attempt), base)
    with deps.prepared(clone=clone, commit=base, setup_command=PIP_SETUP, cache_dir=tmp_path / "deps",
                       sandbox=SandboxPolicy("on"), timeout=300) as installed:
        assert installed.generated == ("src/greet/_version.py",)
        setup = TestSetup(command="python -m pytest -q -p no:cacheprovider", timeout=120, sandbox=SandboxPolicy("on"),
                          dependencies=installed)
        judging = Judging(base_outcomes=None, base_commit=base, base_branch="main", changed_files=frozenset())
        runs = run_for_verdict(setup, cwd=attempt, judging=judging)
    assert runs.verdict.green and runs.final.result["passed"] == 1, runs.as_result()
    assert "0+factory" in (attempt / "src/greet/_version.py").read_text()  # SETUPTOOLS_SCM_PRETEND_VERSION
    assert git(attempt, "status", "--porcelain") == ""  # ignored: an attempt never commits it
