"""Helpers the tests share (users, API clients, real git remotes, the founding document's ticket, the scripted
model's answers, a completed ticket on a real remote, ports and databases for servers started as processes).

Plain functions and constants; the fixtures built on them live in the repository's root conftest.py, so every
test package (tests/, agent/tests, memory/tests ...) sees the same ones. A test module never imports another
test module: what two of them share comes from here.
"""
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tickets import services
from tickets.models import Ticket, TicketAttempt
from tickets.roles import grant_role

# The repository's root, for the commands and files the tests use wherever they live.
ROOT = Path(__file__).resolve().parent.parent

SEED_TICKET = {
    "titulo": "Agregar GET /api/contabilidad/facturas/:id/pdf",
    "tipo": "feature",
    "prioridad": 2,
    "descripcion": "Endpoint que genera PDF de factura usando pdfkit...",
    "archivos_modificar": ["backend/app/modules/contabilidad/controllers/facturas.controller.js"],
    "archivos_referencia": ["backend/app/modules/pos/controllers/ventas.controller.js"],
    "patrones_obligatorios": ["Usar RLSContextManager.query()", "Envolver en asyncHandler"],
    "contexto_cipher": "// Código relevante pre-cargado...",
    "tests_requeridos": ["200 con PDF válido", "404 si no existe", "403 si otro tenant"],
}


# A tiny real project for whole-flow tests: a calc module with one passing test.
CALC = "def add(a, b):\n    return a + b\n"
CALC_TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def make_user(username: str, *, role: str | None = None, staff: bool = False):
    user = get_user_model().objects.create_user(username=username, password="pw-" + username, is_staff=staff)
    if role:
        grant_role(user, role)
    return user


def client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def staff_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# Real git repositories -------------------------------------------------------------------------------


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def make_remote_repo(root: Path, files: dict[str, str], *, branch: str = "main") -> Path:
    """A bare 'remote' repository holding one commit with the given files."""
    work = root / "seed-work"
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", branch)
    git(work, "config", "user.email", "seed@example.com")
    git(work, "config", "user.name", "Seed")
    write_files(work, files)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "initial")
    remote = root / "remote.git"
    git(root, "clone", "-q", "--bare", str(work), str(remote))
    return remote


def local_repository(root: Path, files: dict[str, str]) -> tuple[Path, str]:
    """A working repository holding one commit with the given files, and that commit: the clone a test run of
    the agent's test-run layer works on (no database, no remote)."""
    root.mkdir(parents=True, exist_ok=True)
    write_files(root, files)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    return root, git(root, "rev-parse", "HEAD").strip()


def remote_head(remote: Path, branch: str = "main") -> str:
    return git(remote, "rev-parse", branch).strip()


def merge_commits(remote: Path) -> list[str]:
    return git(remote, "rev-list", "--merges", "main").split()


def is_ancestor(remote: Path, commit: str, of: str = "main") -> bool:
    return subprocess.run(["git", "merge-base", "--is-ancestor", commit, of], cwd=remote).returncode == 0


# The scripted model's answers on the calc project (calc_project) --------------------------------------

RIGHT = """Here is the change.

calc.py
```python
def add(a, b):
    return a + b


def multiply(a, b):
    return a * b
```

tests/test_multiply.py
```python
from calc import multiply


def test_multiply():
    assert multiply(3, 4) == 12
```
"""
WRONG = RIGHT.replace("return a * b", "return a + b")


def make_ticket(project) -> Ticket:
    """The ticket RIGHT answers: multiply() in calc.py, with its test."""
    ticket, _ = services.create_ticket(actor=None, project=project, fields={
        "titulo": "Add multiply to calc",
        "descripcion": "Add multiply(a, b) returning the product.",
        "archivos_modificar": ["calc.py", "tests/test_multiply.py"],
        "archivos_referencia": ["tests/test_calc.py"],
        "patrones_obligatorios": ["Plain functions, no classes"],
        "tests_requeridos": ["multiply(3, 4) == 12"],
    })
    return ticket


# A completed ticket, as the agent leaves it, on the repo_project fixture's remote -------------------------

APP = "def greet(name):\n    return 'Hello ' + name\n\n\nVALUE = 1\n"
TESTS_OK = {
    "command": "python -m pytest -q", "exit_code": 0, "passed": 7, "failed": 0, "errors": 0, "skipped": 1,
    "total": 8, "duration_s": 2.5, "timed_out": False, "success": True, "framework": "pytest", "failures": [],
    "output_tail": "7 passed, 1 skipped in 2.50s",
}
VERDICT_TESTS = {**TESTS_OK, "verdict": {
    "green": True, "basis": "baseline", "reason": "no test broke (1 already failing on main, 1 flaky)",
    "base_commit": "0123456789abcdef", "base_branch": "main", "fixed": ["tests/test_a.py::test_fixed"],
    "broken": [], "still_failing": ["tests/test_a.py::test_parse_duration"], "new": ["tests/test_b.py::test_new"],
    "new_failing": [], "flaky": ["tests/test_c.py::test_sometimes"], "removed": [], "ticket_tests": []},
    "scoped": {"command": "python -m pytest -q tests/test_b.py", "seconds": 1.5, "tests": 3, "conclusive": True},
    "full_seconds": 4.0}


