"""`make demo`: a small local repository, a project for it and a first ticket, so a newcomer sees a whole
ticket go through on one machine without preparing a repository of their own."""
import os
import subprocess
import tempfile
from pathlib import Path

from django.db import transaction

from lib.gitrepo import COMMITTER
from tickets import services
from tickets.models import Project, Ticket

DEMO_PROJECT = "demo-calc"
FILES = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
    "README.md": "# calc\n\nA tiny calculator: the AI Software Factory's demo project.\n",
}
TICKET = {
    "titulo": "Add subtract(a, b) to calc",
    "descripcion": "Add a function subtract(a, b) to calc.py that returns a - b, and a test for it in "
                   "tests/test_calc.py beside test_add.",
    "archivos_modificar": ["calc.py", "tests/test_calc.py"],
    "tests_requeridos": ["tests/test_calc.py::test_subtract"],
    "patrones_obligatorios": ["Plain functions, no classes"],
}


def demo_repository(data_dir: Path) -> Path:
    """A bare repository under data_dir/demo with the calc project on `main` (made once, then reused)."""
    bare = data_dir / "demo" / "calc.git"
    if (bare / "HEAD").is_file():
        return bare
    bare.parent.mkdir(parents=True, exist_ok=True)
    git(bare.parent, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    with tempfile.TemporaryDirectory(prefix="factory-demo-") as scratch:
        tree = Path(scratch)
        git(tree, "init", "--quiet", "--initial-branch=main")
        for name, text in FILES.items():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            (tree / name).write_text(text)
        git(tree, "add", "--all")
        git(tree, "commit", "--quiet", "-m", "calc: add")
        git(tree, "push", "--quiet", str(bare), "main")
    return bare


@transaction.atomic
def create_demo(*, data_dir: Path) -> tuple[Project, Ticket]:
    """The demo project (created once) and a new ticket on it, queued for the agent."""
    repository = demo_repository(data_dir)
    project = Project.objects.filter(name=DEMO_PROJECT).first() or services.create_project(
        name=DEMO_PROJECT, repo_url=str(repository), test_command="python -m pytest -q")
    ticket, _ = services.create_ticket(actor=None, project=project, fields=dict(TICKET))
    return project, ticket


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **COMMITTER})
