"""Real file sizes through the real worker: an 11,000-line module (tests/bigmodule.py) is sent as an
outline plus windows within num_ctx 32768, a SEARCH/REPLACE deep in it completes the ticket, a
whole-file answer for it is refused and fed back, and a ticket that can never fit fails before any
worktree, setup or baseline run."""
import subprocess
from pathlib import Path

import pytest

from agent.core.prompting import count_tokens
from agent.models import TestBaseline
from agent.worker.runner import run_ticket
from tests.bigmodule import big_module, function
from tests.support import make_remote_repo
from tickets import services

pytestmark = pytest.mark.django_db(transaction=True)

TARGET = 377  # scale_value_0377 starts at line 9,9xx of 11,058
TESTS = ("from tables import scale_value_0377\n\n\n"
         "def test_scale_value_0377_adds_one():\n    assert scale_value_0377(2, 3) == 7\n")
FIXED = function(TARGET).replace("result = operator.mul(value, factor)\n",
                                 "result = operator.mul(value, factor) + 1\n")
DIFF_ANSWER = f"""tables.py
```python
<<<<<<< SEARCH
{function(TARGET).strip(chr(10))}
=======
{FIXED.strip(chr(10))}
>>>>>>> REPLACE
```
"""


@pytest.fixture
def big_project(tmp_path, settings):
    settings.FACTORY_DATA_DIR = tmp_path / "data"
    settings.FACTORY_NUM_CTX = 32768
    remote = make_remote_repo(tmp_path, {"tables.py": big_module(), "tests/test_tables.py": TESTS,
                                         "tests/__init__.py": "", "conftest.py": ""})
    project = services.create_project(name="tables", repo_url=str(remote), test_command="python -m pytest -q")
    return project, remote


def remote_file(remote: Path, branch: str, path: str) -> str:
    return subprocess.run(["git", "show", f"{branch}:{path}"], cwd=remote, capture_output=True, text=True,
                          check=True).stdout


def make_ticket(project):
    ticket, _ = services.create_ticket(actor=None, project=project, fields={
        "titulo": "scale_value_0377 adds one after scaling",
        "descripcion": "`scale_value_0377` in tables.py must add 1 to the scaled value.",
        "archivos_modificar": ["tables.py"],
        "tests_requeridos": ["tests/test_tables.py::test_scale_value_0377_adds_one"],
    })
    return ticket


def target_line() -> int:
    text = big_module()
    return text[:text.index(f"def scale_value_{TARGET:04d}(")].count("\n") + 1


def test_an_11k_line_module_completes_at_32k_with_a_search_replace_deep_in_it(big_project, fake_model):
    project, remote = big_project
    assert big_module().count("\n") > 11000 and count_tokens(big_module()) > 90000
    fake_model.push(DIFF_ANSWER)
    ticket = run_ticket(str(make_ticket(project).pk))
    assert ticket.estado == "completed", ticket.error_mensaje
    assert ticket.intentos == 1
    assert "operator.mul(value, factor) + 1" in remote_file(remote, ticket.branch_name, "tables.py")
    request = fake_model.requests[0]
    assert request["options"]["num_ctx"] == 32768
    system, user = request["messages"][0]["content"], request["messages"][1]["content"]
    assert count_tokens(system) + count_tokens(user) < 32768
    assert len(user) < len(big_module()) // 3  # not the whole file
    assert function(TARGET).strip("\n") in user  # the window around the target holds the whole function
    windows = [tuple(map(int, line.split()[1].split("-"))) for line in user.splitlines()
               if line.startswith("Lines ") and line.endswith(" of tables.py:")]
    assert any(first < target_line() < last for first, last in windows), windows
    assert "SEARCH/REPLACE" in user and "never answer with the whole file" in user
    attempt = ticket.attempts.get()
    assert any("Sent tables.py as an outline" in note for note in attempt.prompt_notes)


def test_a_whole_file_answer_for_a_windowed_file_is_refused_with_the_reason(big_project, fake_model):
    project, remote = big_project
    whole = "tables.py\n```python\n" + big_module().replace(function(TARGET), FIXED) + "```\n"
    fake_model.push(whole, DIFF_ANSWER)
    ticket = run_ticket(str(make_ticket(project).pk))
    assert ticket.estado == "completed", ticket.error_mensaje
    assert ticket.intentos == 2
    first = ticket.attempts.order_by("number").first()
    assert first.outcome == "apply_failed" and "shown only as an outline" in first.feedback
    retry = fake_model.requests[1]["messages"][1]["content"]
    assert "shown only as an outline and windows" in retry


def test_a_ticket_that_can_never_fit_fails_before_any_worktree_or_baseline(big_project, fake_model, settings):
    project, _ = big_project
    settings.FACTORY_NUM_CTX = 4096
    ticket = run_ticket(str(make_ticket(project).pk))
    assert ticket.estado == "failed"
    assert ticket.error_mensaje.startswith("Fix the ticket:")
    assert "num_ctx=4096" in ticket.error_mensaje and "tables.py as outline and minimal windows" in ticket.error_mensaje
    assert fake_model.requests == []
    assert not TestBaseline.objects.exists()
    worktrees = Path(settings.FACTORY_DATA_DIR) / "worktrees" / "tables"
    assert not worktrees.exists() or not any(worktrees.iterdir())