def clone(remote: Path, where: Path) -> Path:
    git(remote.parent, "clone", "-q", str(remote), str(where))
    git(where, "config", "user.email", "dev@example.com")
    git(where, "config", "user.name", "Dev")
    return where


def commit_files(work: Path, files: dict[str, str], message: str) -> str:
    write_files(work, files)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message)
    return git(work, "rev-parse", "HEAD").strip()


def completed_ticket(project, remote: Path, files: dict[str, str], *, tests: dict | None = None,
                     titulo: str = "Greet politely") -> Ticket:
    """A ticket as the agent leaves it: a pushed branch, its diff and test result, state completed."""
    ticket, _ = services.create_ticket(actor=None, project=project, fields={
        "titulo": titulo, "descripcion": "Make greet() polite.", "archivos_modificar": sorted(files),
        "patrones_obligatorios": ["Keep functions pure"], "tests_requeridos": ["greet('Ana') is polite"],
    })
    branch = f"factory/{ticket.short_id}-greet"
    work = clone(remote, remote.parent / f"work-{ticket.short_id}")
    git(work, "checkout", "-q", "-b", branch)
    base = git(work, "rev-parse", "HEAD").strip()
    head = commit_files(work, files, titulo)
    git(work, "push", "-q", "origin", branch)
    stats = []
    for line in git(work, "diff", "--numstat", base, head).splitlines():
        added, removed, path = line.split("\t")
        stats.append({"path": path, "added": int(added), "removed": int(removed), "binary": False})
    code = {"diff": git(work, "diff", "--find-renames", base, head), "files": stats, "base": base, "head": head}
    services.transition(ticket=ticket, to="in_progress", actor="agent")
    TicketAttempt.objects.create(ticket=ticket, number=1, outcome=TicketAttempt.Outcome.PASSED, phase="finished",
                                 response="app.py\n```python\n...\n```", prompt="Implement it.",
                                 edit_results={"applied": sorted(files), "failed": []}, test_result=tests or TESTS_OK,
                                 prompt_tokens=1200, eval_tokens=340, model_seconds=12.5, test_seconds=2.5)
    return services.transition(ticket=ticket, to="completed", actor="agent", fields={
        "branch_name": branch, "codigo_generado": code, "tests_resultado": tests or TESTS_OK})


# The shared memory --------------------------------------------------------------------------------------

LESSON = {"text": "Tenant queries must go through RLSContextManager.query(), never the raw pool.",
          "kind": "pattern", "source": "architect", "tags": ["rls", "db"]}


# Servers started as processes -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(db: dict) -> str:
    """The URL of a Django DATABASES entry, for a process started with DATABASE_URL."""
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


# npm and its registry -------------------------------------------------------------------------------------

REQUIRE_NPM = "FACTORY_REQUIRE_NPM"
NPM_PING_TIMEOUT_S = 60


def npm_problem() -> str:
    """Why a project's dependencies cannot be installed with npm here, or "" when they can."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (apt-get install nodejs npm)"
    try:
        ping = subprocess.run(["npm", "ping", "--fetch-retries=1", "--fetch-retry-mintimeout=2000",
                               "--fetch-retry-maxtimeout=5000"], capture_output=True, text=True,
                              timeout=NPM_PING_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"the npm registry is unreachable: `npm ping` got no answer in {NPM_PING_TIMEOUT_S} s"
    if ping.returncode != 0:
        lines = [line.strip() for line in (ping.stderr + ping.stdout).splitlines() if line.strip()]
        reason = next((line for line in lines if "Error" in line), lines[0] if lines else "no output")
        return f"the npm registry is unreachable: `npm ping` failed ({reason})"
    return ""


def npm_or_skip(need: str) -> None:
    """Skips a test that needs npm and its registry (`need` says for what) when they are missing; fails instead
    with FACTORY_REQUIRE_NPM=1 (as in CI, see .ci/run), so a CI machine never passes it by skipping."""
    problem = npm_problem()
    if not problem:
        return
    message = f"{need}, but {problem}"
    if os.environ.get(REQUIRE_NPM) == "1":
        pytest.fail(f"{message} ({REQUIRE_NPM}=1: this machine must be able to run it)")
    pytest.skip(message)
