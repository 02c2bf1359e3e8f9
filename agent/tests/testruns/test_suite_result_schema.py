"""lib.testschema says what a test result holds; these runs check it against what the real code produces (a
command run in the sandbox, a whole ticket judged against its base), so the types mypy checks are the truth."""
import types
import typing

import pytest

from agent.testruns.command import run_command
from agent.testruns.sandbox import SandboxPolicy
from agent.worker.runner import run_ticket
from lib.testschema import Failure, ScopedRun, SuiteResult, VerdictRecord
from tests.fake_ollama import FakeOllama
from tests.support import RIGHT
from tickets import services


def assert_fits(value: dict, schema: type) -> None:
    """Every key the value has is declared, with its declared type's outer kind; every required key is there."""
    hints = typing.get_type_hints(schema)
    assert set(value) <= set(hints), set(value) - set(hints)
    assert schema.__required_keys__ <= set(value), schema.__required_keys__ - set(value)
    for key, item in value.items():
        hint = hints[key]  # NotRequired[...] already unwrapped by get_type_hints
        allowed = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
        kinds = tuple(typing.get_origin(kind) or (dict if typing.is_typeddict(kind) else kind) for kind in allowed)
        kinds = tuple(type(None) if kind is None else kind for kind in kinds)
        kinds += (int,) if float in kinds else ()  # a float as JSON stores 600.0: 600, as a type checker allows
        assert isinstance(item, kinds), (key, item, kinds)


def test_a_command_run_fits_the_schema(tmp_path):
    (tmp_path / "test_one.py").write_text("def test_ok():\n    assert True\n\n\ndef test_no():\n    assert 1 == 2\n")
    result = run_command(command="python -m pytest -q", cwd=tmp_path, timeout=60, sandbox=SandboxPolicy("on"))
    assert_fits(result, SuiteResult)
    assert result["passed"] == 1 and result["failed"] == 1 and not result["success"]
    for failure in result["failures"]:
        assert_fits(failure, Failure)


@pytest.mark.django_db(transaction=True)
def test_a_judged_ticket_result_fits_the_schema(calc_project, settings):
    project, _ = calc_project
    ticket, _ = services.create_ticket(actor=None, project=project, fields={
        "titulo": "Add multiply", "descripcion": "multiply(a, b) returns the product.",
        "archivos_modificar": ["calc.py", "tests/test_multiply.py"]})
    with FakeOllama(answers=[RIGHT]) as fake:
        settings.OLLAMA_HOST = fake.url
        done = run_ticket(str(ticket.pk))
    assert done.estado == "completed", done.error_mensaje
    stored = done.tests_resultado
    assert_fits(stored, SuiteResult)
    assert_fits(stored["verdict"], VerdictRecord)
    if "scoped" in stored:
        assert_fits(stored["scoped"], ScopedRun)
    assert_fits(done.attempts.get().test_result, SuiteResult)
