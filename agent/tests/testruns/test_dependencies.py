"""setup_command: installed once from the BASE commit's manifests, with the network; never the model's code."""
import subprocess

import pytest

from agent.testruns.sandbox import SandboxPolicy
from agent.worker.runner import run_ticket
from tests.fake_ollama import FakeOllama
from tests.support import make_remote_repo
from tickets import services

pytestmark = pytest.mark.django_db(transaction=True)

SETUP = "mkdir -p deps_out && cp requirements.txt deps_out/ && date +%s%N > deps_out/stamp && sh install.sh"
TESTS = """from pathlib import Path


def test_dependency_is_installed():
    assert Path("deps_out/requirements.txt").read_text() == "left-pad==1.0\\n"
"""


@pytest.fixture
def project(tmp_path, settings):
    settings.FACTORY_DATA_DIR = tmp_path / "data"
    remote = make_remote_repo(tmp_path, {"requirements.txt": "left-pad==1.0\n", "install.sh": "echo base > deps_out/by\n",
                                         "tests/test_deps.py": TESTS, "app.py": "X = 1\n"})
    return services.create_project(name="deps", repo_url=str(remote), test_command="python -m pytest -q",
                                   setup_command=SETUP)


def ticket_for(project, files=("app.py",), tipo="feature"):
    ticket, _ = services.create_ticket(actor=None, project=project, fields={
        "titulo": "Change X", "descripcion": "Set X to 2.", "archivos_modificar": list(files), "tipo": tipo})
    return ticket


def test_setup_runs_on_the_base_commit_once_and_tests_see_it_read_only(project, settings):
    hostile = ("app.py\n```python\nX = 2\n```\n\nrequirements.txt\n```\nevil-package==6.6.6\n```\n\n"
               "install.sh\n```sh\necho model > deps_out/by\n```\n\ntests/test_write.py\n```python\n"
               "from pathlib import Path\n\n\ndef test_cannot_touch_installed_dependencies():\n"
               "    try:\n        Path('deps_out/by').write_text('model')\n    except OSError:\n        pass\n"
               "    assert Path('deps_out/by').read_text() == 'base\\n'\n```\n")
    with FakeOllama(answers=[hostile, "app.py\n```python\nX = 3\n```\n"]) as fake:
        settings.OLLAMA_HOST = fake.url
        # Its test guards the installed dependencies and passes on the base too: a "test" ticket, need not bite.
        first = run_ticket(str(ticket_for(project, files=("app.py", "requirements.txt", "install.sh"), tipo="test").pk))
        second = run_ticket(str(ticket_for(project).pk))
    assert first.estado == "completed", (first.error_mensaje, first.tests_resultado)
    assert second.estado == "completed", (second.error_mensaje, second.tests_resultado)
    # The model's requirements.txt and install.sh never ran: the tests saw the base's installation.
    assert first.tests_resultado["passed"] == 2
    assert first.codigo_generado["dependency_manifests_changed"] == ["requirements.txt"]
    assert "dependency_manifests_changed" not in second.codigo_generado
    caches = list((settings.FACTORY_DATA_DIR / "deps" / "deps").glob("*/ready.json"))
    assert len(caches) == 1  # built once, reused by the second ticket on the same base
    installed = caches[0].parent / "tree" / "deps_out"
    assert (installed / "by").read_text() == "base\n"
    assert (installed / "requirements.txt").read_text() == "left-pad==1.0\n"


def test_a_failing_setup_fails_the_ticket_at_once_without_asking_the_model(project, settings):
    project.setup_command = "echo 'npm ERR! missing lockfile' >&2; exit 3"
    project.save()
    with FakeOllama(answers=["app.py\n```python\nX = 2\n```\n"]) as fake:
        settings.OLLAMA_HOST = fake.url
        done = run_ticket(str(ticket_for(project).pk))
    assert done.estado == "failed"
    assert done.error_mensaje.startswith("Fix the project: setup_command")
    assert "exit 3" in done.error_mensaje and "missing lockfile" in done.error_mensaje
    assert fake.requests == [] and done.intentos == 0


@pytest.mark.skipif(not SandboxPolicy("on").bwrap_available(), reason="bubblewrap cannot sandbox here")
def test_setup_has_the_network_namespace_but_tests_do_not(project, settings):
    probe = ("python -c \"import socket; s = socket.socket(); s.settimeout(1); "
             "print('lo', s.connect_ex(('127.0.0.1', 9)))\"")
    project.setup_command = f"mkdir -p deps_out && {probe} > deps_out/net && cp requirements.txt deps_out/"
    project.test_command = f"cat deps_out/net; {probe}; python -m pytest -q"
    project.save()
    with FakeOllama(answers=["app.py\n```python\nX = 2\n```\n"]) as fake:
        settings.OLLAMA_HOST = fake.url
        done = run_ticket(str(ticket_for(project).pk))
    assert done.estado == "completed", done.tests_resultado
    output = done.tests_resultado["output_tail"]
    setup_line, test_line = [line for line in output.splitlines() if line.startswith("lo ")][:2]
    assert setup_line == "lo 111"  # the host's loopback: connection refused by the host
    assert test_line in ("lo 111", "lo 101")  # a loopback of its own, nothing listening


def test_the_setup_never_sees_the_clone(project, settings):
    repo_config = settings.FACTORY_DATA_DIR / "repos" / "deps.git" / "config"
    project.setup_command = f"mkdir -p deps_out && cp requirements.txt deps_out/ && (cat {repo_config} || true) " \
                            "> deps_out/config 2>&1"
    project.test_command = "cat deps_out/config; python -m pytest -q"
    project.save()
    with FakeOllama(answers=["app.py\n```python\nX = 2\n```\n"]) as fake:
        settings.OLLAMA_HOST = fake.url
        done = run_ticket(str(ticket_for(project).pk))
    assert done.estado == "completed", done.tests_resultado
    assert "[remote" not in done.tests_resultado["output_tail"]
    assert subprocess.run(["git", "--version"], capture_output=True).returncode == 0
