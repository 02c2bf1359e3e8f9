"""The implementer loop: prompt, model answer, apply, check, test; feed failures back; at most N attempts.

Django-free on purpose: it runs over a Model, a Workspace and a Recorder, so
tests swap in a scripted model and a real temporary git repository.
"""
from dataclasses import dataclass, field
from typing import Protocol

from agent.edits import ApplyResult, EditFailure, choose_format
from agent.llm import Model, ModelFailed, ModelReply
from agent.prompting import Prompt, PromptInputs, TicketBrief, build_prompt
from agent.testparse import summarize_failures
from agent.workspace import Workspace
from lib.outcomes import Outcome

PASSED, TESTS_FAILED, APPLY_FAILED, SYNTAX_FAILED, TIMEOUT, MODEL_ERROR = (
    Outcome.PASSED, Outcome.TESTS_FAILED, Outcome.APPLY_FAILED, Outcome.SYNTAX_FAILED, Outcome.TIMEOUT,
    Outcome.MODEL_ERROR)


@dataclass
class AttemptRecord:
    """What one attempt produced; the recorder persists it."""

    outcome: str = ""
    reply: ModelReply | None = None
    edits: ApplyResult | None = None
    syntax: list[EditFailure] = field(default_factory=list)
    tests: dict | None = None
    feedback: str = ""
    diff: str = ""


class Recorder(Protocol):
    def attempt_started(self, *, prompt: Prompt, edit_format: str) -> None: ...
    def phase(self, text: str) -> None: ...
    def attempt_finished(self, record: AttemptRecord) -> None: ...


@dataclass
class RunResult:
    success: bool
    attempts: int
    tests: dict | None
    error: str = ""


@dataclass
class Implementer:
    model: Model
    workspace: Workspace
    recorder: Recorder
    system_prompt: str
    num_ctx: int
    max_attempts: int = 3
    edit_format_setting: str = "auto"
    # Files earlier attempts created or changed beyond archivos_modificar (new
    # tests, helpers): a retry must see their current content too.
    touched: list[str] = field(default_factory=list)

    def run(self, brief: TicketBrief) -> RunResult:
        failure, last = "", AttemptRecord()
        for number in range(1, self.max_attempts + 1):
            last = self.attempt(brief, previous_failure=failure)
            if last.outcome == PASSED:
                return RunResult(success=True, attempts=number, tests=last.tests)
            failure = last.feedback
        return RunResult(success=False, attempts=self.max_attempts, tests=last.tests,
                         error=one_line_error(last))

    def attempt(self, brief: TicketBrief, *, previous_failure: str) -> AttemptRecord:
        edit_format = choose_format(setting=self.edit_format_setting,
                                    line_counts=[self.workspace.line_count(p) for p in brief.archivos_modificar])
        prompt = build_prompt(inputs=self.inputs(brief, edit_format, previous_failure), system=self.system_prompt,
                              num_ctx=self.num_ctx)
        self.recorder.attempt_started(prompt=prompt, edit_format=edit_format)
        record = self.ask_and_check(prompt)
        if record.edits:
            self.touched += [path for path in record.edits.applied if path not in self.touched]
        record.diff = self.workspace.diff()
        self.recorder.attempt_finished(record)
        return record

    def inputs(self, brief: TicketBrief, edit_format: str, previous_failure: str) -> PromptInputs:
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

    def ask_and_check(self, prompt: Prompt) -> AttemptRecord:
        record = AttemptRecord()
        self.recorder.phase("waiting for the model")
        try:
            record.reply = self.model.complete(system=prompt.system, user=prompt.user, on_progress=self.recorder.phase)
        except ModelFailed as exc:
            record.outcome, record.feedback = MODEL_ERROR, f"The model failed to answer: {exc}"
            return record
        self.recorder.phase("applying edits")
        record.edits = self.workspace.apply(record.reply.text)
        if not record.edits.ok:
            record.outcome, record.feedback = APPLY_FAILED, edit_feedback(record.edits)
            return record
        record.syntax = self.workspace.check_syntax(record.edits.applied)
        if record.syntax:
            record.outcome, record.feedback = SYNTAX_FAILED, syntax_feedback(record.syntax)
            return record
        self.recorder.phase("running the tests")
        record.tests = self.workspace.run_tests()
        if record.tests["success"]:
            record.outcome = PASSED
        else:
            record.outcome = TIMEOUT if record.tests.get("timed_out") else TESTS_FAILED
            record.feedback = test_feedback(record.tests)
        return record


def edit_feedback(result: ApplyResult) -> str:
    lines = ["Some of your edits could not be applied, so none of the tests ran:"]
    lines += [f"- {failure.path or '(answer)'}: {failure.reason}" for failure in result.failed]
    if result.applied:
        lines.append(f"These edits did apply and are in the files shown above: {', '.join(result.applied)}")
    return "\n".join(lines)


def syntax_feedback(failures: list[EditFailure]) -> str:
    lines = ["Your edits applied but do not compile or fail the static checks, so the tests did not run:"]
    return "\n".join(lines + [f"- {failure.path}: {failure.reason}" for failure in failures])


def test_feedback(tests: dict) -> str:
    if tests.get("timed_out"):
        return timeout_feedback(tests)
    verdict = tests.get("verdict") or {}
    if verdict.get("basis") != "baseline":
        head = (f"The tests failed (`{tests.get('command')}`: {tests.get('passed', 0)} passed, "
                f"{tests.get('failed', 0)} failed, {tests.get('errors', 0)} errors).")
        return f"{head}\n\n{summarize_failures(tests)}"
    branch = verdict.get("base_branch") or "the base branch"
    head = f"The tests say no: {verdict.get('reason')} (`{tests.get('command')}`)."
    if verdict.get("still_failing"):
        head += (f" {len(verdict['still_failing'])} test(s) already fail on {branch} without your change; they are "
                 "not yours to fix and are not listed.")
    return summarize_failures(tests, header=head)


def timeout_feedback(tests: dict) -> str:
    limit = tests.get("timeout_s") or 0
    tail = (tests.get("output_tail") or "").strip()[-1500:]
    return (f"The tests did not finish within {limit:.0f} s (FACTORY_TEST_TIMEOUT={limit:.0f}) and were killed: "
            "the code hangs. Look for an endless loop, a wait for input, a network call, or a server, thread or "
            f"timer that never stops, and make every path finish.\n\nLast output:\n{tail}")


def one_line_error(record: AttemptRecord) -> str:
    first = (record.feedback or record.outcome or "failed").strip().splitlines()
    summary = first[0] if first else "failed"
    if record.edits and record.edits.failed and record.outcome == APPLY_FAILED:
        summary = f"Edits did not apply: {record.edits.failed[0].path}: {record.edits.failed[0].reason.splitlines()[0]}"
    elif record.tests and record.outcome == TIMEOUT:
        limit = record.tests.get("timeout_s") or 0
        summary = (f"The tests timed out: killed after {limit:.0f} s (FACTORY_TEST_TIMEOUT={limit:.0f}); "
                   "the code hangs.")
    elif record.tests and record.outcome == TESTS_FAILED:
        names = [failure.get("name", "") for failure in record.tests.get("failures", [])][:3]
        summary = summary + (f" Failing: {', '.join(names)}" if names else "")
    return summary[:500]
