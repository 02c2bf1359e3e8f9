"""Judge the change, not the repository: an attempt's per-test results against the base commit's.

An attempt is green when every test that passed on the base still passes, the
tests the ticket added or changed ran and pass (at least one when the ticket asks
for tests), and the command did not time out. A test already failing on the base
blocks only when it is the ticket's own: its file is one the ticket lists
(archivos_modificar, archivos_referencia, a bare tests_requeridos path), tests_requeridos
names it, or its failure runs through lines the attempt changes (the base's traceback
or this run's). Unrelated red tests never block: they are listed as "already failing
on <branch>". A test that passed
on the base and fails now is re-run once (the caller does it): passing then, it
is flaky, shown, and does not block. Without a per-test report on both sides the
verdict is the exit code's, and says so.
"""
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import cast

from agent.testruns.reports import ERROR, FAILED, PASSED, SKIPPED, Report
from lib.testschema import Failure, VerdictRecord

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
    still_failing: list[str] = field(default_factory=list)  # already failing on the base, not the ticket's
    ticket_failing: list[str] = field(default_factory=list)  # failing on the base and now, but the ticket's own
    new: list[str] = field(default_factory=list)            # not on the base, pass now
    new_failing: list[str] = field(default_factory=list)    # not on the base, fail now
    flaky: list[str] = field(default_factory=list)          # broke, then passed when re-run alone
    removed: list[str] = field(default_factory=list)        # passed on the base, did not run now
    required_gone: list[str] = field(default_factory=list)  # changeable required tests (must_run) that did not run
    ticket_tests: list[str] = field(default_factory=list)   # the ticket's own tests that ran: new, fixed, named,
    #                                                         or passing ones in files it changed

    @property
    def blocking(self) -> list[str]:
        return [*self.broken, *self.new_failing, *self.removed, *self.ticket_failing]

    def as_dict(self) -> VerdictRecord:
        return cast(VerdictRecord, asdict(self))


@dataclass(frozen=True)
class Judging:
    """What the verdict needs besides the two runs."""

    base_outcomes: dict[str, str] | None  # None: the base run had no per-test report
    base_commit: str
    base_branch: str
    changed_files: frozenset[str]
    required: tuple[str, ...] = ()  # tests_requeridos
    full_run: bool = True  # a scoped run does not see every test, so absent tests are not "removed"
    ticket_files: frozenset[str] = frozenset()  # archivos_modificar, archivos_referencia, bare tests_requeridos paths
    changed_lines: Mapping[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)  # base-side line ranges
    base_traces: Mapping[str, list[str]] = field(default_factory=dict)  # failing test -> "path:line" it ran through
    must_run: tuple[str, ...] = ()  # required tests the model may change (file in archivos_modificar): must still run
    architect_tests: Mapping[str, str] = field(default_factory=dict)  # tests_codigo, locked: path -> content


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
    verdict = compare(judging=judging, now=report.outcomes(),
                      traces={test_id: case.message for test_id, case in report.cases.items() if case.failing})
    verdict.green, verdict.reason = conclude(verdict, judging=judging)
    return verdict


def compare(*, judging: Judging, now: dict[str, str], traces: Mapping[str, str] | None = None) -> Verdict:
    """`traces`: the failing tests' messages of this run, to see which code their failures run through."""
    base = judging.base_outcomes or {}
    verdict = Verdict(green=False, basis=BASELINE, reason="", base_commit=judging.base_commit,
                      base_branch=judging.base_branch)
    for test_id, status in sorted(now.items()):
        before = base.get(test_id)
        if before is None:
            (verdict.new_failing if status in (FAILED, ERROR) else verdict.new).append(test_id)
        elif before in (FAILED, ERROR):
            if status == PASSED:
                verdict.fixed.append(test_id)
            elif owned_by_ticket(test_id, judging=judging, trace=(traces or {}).get(test_id, "")):
                verdict.ticket_failing.append(test_id)
            else:
                verdict.still_failing.append(test_id)
        elif status in (FAILED, ERROR) or (before == PASSED and status == SKIPPED):
            verdict.broken.append(test_id)  # a passing test now skipped is hidden, not fixed
    if judging.full_run:
        verdict.removed = sorted(test_id for test_id, status in base.items()
                                 if status == PASSED and test_id not in now and not reparametrized(test_id, judging, now)
                                 and not dropped_by_architect(test_id, judging, now))
    verdict.required_gone = [entry for entry in judging.must_run if not any(matches(test_id, entry) for test_id in now)]
    verdict.ticket_tests = sorted({*verdict.new, *verdict.new_failing, *verdict.fixed, *verdict.ticket_failing,
                                   *(test_id for test_id in now if is_ticket_test(test_id, judging=judging, base=base))})
    return verdict


