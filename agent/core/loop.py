"""The implementer loop: prompt, model answer, apply, check, test; feed failures back; at most N attempts.

Django-free on purpose: it runs over a Model, a Workspace and a Recorder, so
tests swap in a scripted model and a real temporary git repository.
"""
from dataclasses import dataclass, field
from typing import Protocol

from agent.core.attempt import PASSED, AttemptRecord, check_answer, one_line_error
from agent.core.candidates import race
from agent.core.edit_formats import EditFormat
from agent.core.edits import choose_format
from agent.core.model import Model
from agent.core.prompting import Prompt, PromptInputs, TicketBrief, build_prompt
from agent.core.workspace import Workspace
from lib.testschema import SuiteResult


class Recorder(Protocol):
    def attempt_started(self, *, prompt: Prompt, edit_format: str) -> None: ...
    def phase(self, text: str) -> None: ...
    def attempt_finished(self, record: AttemptRecord) -> None: ...


@dataclass
class RunResult:
    success: bool
    attempts: int
    tests: SuiteResult | None
    error: str = ""
    last_feedback: str = ""  # what the last attempt was told went wrong
    changed_files: list[str] = field(default_factory=list)  # what the run's attempts touched


@dataclass
class Implementer:
    model: Model
    workspace: Workspace
    recorder: Recorder
    system_prompt: str
    num_ctx: int
    max_attempts: int = 3
    edit_format_setting: str = "auto"
    # Answers requested at once per attempt; each is checked in its own copy of the worktree.
    candidates: int = 1
    temperature: float = 0.2
    # Files earlier attempts created or changed beyond archivos_modificar (new
    # tests, helpers): a retry must see their current content too.
    touched: list[str] = field(default_factory=list)

    def run(self, brief: TicketBrief) -> RunResult:
        failure, last = "", AttemptRecord()
        for number in range(1, self.max_attempts + 1):
            last = self.attempt(brief, number=number, previous_failure=failure)
            if last.outcome == PASSED:
                return RunResult(success=True, attempts=number, tests=last.tests, changed_files=list(self.touched))
            failure = last.feedback
        return RunResult(success=False, attempts=self.max_attempts, tests=last.tests, error=one_line_error(last),
                         last_feedback=last.feedback, changed_files=list(self.touched))

    def attempt(self, brief: TicketBrief, *, number: int, previous_failure: str) -> AttemptRecord:
        edit_format = choose_format(setting=self.edit_format_setting,
                                    line_counts=[self.workspace.line_count(p) for p in brief.archivos_modificar])
        prompt = build_prompt(inputs=self.inputs(brief, edit_format, previous_failure), system=self.system_prompt,
                              num_ctx=self.num_ctx)
        self.recorder.attempt_started(prompt=prompt, edit_format=prompt.edit_format or edit_format)
        if self.candidates > 1:
            record = race(model=self.model, workspace=self.workspace, prompt=prompt, count=self.candidates,
                          temperature=self.temperature, attempt_number=number, on_progress=self.recorder.phase)
        else:
            record = check_answer(model=self.model, workspace=self.workspace, prompt=prompt,
                                  on_progress=self.recorder.phase)
        if record.edits:
            self.touched += [path for path in record.edits.applied if path not in self.touched]
        record.diff = self.workspace.diff()
        self.recorder.attempt_finished(record)
        return record

    def inputs(self, brief: TicketBrief, edit_format: EditFormat, previous_failure: str) -> PromptInputs:
        return PromptInputs(
            brief=brief,
            files_to_modify={path: self.workspace.read(path)
                             for path in dict.fromkeys([*brief.archivos_modificar, *self.touched])},
            reference_files={path: self.workspace.read(path) for path in brief.archivos_referencia},
            tree=self.workspace.tree(),
            edit_format=edit_format,
            previous_failure=previous_failure,
            context_map=self.workspace.context_map([*brief.archivos_modificar, *self.touched]),
        )
