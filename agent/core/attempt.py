"""One model answer, checked: apply its edits, check them, run the tests, and say what went wrong.

Django-free, like the loop (agent.core.loop) that calls it once per attempt, or once
per candidate when several answers race (agent.core.candidates).
"""
import threading
from dataclasses import dataclass, field
from typing import Any

from agent.core.edit_formats import whole_file_refusals
from agent.core.edits import ApplyResult, EditFailure
from agent.core.model import Model, ModelCancelled, ModelFailed, ModelReply, ProgressCallback, Sampling
from agent.core.prompting import Prompt
from agent.core.workspace import Workspace
from agent.testruns.parsing import summarize_failures
from lib.outcomes import Outcome
from lib.testschema import Refusal, SuiteResult

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
    tests: SuiteResult | None = None
    feedback: str = ""
    diff: str = ""
    cancelled: bool = False  # another candidate won before this one was done
    candidates: list[dict[str, Any]] = field(default_factory=list)  # every candidate of the attempt, when several raced


def check_answer(*, model: Model, workspace: Workspace, prompt: Prompt, on_progress: ProgressCallback,
                 sampling: Sampling | None = None, cancel: threading.Event | None = None) -> AttemptRecord:
    """Ask, apply, check, test; stops early (cancelled) when `cancel` is set."""
    record = AttemptRecord()
    on_progress("waiting for the model")
    try:
        record.reply = model.complete(system=prompt.system, user=prompt.user, on_progress=on_progress,
                                      sampling=sampling, cancel=cancel)
    except ModelFailed as exc:
        record.outcome, record.feedback = MODEL_ERROR, f"The model failed to answer: {exc}"
        return record
    except ModelCancelled as exc:
        record.cancelled, record.reply = True, exc.reply  # its model time still counts (metrics: busy fraction)
        return record
    on_progress("applying edits")
    refused = whole_file_refusals(record.reply.text, windowed=prompt.windowed)
    record.edits = (ApplyResult(applied=[], failed=[EditFailure(path=path, reason=reason) for path, reason in refused])
                    if refused else workspace.apply(record.reply.text))
    if not record.edits.ok:
        record.outcome, record.feedback = APPLY_FAILED, edit_feedback(record.edits)
        return record
    record.syntax = workspace.check_syntax(record.edits.applied)
    if record.syntax:
        record.outcome, record.feedback = SYNTAX_FAILED, syntax_feedback(record.syntax)
        return record
    on_progress("running the tests")
    record.tests = workspace.run_tests(cancel=cancel)
    if record.tests.get("cancelled"):
        record.cancelled = True
    elif record.tests["success"]:
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


def test_feedback(tests: SuiteResult) -> str:
    if tests.get("refused"):
        return refused_feedback(tests["refused"])
    if tests.get("timed_out"):
        return timeout_feedback(tests)
    verdict = tests.get("verdict")
    if verdict is None or verdict["basis"] != "baseline":
        head = (f"The tests failed (`{tests['command']}`: {tests['passed']} passed, {tests['failed']} failed, "
                f"{tests['errors']} errors).")
        return f"{head}\n\n{summarize_failures(tests)}"
    branch = verdict["base_branch"] or "the base branch"
    head = f"The tests say no: {verdict['reason']} (`{tests['command']}`)."
    if verdict["still_failing"]:
        head += (f" {len(verdict['still_failing'])} test(s) already fail on {branch} without your change; they are "
                 "not yours to fix and are not listed.")
    return summarize_failures(tests, header=head)


def refused_feedback(refused: list[Refusal]) -> str:
    lines = ["After the tests ran, the project's files were not fit to commit, so this attempt fails whatever the "
             "tests said; what broke the rules was undone:"]
    return "\n".join(lines + [f"- {entry['path']}: {entry['reason']}" for entry in refused])


def timeout_feedback(tests: SuiteResult) -> str:
    limit = tests.get("timeout_s") or 0
    tail = tests["output_tail"].strip()[-1500:]
    return (f"The tests did not finish within {limit:.0f} s (FACTORY_TEST_TIMEOUT={limit:.0f}) and were killed: "
            "the code hangs. Look for an endless loop, a wait for input, a network call, or a server, thread or "
            f"timer that never stops, and make every path finish.\n\nLast output:\n{tail}")


def one_line_error(record: AttemptRecord) -> str:
    first = (record.feedback or record.outcome or "failed").strip().splitlines()
    summary = first[0] if first else "failed"
    if record.edits and record.edits.failed and record.outcome == APPLY_FAILED:
        summary = f"Edits did not apply: {record.edits.failed[0].path}: {record.edits.failed[0].reason.splitlines()[0]}"
    elif record.tests and record.tests.get("refused"):
        entry = record.tests["refused"][0]
        summary = f"Not fit to commit after the tests: {entry['path']} {entry['reason']}"
    elif record.tests and record.outcome == TIMEOUT:
        limit = record.tests.get("timeout_s") or 0
        summary = (f"The tests timed out: killed after {limit:.0f} s (FACTORY_TEST_TIMEOUT={limit:.0f}); "
                   "the code hangs.")
    elif record.tests and record.outcome == TESTS_FAILED:
        names = [failure["name"] for failure in record.tests["failures"]][:3]
        summary = summary + (f" Failing: {', '.join(names)}" if names else "")
    return summary[:500]
