"""The implementer loop over a second Workspace that lives in memory: the loop needs nothing but the Protocol."""
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from agent.core.edit_parsing import parse_edits
from agent.core.edits import ApplyResult, EditFailure
from agent.core.loop import AttemptRecord, Implementer
from agent.core.model import ModelReply, ScriptedModel
from agent.core.prompting import Prompt, TicketBrief
from agent.core.workspace import Workspace
from lib.outcomes import Outcome


@dataclass
class MemoryWorkspace:
    """Files in a dict; whole-file answers only; 'tests' are a function of the files."""

    files: dict[str, str]
    check: callable
    base: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.base = dict(self.files)

    def read(self, path: str) -> str | None:
        return self.files.get(path)

    def line_count(self, path: str) -> int:
        return self.files.get(path, "").count("\n") + 1

    def tree(self) -> str:
        return "\n".join(sorted(self.files))

    def context_map(self, paths: list[str]) -> str:
        return ""

    def apply(self, answer: str) -> ApplyResult:
        blocks = parse_edits(answer, known_paths=self.files)
        applied = []
        for block in blocks:
            self.files[block.path] = block.replace
            applied.append(block.path)
        failed = [] if blocks else [EditFailure(path="", reason="no file blocks in the answer")]
        return ApplyResult(applied=applied, failed=failed)

    def check_syntax(self, paths: list[str]) -> list[EditFailure]:
        return []

    def run_tests(self, *, cancel=None) -> dict:
        ok, message = self.check(self.files)
        failures = [] if ok else [{"name": "test_in_memory", "message": message}]
        return {"success": ok, "passed": int(ok), "failed": int(not ok), "errors": 0, "command": "in-memory",
                "exit_code": 0 if ok else 1, "failures": failures, "output_tail": message, "timed_out": False}

    def diff(self) -> str:
        return "".join(f"changed {path}\n" for path in sorted(self.files) if self.files[path] != self.base.get(path))

    @contextmanager
    def fork(self, count: int) -> Iterator[list["MemoryWorkspace"]]:
        yield [replace(self, files=dict(self.files), base=dict(self.base)) for _ in range(count)]

    def adopt(self, other: "MemoryWorkspace") -> None:
        self.files = dict(other.files)

    def reset(self) -> None:
        self.files = dict(self.base)


class ListRecorder:
    def __init__(self) -> None:
        self.prompts: list[Prompt] = []
        self.records: list[AttemptRecord] = []

    def attempt_started(self, *, prompt: Prompt, edit_format: str) -> None:
        self.prompts.append(prompt)

    def phase(self, text: str) -> None:
        pass

    def attempt_finished(self, record: AttemptRecord) -> None:
        self.records.append(record)


def doubles(files: dict[str, str]) -> tuple[bool, str]:
    namespace: dict = {}
    exec(files.get("calc.py", ""), namespace)  # the test's own scripted code, not a model's
    value = namespace.get("double", lambda x: None)(21)
    return value == 42, f"double(21) returned {value!r}, expected 42"


BRIEF = TicketBrief(titulo="Add double", descripcion="double(x) returns 2x.", tipo="feature",
                    archivos_modificar=["calc.py"], archivos_referencia=[], patrones_obligatorios=[],
                    contexto_cipher="", tests_requeridos=["double(21) == 42"], lessons=[], reviewer_feedback="")


def test_the_loop_runs_over_any_workspace_and_feeds_failures_back():
    workspace: Workspace = MemoryWorkspace(files={"calc.py": "X = 1\n"}, check=doubles)
    model = ScriptedModel(["calc.py\n```python\ndef double(x):\n    return x + 2\n```\n",
                           "calc.py\n```python\ndef double(x):\n    return x * 2\n```\n"])
    recorder = ListRecorder()
    result = Implementer(model=model, workspace=workspace, recorder=recorder, system_prompt="Be brief.",
                         num_ctx=8192, max_attempts=3).run(BRIEF)
    assert result.success and result.attempts == 2
    assert [record.outcome for record in recorder.records] == [Outcome.TESTS_FAILED, Outcome.PASSED]
    retry_prompt = model.prompts[1][1]
    assert "double(21) returned 23, expected 42" in retry_prompt and "return x + 2" in retry_prompt
    assert recorder.records[1].diff == "changed calc.py\n"


def test_the_loop_gives_up_after_the_last_attempt_with_one_line():
    workspace = MemoryWorkspace(files={"calc.py": "X = 1\n"}, check=doubles)
    model = ScriptedModel(["No code today."] * 2)
    result = Implementer(model=model, workspace=workspace, recorder=ListRecorder(), system_prompt="s",
                         num_ctx=8192, max_attempts=2).run(BRIEF)
    assert not result.success and result.attempts == 2
    assert "\n" not in result.error and result.error


def test_candidates_race_in_copies_and_the_green_one_wins():
    workspace = MemoryWorkspace(files={"calc.py": "X = 1\n"}, check=doubles)
    wrong = "calc.py\n```python\ndef double(x):\n    return x + 2\n```\n"
    right = "calc.py\n```python\ndef double(x):\n    return x * 2\n```\n"
    model = SeededModel({1000: wrong, 1001: right})
    recorder = ListRecorder()
    result = Implementer(model=model, workspace=workspace, recorder=recorder, system_prompt="s", num_ctx=8192,
                         candidates=2).run(BRIEF)
    assert result.success and result.attempts == 1
    assert workspace.files["calc.py"].endswith("return x * 2\n")
    candidates = recorder.records[0].candidates
    assert [(c["number"], c["of"], c["seed"], c["chosen"]) for c in candidates] == [(1, 2, 1000, False),
                                                                                    (2, 2, 1001, True)]
    assert candidates[0]["temperature"] < candidates[1]["temperature"]


class SeededModel:
    """Answers by the sample's seed, as a real model would differ between samples."""

    name = "seeded"

    def __init__(self, answers: dict[int, str]) -> None:
        self.answers = answers

    def complete(self, *, system, user, on_progress=None, sampling=None, cancel=None):
        return ModelReply(text=self.answers[sampling.seed], prompt_tokens=10, eval_tokens=10)
