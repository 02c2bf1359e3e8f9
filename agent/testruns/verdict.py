"""Judge the change, not the repository: an attempt's per-test results against the base commit's.

An attempt is green when every test that passed on the base still passes, the
tests the ticket added or changed ran and pass (at least one when the ticket asks
for tests), and the command did not time out. Tests already failing on the base
never block: they are listed as "already failing on <branch>". A test that passed
on the base and fails now is re-run once (the caller does it): passing then, it
is flaky, shown, and does not block. Without a per-test report on both sides the
verdict is the exit code's, and says so.
"""
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath

from agent.testruns.reports import ERROR, FAILED, PASSED, SKIPPED, Report

BASELINE, EXIT_CODE = "baseline", "exit_code"


@dataclass
class Verdict:
    green: bool
    basis: str  # BASELINE or EXIT_CODE
    reason: str
    base_commit: str = ""
    base_branch: str = ""
    fixed: list[str] = field(default_factory=list)          # failed on the base, pass now
    broken: list[str] = field(default_factory=list)         # passed on the base, fail now (also on re-run)
    still_failing: list[str] = field(default_factory=list)  # already failing on the base: never blocks
    new: list[str] = field(default_factory=list)            # not on the base, pass now
    new_failing: list[str] = field(default_factory=list)    # not on the base, fail now
    flaky: list[str] = field(default_factory=list)          # broke, then passed when re-run alone
    removed: list[str] = field(default_factory=list)        # passed on the base, did not run now
    ticket_tests: list[str] = field(default_factory=list)   # the ticket's own tests that ran: new, fixed, named,
    #                                                         or passing ones in files it changed

    @property
    def blocking(self) -> list[str]:
        return [*self.broken, *self.new_failing, *self.removed]

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Judging:
    """What the verdict needs besides the two runs."""

    base_outcomes: dict[str, str] | None  # None: the base run had no per-test report
    base_commit: str
    base_branch: str
    changed_files: frozenset[str]
    required: tuple[str, ...] = ()  # tests_requeridos
    full_run: bool = True  # a scoped run does not see every test, so absent tests are not "removed"


def judge(*, judging: Judging, report: Report | None, exit_code: int, timed_out: bool,
          limits: list[str] | tuple[str, ...] = ()) -> Verdict:
    """`limits`: the run's caps it went over (agent.testruns.confine), in plain words; like a timeout, they fail it."""
    if timed_out or limits:
        return Verdict(green=False, basis=EXIT_CODE if report is None else BASELINE,
                       reason="the tests timed out" if timed_out else "; ".join(limits),
                       base_commit=judging.base_commit, base_branch=judging.base_branch)
    if report is None or judging.base_outcomes is None:
        missing = "this run" if report is None else f"the run on {judging.base_branch}"
        return Verdict(green=exit_code == 0, basis=EXIT_CODE, base_commit=judging.base_commit,
                       base_branch=judging.base_branch,
                       reason=f"judged by the exit code ({exit_code}): {missing} gave no per-test report")
    verdict = compare(judging=judging, now=report.outcomes())
    verdict.green, verdict.reason = conclude(verdict, judging=judging)
    return verdict


def compare(*, judging: Judging, now: dict[str, str]) -> Verdict:
    base = judging.base_outcomes or {}
    verdict = Verdict(green=False, basis=BASELINE, reason="", base_commit=judging.base_commit,
                      base_branch=judging.base_branch)
    for test_id, status in sorted(now.items()):
        before = base.get(test_id)
        if before is None:
            (verdict.new_failing if status in (FAILED, ERROR) else verdict.new).append(test_id)
        elif before in (FAILED, ERROR):
            (verdict.fixed if status == PASSED else verdict.still_failing).append(test_id)
        elif status in (FAILED, ERROR) or (before == PASSED and status == SKIPPED):
            verdict.broken.append(test_id)  # a passing test now skipped is hidden, not fixed
    if judging.full_run:
        verdict.removed = sorted(test_id for test_id, status in base.items() if status == PASSED and test_id not in now)
    verdict.ticket_tests = sorted({*verdict.new, *verdict.new_failing, *verdict.fixed,
                                   *(test_id for test_id in now if is_ticket_test(test_id, judging=judging, base=base))})
    return verdict


def conclude(verdict: Verdict, *, judging: Judging) -> tuple[bool, str]:
    if verdict.broken:
        return False, f"{len(verdict.broken)} test(s) that pass on {judging.base_branch} fail now"
    if verdict.new_failing:
        return False, f"{len(verdict.new_failing)} new test(s) fail"
    if verdict.removed:
        return False, f"{len(verdict.removed)} test(s) that pass on {judging.base_branch} did not run"
    unmet = unmet_required(verdict, judging=judging)
    if unmet:
        return False, unmet
    notes = [f"{len(verdict.still_failing)} already failing on {judging.base_branch}"] if verdict.still_failing else []
    notes += [f"{len(verdict.flaky)} flaky"] if verdict.flaky else []
    return True, "no test broke" + (f" ({', '.join(notes)})" if notes else "")


def unmet_required(verdict: Verdict, *, judging: Judging) -> str:
    if not judging.required:
        return ""
    if not verdict.ticket_tests:
        return ("the ticket asks for tests (tests_requeridos), but no test it added or changed ran; write them in "
                "a test file the suite runs")
    named = [entry for entry in judging.required if looks_like_test_path(entry)]
    failing_named = [test_id for test_id in verdict.still_failing if any(matches(test_id, entry) for entry in named)]
    if failing_named:
        return f"required test(s) still fail: {', '.join(failing_named[:5])}"
    return ""


def is_ticket_test(test_id: str, *, judging: Judging, base: dict[str, str]) -> bool:
    """Besides new and fixed tests: tests it names, and passing tests in files it edited (not base failures)."""
    if any(matches(test_id, entry) for entry in judging.required if looks_like_test_path(entry)):
        return True
    return base.get(test_id) == PASSED and test_file(test_id) in judging.changed_files


def test_file(test_id: str) -> str:
    return test_id.split("::", 1)[0]


def looks_like_test_path(entry: str) -> bool:
    path = entry.split("::", 1)[0].strip()
    return bool(PurePosixPath(path).suffix) and " " not in path


def matches(test_id: str, entry: str) -> bool:
    """A tests_requeridos entry names this test: the file, or file::test (parameters ignored)."""
    entry = entry.strip()
    if "::" not in entry:
        return test_file(test_id) == entry
    return test_id == entry or test_id.split("[", 1)[0] == entry


def blocking_failures(verdict: Verdict, report: Report | None) -> list[dict]:
    """The failures to tell the model: only what blocks (never what already failed on the base)."""
    cases = report.cases if report else {}
    labels = [(test_id, "broke: passes on the base branch") for test_id in verdict.broken]
    labels += [(test_id, "new test, fails") for test_id in verdict.new_failing]
    labels += [(test_id, "passes on the base branch but did not run now") for test_id in verdict.removed]
    return [{"name": test_id, "message": (cases[test_id].message if test_id in cases else "") or label,
             "details": f"({label})"} for test_id, label in labels]


def rerun_names(test_ids: Iterable[str]) -> list[str]:
    """Plain test function names, for re-running a few tests with pytest's -k."""
    return sorted({test_id.rsplit("::", 1)[-1].split("[", 1)[0] for test_id in test_ids})