def conclude(verdict: Verdict, *, judging: Judging) -> tuple[bool, str]:
    if verdict.broken:
        return False, f"{len(verdict.broken)} test(s) that pass on {judging.base_branch} fail now"
    if verdict.new_failing:
        return False, f"{len(verdict.new_failing)} new test(s) fail"
    if verdict.removed:
        return False, f"{len(verdict.removed)} test(s) that pass on {judging.base_branch} did not run"
    if verdict.ticket_failing:
        return False, (f"{len(verdict.ticket_failing)} of the ticket's own test(s) fail on {judging.base_branch} and "
                       f"still fail: {', '.join(verdict.ticket_failing[:5])}")
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
    if verdict.required_gone:
        return ("required test(s) you may change must still exist and pass, but did not run: "
                f"{', '.join(verdict.required_gone[:5])}")
    failing_named = [test_id for test_id in verdict.still_failing if any(matches(test_id, entry) for entry in named)]
    if failing_named:
        return f"required test(s) still fail: {', '.join(failing_named[:5])}"
    return ""


def reparametrized(test_id: str, judging: Judging, now: dict[str, str]) -> bool:
    """A required test the ticket may change that still runs under other parameters ("test_x" -> "test_x[1-2]")."""
    if not any(test_file(test_id) == test_file(entry) for entry in judging.must_run):
        return False
    plain = test_id.split("[", 1)[0]
    return any(other.split("[", 1)[0] == plain for other in now)


def dropped_by_architect(test_id: str, judging: Judging, now: dict[str, str]) -> bool:
    """A base test of a locked architect's file (tests_codigo) that the architect's version removed, or runs under
    other parameters (a changed expected value in a parametrize case): theirs to change, not the attempt's."""
    content = judging.architect_tests.get(test_file(test_id))
    if content is None:
        return False
    plain = test_id.split("[", 1)[0]
    return plain.rsplit("::", 1)[-1] not in content or any(other.split("[", 1)[0] == plain for other in now)


TRACE_LOCATION = re.compile(r'(?:^|[\s("])([\w./+-]+\.[A-Za-z0-9]+)(?::|", line )(\d+)', re.MULTILINE)


def trace_locations(message: str) -> list[str]:
    """The "path:line" places a failure's traceback names (pytest's `text.py:6:`, Python's `File "x", line 6`,
    a JavaScript stack's `(src/x.js:6:3)`), in order, without repeats."""
    found = (f"{path}:{line}" for path, line in TRACE_LOCATION.findall(message or ""))
    return list(dict.fromkeys(found))


def owned_by_ticket(test_id: str, *, judging: Judging, trace: str) -> bool:
    """A base failure that is the ticket's own: a file it lists, a test it names, or code the attempt changes."""
    if test_file(test_id) in judging.ticket_files:
        return True
    if any(matches(test_id, entry) for entry in judging.required if looks_like_test_path(entry)):
        return True
    places = [*judging.base_traces.get(test_id, ()), *trace_locations(trace)]
    return any(in_changed_lines(place, judging.changed_lines) for place in places)


def in_changed_lines(place: str, changed: Mapping[str, tuple[tuple[int, int], ...]]) -> bool:
    path, _, line = place.rpartition(":")
    if not line.isdigit():
        return False
    for changed_path, ranges in changed.items():
        if path == changed_path or path.endswith("/" + changed_path):
            if any(first <= int(line) <= last for first, last in ranges):
                return True
    return False


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


def blocking_failures(verdict: Verdict, report: Report | None) -> list[Failure]:
    """The failures to tell the model: only what blocks (never what already failed on the base)."""
    cases = report.cases if report else {}
    labels = [(test_id, "broke: passes on the base branch") for test_id in verdict.broken]
    labels += [(test_id, "new test, fails") for test_id in verdict.new_failing]
    labels += [(test_id, "passes on the base branch but did not run now") for test_id in verdict.removed]
    labels += [(test_id, "the ticket's own test: fails on the base branch and must pass")
               for test_id in verdict.ticket_failing]
    return [{"name": test_id, "message": (cases[test_id].message if test_id in cases else "") or label,
             "details": f"({label})"} for test_id, label in labels]


def idle_tests(wanted: Iterable[str], base_outcomes: dict[str, str]) -> list[str]:
    """The tests (by name, parameters ignored) the attempt added or changed that pass on the base commit's code in
    every variant that ran there: they do not test the change. One that did not run or failed there bites."""
    variants: dict[str, list[str]] = {}
    for test_id, status in base_outcomes.items():
        variants.setdefault(test_id.split("[", 1)[0], []).append(status)
    return sorted(name for name in set(wanted) if variants.get(name) and all(s == PASSED for s in variants[name]))


def rerun_names(test_ids: Iterable[str]) -> list[str]:
    """Plain test function names, for re-running a few tests with pytest's -k."""
    return sorted({test_id.rsplit("::", 1)[-1].split("[", 1)[0] for test_id in test_ids})
