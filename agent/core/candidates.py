"""Several answers per attempt, raced: each sample is checked in its own copy of the worktree.

Requested at the same time (Ollama serves them in parallel when
OLLAMA_NUM_PARALLEL allows), each with its own seed and a slightly higher
temperature; the first candidate to reach a green verdict wins and the others
are cancelled (their model request closed, their test run killed). When none is
green, the least bad one (fewest blocking tests, else cleanly applied) becomes
the attempt's result and its failure feeds the next attempt. Ties go to the
smallest diff. The winner's changes are then brought into the ticket's worktree.
"""
import threading
from dataclasses import dataclass
from typing import Any

from agent.core.attempt import APPLY_FAILED, PASSED, SYNTAX_FAILED, AttemptRecord, check_answer
from agent.core.model import Model, ModelUnavailable, ProgressCallback, Sampling
from agent.core.prompting import Prompt
from agent.core.workspace import Workspace

TEMPERATURE_STEP = 0.15
MAX_TEMPERATURE = 1.0
ANSWER_CHARS = 100_000


@dataclass
class Entry:
    index: int
    sampling: Sampling
    record: AttemptRecord | None = None
    error: Exception | None = None
    finished: int = 0  # order of finishing, 1 first
    diff_lines: int = 0


def samplings(*, count: int, temperature: float, attempt_number: int) -> list[Sampling]:
    return [Sampling(seed=attempt_number * 1000 + index,
                     temperature=round(min(MAX_TEMPERATURE, temperature + TEMPERATURE_STEP * index), 2))
            for index in range(count)]


def race(*, model: Model, workspace: Workspace, prompt: Prompt, count: int, temperature: float,
         attempt_number: int, on_progress: ProgressCallback) -> AttemptRecord:
    entries = [Entry(index=index, sampling=sampling)
               for index, sampling in enumerate(samplings(count=count, temperature=temperature,
                                                          attempt_number=attempt_number))]
    cancel, lock, order = threading.Event(), threading.Lock(), [0]
    with workspace.fork(count) as copies:

        def run(entry: Entry) -> None:
            def report(text: str) -> None:
                on_progress(f"candidate {entry.index + 1} of {count}: {text}")

            try:
                entry.record = check_answer(model=model, workspace=copies[entry.index], prompt=prompt,
                                            on_progress=report, sampling=entry.sampling, cancel=cancel)
                entry.diff_lines = copies[entry.index].diff().count("\n") if entry.record.edits else 0
            except Exception as exc:  # handed back to the caller's thread by choose()
                entry.error = exc
            with lock:
                order[0] += 1
                entry.finished = order[0]
            if entry.record is not None and entry.record.outcome == PASSED:
                cancel.set()  # the first green wins; the others stop

        threads = [threading.Thread(target=run, args=(entry,), name=f"candidate-{entry.index + 1}")
                   for entry in entries]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winner = choose(entries)
        workspace.adopt(copies[winner.index])
    record = winner.record
    if record is None:  # choose() re-raises when no candidate answered, so the winner always has one
        raise RuntimeError("no candidate answered and none failed")
    record.candidates = [summary(entry, count=count, chosen=entry is winner) for entry in entries]
    return record


def choose(entries: list[Entry]) -> Entry:
    """The first green (smallest diff on a tie), else the least bad; re-raises when no answer came at all."""
    answered = [entry for entry in entries if entry.record is not None and not entry.record.cancelled]
    green = [entry for entry in answered if entry.record is not None and entry.record.outcome == PASSED]
    if green:
        return min(green, key=lambda entry: (entry.diff_lines, entry.finished))
    if answered:
        return min(answered, key=badness)
    unavailable: list[Exception] = [entry.error for entry in entries if isinstance(entry.error, ModelUnavailable)]
    errors = unavailable or [entry.error for entry in entries if entry.error is not None]
    if errors:
        raise errors[0]
    return min(entries, key=lambda entry: entry.finished)  # every one cancelled: cannot happen without a green


def badness(entry: Entry) -> tuple[int, int, int, int]:
    record = entry.record
    if record is None:
        return (4, 0, 0, entry.diff_lines)
    if record.tests is not None:
        verdict = record.tests.get("verdict")
        if verdict is not None and verdict["basis"] == "baseline":
            failing = len(verdict["broken"]) + len(verdict["new_failing"]) + len(verdict["removed"])
        else:
            failing = record.tests["failed"] + record.tests["errors"]
        return (0, int(record.tests["timed_out"]), failing, entry.diff_lines)
    stages: dict[str, int] = {SYNTAX_FAILED: 1, APPLY_FAILED: 2}
    stage = stages.get(str(record.outcome), 3)
    return (stage, 0, 0, entry.diff_lines)


def summary(entry: Entry, *, count: int, chosen: bool) -> dict[str, Any]:
    record, reply = entry.record, entry.record.reply if entry.record else None
    tests = record.tests if record else None
    verdict = tests.get("verdict") if tests else None
    return {
        "number": entry.index + 1, "of": count, "seed": entry.sampling.seed,
        "temperature": entry.sampling.temperature, "chosen": chosen,
        "outcome": "cancelled" if record is None or record.cancelled else record.outcome,
        "answer": (reply.text if reply else "")[:ANSWER_CHARS],
        "edit_results": record.edits.to_dict() if record and record.edits else None,
        "tests": None if tests is None else {
            "success": tests["success"], "passed": tests["passed"], "failed": tests["failed"],
            "errors": tests["errors"], "timed_out": tests["timed_out"], "reason": verdict["reason"] if verdict else ""},
        "diff_lines": entry.diff_lines,
        "error": str(entry.error) if entry.error else "",
        "prompt_tokens": reply.prompt_tokens if reply else None, "eval_tokens": reply.eval_tokens if reply else None,
        "model_seconds": round(reply.total_seconds, 3) if reply else None,
        "model_wait_seconds": round(reply.waited_seconds, 3) if reply else None,
        "model_host": reply.host if reply else "", "model_started": reply.started if reply else None,
    }
