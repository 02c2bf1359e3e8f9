"""Helpers the tests share (users, API clients, real git remotes, the founding document's ticket).

Plain functions and constants; the fixtures built on them live in the repository's root conftest.py, so every
test package (tests/, agent/tests, memory/tests ...) sees the same ones.
"""
import subprocess
from pathlib import Path

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tickets.roles import grant_role

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


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_remote_repo(root: Path, files: dict[str, str], *, branch: str = "main") -> Path:
    """A bare 'remote' repository holding one commit with the given files."""
    work = root / "seed-work"
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", branch)
    git(work, "config", "user.email", "seed@example.com")
    git(work, "config", "user.name", "Seed")
    for name, text in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "initial")
    remote = root / "remote.git"
    git(root, "clone", "-q", "--bare", str(work), str(remote))
    return remote
