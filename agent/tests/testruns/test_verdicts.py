"""Verdicts that hold on real repositories, through the real agent run, a real git remote and the scripted Ollama.

A ticket answers for what it breaks and what it was asked to make pass, never for
what was already red on the base branch.
"""
import pytest

from agent.models import TestBaseline
from agent.worker.runner import run_ticket
from metrics.selectors import factory_metrics
from tests.fake_ollama import FakeOllama
from tests.support import make_remote_repo
from tickets import services

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = '''def slugify(text):
    raise NotImplementedError("another ticket's job")


def parse_duration(text):
    raise NotImplementedError("another ticket's job")
'''
TEXT_TESTS = '''from text import parse_duration, slugify


def test_slugify():
    assert slugify("Hola Mundo") == "hola-mundo"


def test_parse_duration():
    assert parse_duration("2m") == 120
'''
SLUGIFY = '''text.py
```python
def slugify(text):
    return "-".join(text.lower().split())


def parse_duration(text):
    raise NotImplementedError("another ticket's job")
```
'''
FLAKY_TEST = '''from pathlib import Path


def test_sometimes():
    if "another ticket's job" in Path(__file__).parent.parent.joinpath("text.py").read_text().split("def parse")[0]:
        return  # the base commit's run (slugify still a stub): fine there
    counter = Path(__file__).with_name(".flaky-count")
    runs = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(runs))
    assert runs > 1, "fails on its first run in a worktree, passes when run again"
'''


def make_project(tmp_path, settings, files: dict[str, str], **fields):
    settings.FACTORY_DATA_DIR = tmp_path / "data"
    settings.FACTORY_SCOPED_RUN_MIN_S = 0  # these suites take well under a second; the scoped run is under test too
    remote = make_remote_repo(tmp_path, {"conftest.py": "", ".gitignore": ".flaky-count\n", **files})
    return services.create_project(name="text", repo_url=str(remote),
                                   **{"test_command": "python -m pytest -q", **fields})


def ticket_for(project, **fields):
    ticket, _ = services.create_ticket(actor=None, project=project, fields={
        "titulo": "Implement slugify", "descripcion": "slugify('Hola Mundo') == 'hola-mundo'",
        "archivos_modificar": ["text.py"], **fields})
    return ticket


def run_with(settings, ticket, *answers):
    with FakeOllama(answers=list(answers)) as fake:
        settings.OLLAMA_HOST = fake.url
        return run_ticket(str(ticket.pk)), fake


def test_a_red_test_on_main_that_is_not_the_tickets_does_not_block_it(tmp_path, settings):
    project = make_project(tmp_path, settings, {"text.py": TEXT, "tests/test_text.py": TEXT_TESTS})
    ticket = ticket_for(project, tests_requeridos=["tests/test_text.py::test_slugify"])
    done, fake = run_with(settings, ticket, SLUGIFY)
    assert done.estado == "completed", (done.error_mensaje, done.tests_resultado)
    assert done.intentos == 1 and len(fake.requests) == 1
    verdict = done.tests_resultado["verdict"]
    assert verdict["basis"] == "baseline" and verdict["base_branch"] == "main"
    assert verdict["still_failing"] == ["tests/test_text.py::test_parse_duration"]
    assert verdict["fixed"] == ["tests/test_text.py::test_slugify"]
    assert "1 already failing on main" in verdict["reason"]
    assert done.tests_resultado["scoped"]["tests"] == 2 and done.tests_resultado["full_seconds"] is not None
    baseline = TestBaseline.objects.get(project=project)
    assert baseline.commit == done.codigo_generado["base"] and baseline.report == "junit"
    assert baseline.outcomes == {"tests/test_text.py::test_slugify": "failed",
                                 "tests/test_text.py::test_parse_duration": "failed"}


