"""The schema of a test run's result: what agent.testruns.command returns for a command, what the suite adds when it
judges the run against the base commit, what the workspace adds after it, and what the ticket (tests_resultado)
and each attempt (test_result) keep.

TypedDicts, not classes: the stored JSON keeps the shape it always had (old rows read as they are), while mypy
checks every key a producer writes and a reader reads. Keys later steps add are NotRequired; a reader of a stored
row asks them with .get(). Named SuiteResult, not TestResult: pytest would try to collect a Test* class.
"""
from typing import NotRequired, TypedDict


class Failure(TypedDict):
    """A failing test as the model and the review page are told it."""

    name: str
    message: str
    details: str


class Refusal(TypedDict):
    """A file the test run left that the change may not keep (too big, binary ...): the attempt fails."""

    path: str
    reason: str


class RequiredChange(TypedDict):
    """A required test the change edited (the file is one it may change), with its diff."""

    test: str
    path: str
    diff: str


class ScopedRun(TypedDict):
    """The related tests run first (the project's quick_test_command)."""

    command: str | None
    seconds: float | None
    tests: int | None  # test cases its report had; None without a report
    conclusive: bool


class VerdictRecord(TypedDict):
    """agent.testruns.verdict.Verdict as stored, and the tests found idle after it."""

    green: bool
    basis: str  # "baseline" (per-test reports on both sides) or "exit_code"
    reason: str
    base_commit: str
    base_branch: str
    fixed: list[str]
    broken: list[str]
    still_failing: list[str]
    ticket_failing: list[str]
    new: list[str]
    new_failing: list[str]
    flaky: list[str]
    removed: list[str]
    required_gone: list[str]
    ticket_tests: list[str]
    idle: NotRequired[list[str]]  # added or changed tests that pass on the base too


class SuiteResult(TypedDict):
    # What the command's output says (agent.testruns.parsing).
    command: str
    exit_code: int
    passed: int
    failed: int
    errors: int
    skipped: int
    total: int
    duration_s: float
    timed_out: bool
    success: bool
    framework: str
    failures: list[Failure]
    output_tail: str
    # How the command ran (agent.testruns.command).
    timeout_s: NotRequired[float]
    cancelled: NotRequired[bool]
    limits: NotRequired[list[str]]  # caps it went over, in plain words
    output_cut: NotRequired[str]
    # Judged against the base commit (agent.testruns.suite).
    verdict: NotRequired[VerdictRecord]
    report: NotRequired[str]  # the per-test report's kind, or "console"
    scoped: NotRequired[ScopedRun]
    full_seconds: NotRequired[float | None]
    notes: NotRequired[list[str]]
    # The workspace's checks after the run (agent.core.workspace).
    required_changed: NotRequired[list[RequiredChange]]
    refused: NotRequired[list[Refusal]]
