"""The shape of the code, checked like behaviour: one-way imports, no hidden cycles, modules of a readable size,
types that check, no dead code, tests that import no other test."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("agent", "factory_bench", "factory_mcp", "factory_site", "lib", "memory", "metrics", "restkit", "review", "tickets",
        "webhooks")
MAX_LINES = 400
# vulture reads the apps, the tests and benchmarks (as callers) and manage.py; 60 % is the confidence of an
# unused function, class or attribute. vulture_whitelist.py names what a framework uses without a Python call.
VULTURE = ("--min-confidence", "60", "--ignore-decorators", "@pytest.fixture", "--exclude", "*/migrations/*,bench/suites", *APPS, "tests", "bench",
           "manage.py", "vulture_whitelist.py")
LONG_REASON = "Over 400 lines because"


def source_files() -> list[Path]:
    return sorted(path for app in APPS for path in (ROOT / app).rglob("*.py")
                  if "tests" not in path.parts and "migrations" not in path.parts)


def imports_inside_functions(path: Path) -> list[str]:
    """First-party imports made inside a function, except in AppConfig.ready (Django's place for them)."""
    found = []
    for function in ast.walk(ast.parse(path.read_text())):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) or function.name == "ready":
            continue
        for node in ast.walk(function):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name.split(".")[0] in APPS for name in names):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} in {function.name}()")
    return found


def test_the_import_contracts_hold():
    done = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]


def test_no_import_hides_inside_a_function():
    offenders = [entry for path in source_files() for entry in imports_inside_functions(path)]
    assert offenders == []


def test_long_modules_say_why():
    unexplained = []
    for path in source_files():
        lines = path.read_text().count("\n")
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        if lines > MAX_LINES and LONG_REASON not in docstring:
            unexplained.append(f"{path.relative_to(ROOT)} ({lines} lines)")
    assert unexplained == []


def modules_of_tests(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("test_*.py"))


def test_no_test_module_imports_another():
    """What two test modules share lives in tests/support.py or the root conftest.py, so each runs alone and in
    any order, and moving one never breaks another."""
    offenders = []
    for path in (path for folder in ("tests", *APPS) for path in modules_of_tests(folder)):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} imports {name}" for name in names
                          if name.rsplit(".", 1)[-1].startswith("test_") or name.endswith(".conftest")]
    assert offenders == []


@pytest.mark.mypy
def test_mypy_is_clean():
    """The mypy check: every app with the Django and DRF stubs, lib/ and agent/core strictly (mypy.ini)."""
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]


def test_no_dead_code():
    """vulture: nothing defined and never used, but what vulture_whitelist.py names with its reason."""
    done = subprocess.run([sys.executable, "-m", "vulture", *VULTURE], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