def test_breaking_a_test_that_passed_on_main_fails_the_attempt_and_only_that_is_fed_back(tmp_path, settings):
    tests = TEXT_TESTS + "\n\ndef test_upper_still_works():\n    assert 'a'.upper() == 'A'\n"
    project = make_project(tmp_path, settings, {"text.py": TEXT, "tests/test_text.py": tests})
    breaking = SLUGIFY + "\nconftest.py\n```python\nimport builtins\n\nstr_upper = str.upper\n\n\ndef pytest_runtest_setup(item):\n    if 'upper' in item.name:\n        raise AssertionError('upper broke')\n```\n"
    repaired = SLUGIFY + "\nconftest.py\n```python\n# No hooks.\n```\n"
    done, fake = run_with(settings, ticket_for(project, archivos_modificar=["text.py", "conftest.py"]), breaking,
                          repaired)
    assert done.estado == "completed" and done.intentos == 2
    first = done.attempts.order_by("number").first()
    assert first.outcome == "tests_failed"
    assert first.test_result["verdict"]["broken"] == ["tests/test_text.py::test_upper_still_works"]
    retry_prompt = fake.requests[1]["messages"][1]["content"]
    assert "test_upper_still_works" in retry_prompt and "upper broke" in retry_prompt
    assert "test_parse_duration" not in retry_prompt.split("previous attempt failed")[1]
    assert "already fail on main" in retry_prompt


def test_a_test_that_fails_once_and_passes_on_its_rerun_is_flaky_and_does_not_block(tmp_path, settings):
    project = make_project(tmp_path, settings, {"text.py": TEXT, "tests/test_flaky.py": FLAKY_TEST})
    done, _ = run_with(settings, ticket_for(project), SLUGIFY)
    assert done.estado == "completed" and done.intentos == 1, done.tests_resultado
    verdict = done.tests_resultado["verdict"]
    assert verdict["flaky"] == ["tests/test_flaky.py::test_sometimes"] and verdict["broken"] == []
    assert "1 flaky" in verdict["reason"]
    assert factory_metrics()["flaky"] == {"tickets": 1, "tests": 1}  # counted on the metrics page


def test_a_ticket_asking_for_tests_needs_at_least_one_of_its_own(tmp_path, settings):
    project = make_project(tmp_path, settings, {"text.py": TEXT, "tests/test_other.py": "def test_x():\n    pass\n"})
    ticket = ticket_for(project, tests_requeridos=["slugify('Hola Mundo') == 'hola-mundo'"])
    with_test = SLUGIFY + ("\ntests/test_slugify.py\n```python\nfrom text import slugify\n\n\n"
                           "def test_slugify():\n    assert slugify('Hola Mundo') == 'hola-mundo'\n```\n")
    done, fake = run_with(settings, ticket, SLUGIFY, with_test)
    assert done.estado == "completed" and done.intentos == 2
    first = done.attempts.order_by("number").first()
    assert "no test it added or changed ran" in first.test_result["verdict"]["reason"]
    assert done.tests_resultado["verdict"]["ticket_tests"] == ["tests/test_slugify.py::test_slugify"]


def test_a_hanging_answer_is_told_the_code_hangs_and_the_limit(tmp_path, settings):
    settings.FACTORY_TEST_TIMEOUT = 15  # the base run must fit, even on a busy machine
    settings.FACTORY_MAX_ATTEMPTS = 1
    project = make_project(tmp_path, settings, {"text.py": TEXT, "tests/test_text.py": TEXT_TESTS})
    hanging = SLUGIFY.replace('return "-".join(text.lower().split())', "while True:\n        pass")
    done, _ = run_with(settings, ticket_for(project), hanging)
    assert done.estado == "failed"
    assert "FACTORY_TEST_TIMEOUT=15" in done.error_mensaje and "hangs" in done.error_mensaje
    attempt = done.attempts.get()
    assert attempt.outcome == "timeout" and "the code hangs" in attempt.feedback


