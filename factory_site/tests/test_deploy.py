"""Deployment: `check --deploy` is clean under production settings, HTTPS is one variable away, and the image
installs the runtime only (requirements/runtime.txt), never the test tools."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

RUNTIME = ROOT / "requirements" / "runtime.txt"
# pytest itself is in the runtime: the projects' `python -m pytest` runs on the factory's interpreter.
TEST_PACKAGES = {"pytest-django", "pytest-timeout", "pytest-xdist", "pytest-random-order", "playwright",
                 "schemathesis", "hypothesis", "import-linter", "mypy"}


def production(tmp_path: Path, **variables: str) -> dict[str, str]:
    """The environment of a deployed factory: no debug, its own data folder, nothing inherited from the tests."""
    inherited = {name: value for name, value in os.environ.items()
                 if not name.startswith(("DJANGO_", "FACTORY_", "SECURE_"))}
    return inherited | {"DJANGO_DEBUG": "false", "FACTORY_DATA_DIR": str(tmp_path), **variables}


def deploy_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def settings_of(env: dict[str, str], *names: str) -> list[str]:
    code = f"import factory_site.settings as s; print(*(repr(getattr(s, n)) for n in {list(names)!r}), sep='|')"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env | {"PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split("|")


@pytest.mark.parametrize("https", ["", "1"])
def test_check_deploy_has_nothing_to_say_under_production_settings(tmp_path, https):
    result = deploy_check(production(tmp_path, FACTORY_HTTPS=https))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output
    assert not re.search(r"security\.W\d+", output), output


def test_plain_http_by_default_so_make_run_works_on_localhost(tmp_path):
    assert settings_of(production(tmp_path), "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT",
                       "SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER") == ["False", "False", "False", "0", "None"]


def test_factory_https_turns_on_secure_cookies_the_redirect_and_hsts(tmp_path):
    env = production(tmp_path, FACTORY_HTTPS="1", FACTORY_PROXY_SSL_HEADER="X-Forwarded-Proto")
    assert settings_of(env, "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT",
                       "SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER", "SILENCED_SYSTEM_CHECKS") == [
        "True", "True", "True", "31536000", "('HTTP_X_FORWARDED_PROTO', 'https')", "[]"]
    # A proxy that redirects by itself, a shorter HSTS: each can be set, and check --deploy then says so.
    relaxed = env | {"FACTORY_SSL_REDIRECT": "0", "FACTORY_HSTS_SECONDS": "0"}
    assert settings_of(relaxed, "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS") == ["False", "0"]
    warned = deploy_check(relaxed)
    assert "security.W004" in warned.stderr and "security.W008" in warned.stderr, warned.stderr


@pytest.mark.parametrize("variable, value, says", [
    ("FACTORY_HTTPS", "sometimes", "is not a boolean"),
    ("FACTORY_HSTS_SECONDS", "-1", "below the minimum of 0"),
    ("FACTORY_PROXY_SSL_HEADER", "X-Forwarded-Proto: https", "must be a header name"),
])
def test_a_deploy_setting_that_cannot_be_used_stops_the_process_naming_it(tmp_path, variable, value, says):
    env = production(tmp_path, **{variable: value}) | {"PYTHONPATH": str(ROOT)}
    started = subprocess.run([sys.executable, "-c", "import factory_site.settings"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
    assert started.returncode != 0
    assert variable in started.stderr and says in started.stderr, started.stderr


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[\[=<>!~; ]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def test_the_runtime_requirements_list_no_test_package():
    runtime = requirement_names(RUNTIME)
    assert {"django", "waitress", "django-q2"} <= runtime
    assert not runtime & TEST_PACKAGES, runtime & TEST_PACKAGES
    assert all(re.search(r"==\S", line) for line in RUNTIME.read_text().splitlines()
               if line.strip() and not line.startswith("#")), "every runtime package is pinned"


def test_requirements_txt_installs_the_runtime_and_the_test_tools():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    assert "-r requirements/runtime.txt" in lines
    assert {"pytest-django", "pytest-xdist", "playwright", "schemathesis"} <= requirement_names(
        ROOT / "requirements.txt")


def test_the_image_installs_the_runtime_only():
    dockerfile = (ROOT / "Dockerfile").read_text()
    installs = re.findall(r"^RUN pip install[^\n]*", dockerfile, re.MULTILINE)
    assert installs and all(line.endswith("-r requirements/runtime.txt") for line in installs), installs