def test_a_test_command_that_cannot_run_on_main_fails_at_once_without_the_model(tmp_path, settings):
    project = make_project(tmp_path, settings, {"text.py": TEXT}, test_command="no-such-test-runner --all")
    done, fake = run_with(settings, ticket_for(project), SLUGIFY)
    assert done.estado == "failed" and fake.requests == [] and done.intentos == 0
    assert done.error_mensaje.startswith("Fix the project: the test command `no-such-test-runner --all` cannot run")


def test_a_clone_that_fails_burns_no_model_attempt(tmp_path, settings):
    project = make_project(tmp_path, settings, {"text.py": TEXT})
    project.repo_url = str(tmp_path / "gone.git")
    project.save()
    done, fake = run_with(settings, ticket_for(project), SLUGIFY)
    assert done.estado == "failed" and fake.requests == [] and done.intentos == 0
    assert done.error_mensaje.startswith("Fix the project: cannot clone")


def test_without_a_per_test_report_the_exit_code_decides_and_says_so(tmp_path, settings):
    project = make_project(tmp_path, settings, {"text.py": TEXT},
                           test_command="python -c \"import text\" && echo '3 passed, 0 failed'")
    done, _ = run_with(settings, ticket_for(project), SLUGIFY)
    assert done.estado == "completed"
    verdict = done.tests_resultado["verdict"]
    assert verdict["basis"] == "exit_code" and "gave no per-test report" in verdict["reason"]


CALC_BASE = "def add(a, b):\n    return a + b\n"
CALC_BASE_TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
SUBTRACT = '''calc.py
```python
def add(a, b):
    return a + b


def subtract(a, b):
    return a - b
```

test_calc.py
```python
from calc import add, subtract


def test_add():
    assert add(2, 3) == 5


def test_subtract():
    assert subtract(5, 3) == 2
```
'''


def subtract_ticket(tmp_path, settings, *, required: list[str], calc: str = CALC_BASE,
                    modify: tuple[str, ...] = ("calc.py",)):
    """The test file is not in archivos_modificar unless `modify` says so: its existing required tests are locked."""
    project = make_project(tmp_path, settings, {"calc.py": calc, "test_calc.py": CALC_BASE_TESTS})
    return ticket_for(project, titulo="Add subtract", descripcion="subtract(a, b) returns a - b.",
                      archivos_modificar=list(modify), tests_requeridos=required)


def test_a_required_test_that_does_not_exist_yet_is_added_to_its_existing_file(tmp_path, settings):
    ticket = subtract_ticket(tmp_path, settings, required=["test_calc.py::test_subtract"])
    done, fake = run_with(settings, ticket, SUBTRACT)
    assert done.estado == "completed" and done.intentos == 1, (done.error_mensaje, done.tests_resultado)
    assert done.tests_resultado["verdict"]["new"] == ["test_calc.py::test_subtract"]
    prompt = fake.requests[0]["messages"][1]["content"]
    assert "These do not exist yet: add each one" in prompt and "- test_calc.py::test_subtract" in prompt
    assert "already exist" not in prompt.split("## Required tests")[1].split("##")[0]


def test_changing_or_removing_an_existing_required_test_is_refused_and_retried(tmp_path, settings):
    ticket = subtract_ticket(tmp_path, settings, required=["test_calc.py::test_add", "test_calc.py::test_subtract"])
    changed = SUBTRACT.replace("assert add(2, 3) == 5", "assert add(2, 3) is not None")
    removed = SUBTRACT.replace("def test_add():\n    assert add(2, 3) == 5\n\n\n", "")
    done, fake = run_with(settings, ticket, changed, removed, SUBTRACT)
    assert done.estado == "completed" and done.intentos == 3, (done.error_mensaje, done.tests_resultado)
    first, second, _ = done.attempts.order_by("number")
    assert first.outcome == second.outcome == "apply_failed"
    assert "must stay exactly as they are (changed: test_add)" in first.feedback
    assert "(removed: test_add)" in second.feedback
    prompts = [request["messages"][1]["content"] for request in fake.requests]
    required = prompts[0].split("## Required tests")[1].split("##")[0]
    assert "already exist and are the contract" in required and "- test_calc.py::test_add" in required
    assert "do not exist yet" in required and "- test_calc.py::test_subtract" in required
    # The refused edit was undone, the rest of the answer kept: the retry shows both.
    assert "assert add(2, 3) == 5" in prompts[1] and "def subtract(a, b)" in prompts[1]
    assert "changed: test_add" in prompts[1]
    assert done.tests_resultado["verdict"]["new"] == ["test_calc.py::test_subtract"]


def test_a_file_whose_required_tests_all_exist_cannot_be_edited_at_all(tmp_path, settings):
    ticket = subtract_ticket(tmp_path, settings, required=["test_calc.py::test_add"],
                             calc="def add(a, b):\n    return a - b\n")
    weakened = "test_calc.py\n```python\nfrom calc import add\n\n\ndef test_add():\n    assert add(2, 3) == -1\n```\n"
    extended = CALC_BASE_TESTS + "\n\ndef test_add_more():\n    assert add(1, 1) == 2\n"
    fixed = f"calc.py\n```python\n{CALC_BASE}```\n"
    done, fake = run_with(settings, ticket, weakened, f"test_calc.py\n```python\n{extended}```\n", fixed)
    assert done.estado == "completed" and done.intentos == 3, (done.error_mensaje, done.tests_resultado)
    first, second, _ = done.attempts.order_by("number")
    for refused in (first, second):
        assert refused.outcome == "apply_failed"
        assert "test_calc.py holds required tests (tests_requeridos) and must not be changed; fix the code " \
               "instead" in refused.feedback
    assert done.tests_resultado["verdict"]["fixed"] == ["test_calc.py::test_add"]
    assert "already exist and are the contract" in fake.requests[0]["messages"][1]["content"]


EVOLVED = SUBTRACT.replace(
    "def test_add():\n    assert add(2, 3) == 5",
    '@pytest.mark.parametrize("a, b, total", [(2, 3, 5), (-1, 1, 0)])\ndef test_add(a, b, total):\n'
    "    assert add(a, b) == total and subtract(total, b) == a").replace("from calc import add, subtract", "import pytest\n\nfrom calc import add, subtract")


def test_a_required_test_whose_file_the_ticket_lists_may_evolve_but_must_still_run_and_is_shown_first(
        tmp_path, settings):
    ticket = subtract_ticket(tmp_path, settings, required=["test_calc.py::test_add", "test_calc.py::test_subtract"],
                             modify=("calc.py", "test_calc.py"))
    removed = SUBTRACT.replace("def test_add():\n    assert add(2, 3) == 5\n\n\n", "")
    done, fake = run_with(settings, ticket, removed, EVOLVED)
    assert done.estado == "completed" and done.intentos == 2, (done.error_mensaje, done.tests_resultado)
    first = done.attempts.order_by("number").first()
    assert first.outcome == "tests_failed" and "test_add" in first.feedback  # changed is fine, gone is not
    required = fake.requests[0]["messages"][1]["content"].split("## Required tests")[1].split("##")[0]
    assert "their file is yours to modify" in required and "- test_calc.py::test_add" in required
    verdict = done.tests_resultado["verdict"]
    assert "test_calc.py::test_add[-1-1-0]" in verdict["new"] and verdict["broken"] == []
    [changed] = done.tests_resultado["required_changed"]
    assert changed["test"] == "test_calc.py::test_add" and changed["path"] == "test_calc.py"
    assert "+@pytest.mark.parametrize" in changed["diff"] and "-def test_add():" in changed["diff"]


SLUG_STUB = '''def slugify(text):
    raise NotImplementedError("this ticket's job")


def parse_duration(text):
    raise NotImplementedError("another ticket's job")
'''
SLUG_TEST = 'from text import slugify\n\n\ndef test_slugify():\n    assert slugify("Hola Mundo") == "hola-mundo"\n'
DURATION_TEST = "from text import parse_duration\n\n\ndef test_parse_duration():\n    assert parse_duration('2m') == 120\n"
WRONG_SLUGIFY = SLUGIFY.replace('return "-".join(text.lower().split())', "return text.lower()")


def slug_project(tmp_path, settings):
    return make_project(tmp_path, settings, {"text.py": SLUG_STUB, "tests/test_slug.py": SLUG_TEST,
                                             "tests/test_duration.py": DURATION_TEST})


def test_a_wrong_answer_that_leaves_the_tickets_own_failing_test_red_is_not_accepted(tmp_path, settings):
    """The miss of issue 23: the test file is only in archivos_referencia and fails on the base (the stub raises)."""
    ticket = ticket_for(slug_project(tmp_path, settings), archivos_referencia=["tests/test_slug.py"])
    done, fake = run_with(settings, ticket, WRONG_SLUGIFY, SLUGIFY)
    assert done.estado == "completed" and done.intentos == 2, (done.error_mensaje, done.tests_resultado)
    first = done.attempts.order_by("number").first()
    assert first.outcome == "tests_failed"
    verdict = first.test_result["verdict"]
    assert verdict["ticket_failing"] == ["tests/test_slug.py::test_slugify"]
    assert "the ticket's own test(s)" in verdict["reason"]
    retry = fake.requests[1]["messages"][1]["content"]
    assert "the ticket's own test(s) fail on main and still fail: tests/test_slug.py::test_slugify" in retry
    assert "assert 'hola mundo' == 'hola-mundo'" in retry  # fed back with its failure, as a broken test is
    # The unrelated red test (its failure runs through a line no attempt changes) still does not block.
    final = done.tests_resultado["verdict"]
    assert final["still_failing"] == ["tests/test_duration.py::test_parse_duration"]
    assert final["fixed"] == ["tests/test_slug.py::test_slugify"] and "1 already failing on main" in final["reason"]


def test_a_base_failure_that_runs_through_the_changed_lines_is_the_tickets_own(tmp_path, settings):
    settings.FACTORY_MAX_ATTEMPTS = 1
    project = slug_project(tmp_path, settings)
    done, _ = run_with(settings, ticket_for(project), WRONG_SLUGIFY)  # the test file is listed nowhere
    assert done.estado == "failed", done.tests_resultado
    verdict = done.tests_resultado["verdict"]
    assert verdict["ticket_failing"] == ["tests/test_slug.py::test_slugify"]
    assert verdict["still_failing"] == ["tests/test_duration.py::test_parse_duration"]
    baseline = TestBaseline.objects.get(project=project)
    assert "text.py:2" in baseline.summary["failure_traces"]["tests/test_slug.py::test_slugify"]


IDLE_TEST = "test_calc.py\n```python\n" + CALC_BASE_TESTS + "\n\ndef test_add_zero():\n    assert add(0, 0) == 0\n```\n"


def test_a_test_the_model_adds_that_passes_on_the_base_does_not_test_the_change(tmp_path, settings):
    ticket = subtract_ticket(tmp_path, settings, required=[], modify=("calc.py", "test_calc.py"))
    idle = SUBTRACT.split("test_calc.py\n")[0] + IDLE_TEST  # subtract written, but only add() tested
    done, fake = run_with(settings, ticket, idle, SUBTRACT)
    assert done.estado == "completed" and done.intentos == 2, (done.error_mensaje, done.tests_resultado)
    first = done.attempts.order_by("number").first()
    assert first.outcome == "tests_failed"
    assert first.test_result["verdict"]["idle"] == ["test_calc.py::test_add_zero"]
    assert "do not test the change" in first.test_result["verdict"]["reason"]
    retry = fake.requests[1]["messages"][1]["content"]
    assert "test_calc.py::test_add_zero" in retry and "passes on the base commit's code too" in retry
    assert "idle" not in done.tests_resultado["verdict"]  # test_subtract fails on the base: it bites
    assert factory_metrics()["idle"] == {"attempts": 1, "tests": 1, "judged": 2, "rate": 50.0}


TRIVIAL_SUBTRACT_TEST = CALC_BASE_TESTS + "\n\ndef test_subtract():\n    pass\n"
SELF_REWRITING = SUBTRACT.replace("from calc import add, subtract\n", "import pathlib\n\nfrom calc import add, subtract\n").replace(
    "    assert subtract(5, 3) == 2\n",
    f"    assert subtract(5, 3) == 2\n    pathlib.Path(__file__).write_text({TRIVIAL_SUBTRACT_TEST!r})\n")


def test_a_test_file_rewritten_while_the_tests_run_is_refused(tmp_path, settings):
    """The bite check runs on the base what was read before the attempt's run: a test that rewrites itself during
    that run would otherwise be judged in one form and committed in another."""
    ticket = subtract_ticket(tmp_path, settings, required=[], modify=("calc.py", "test_calc.py"))
    done, _ = run_with(settings, ticket, SELF_REWRITING, SUBTRACT)
    assert done.estado == "completed" and done.intentos == 2, (done.error_mensaje, done.tests_resultado)
    first = done.attempts.order_by("number").first()
    assert first.outcome == "tests_failed"
    assert [refusal["path"] for refusal in first.test_result.get("refused", [])] == ["test_calc.py"]
    assert "changed while the tests ran" in first.test_result["refused"][0]["reason"]


def test_a_refactor_tickets_tests_may_pass_on_the_base_and_are_shown(tmp_path, settings):
    ticket = subtract_ticket(tmp_path, settings, required=[], modify=("calc.py", "test_calc.py"))
    type(ticket).objects.filter(pk=ticket.pk).update(tipo="refactor")
    done, _ = run_with(settings, ticket, f"calc.py\n```python\n{CALC_BASE}```\n\n" + IDLE_TEST)
    assert done.estado == "completed" and done.intentos == 1, (done.error_mensaje, done.tests_resultado)
    assert done.tests_resultado["verdict"]["idle"] == ["test_calc.py::test_add_zero"]


ARCHITECT_TESTS = {"tests/test_accept.py": 'from text import slugify\n\n\ndef test_slugify_accepts():\n'
                                           '    assert slugify("Hola Mundo") == "hola-mundo"\n'}


def test_architect_tests_that_already_pass_on_the_base_end_the_ticket_before_any_model_request(tmp_path, settings):
    project = make_project(tmp_path, settings, {"text.py": SLUGIFY.split("```python\n")[1].split("```")[0]})
    done, fake = run_with(settings, ticket_for(project, tests_codigo=ARCHITECT_TESTS))
    assert done.estado == "failed" and fake.requests == [], done.error_mensaje
    assert done.error_mensaje.startswith("Fix the ticket: its acceptance tests (tests_codigo) must fail on main")
    assert "tests/test_accept.py::test_slugify_accepts" in done.error_mensaje
    assert not done.attempts.exists()


def test_architect_tests_are_placed_locked_shown_and_must_pass(tmp_path, settings):
    project = slug_project(tmp_path, settings)
    weakened = "tests/test_accept.py\n```python\ndef test_slugify_accepts():\n    assert True\n```\n"
    done, fake = run_with(settings, ticket_for(project, tests_codigo=ARCHITECT_TESTS), weakened + WRONG_SLUGIFY,
                          SLUGIFY)
    assert done.estado == "completed" and done.intentos == 2, (done.error_mensaje, done.tests_resultado)
    first = done.attempts.order_by("number").first()
    assert first.outcome == "apply_failed" and "acceptance tests the architect wrote" in first.feedback
    prompt = fake.requests[0]["messages"][1]["content"]
    assert 'assert slugify("Hola Mundo") == "hola-mundo"' in prompt  # shown as the acceptance tests
    assert "- tests/test_accept.py" in prompt.split("## Required tests")[1].split("##")[0]
    assert "tests/test_accept.py::test_slugify_accepts" in done.tests_resultado["verdict"]["new"]
    assert "tests/test_accept.py" in [entry["path"] for entry in done.codigo_generado["files"]]  # committed
