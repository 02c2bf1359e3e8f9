"""Running a project's tests for a verdict: scoped first, the full suite when that is green, flaky tests re-run.

Each run asks for a per-test report (agent.testruns.reports) next to the console output
(agent.testruns.parsing); agent.testruns.verdict compares it with the base commit's results.
The tests related to the change run first, for fast feedback: pytest on the test
files the attempt touched and the ones the ticket names, Jest's and Vitest's
related-tests mode on the changed files (asked through the report hooks'
environment, never the runner's argv: a project's tests may read process.argv), or the project's own
quick_test_command with {files}. Only when those are green does the whole
suite run. Both timings are recorded. When the base commit's whole suite took
less than FACTORY_SCOPED_RUN_MIN_S, the scoped run is skipped: it would cost
about as much as the suite it stands in for.
"""
import json
import re
import shlex
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import NotRequired, TypedDict

from agent.testruns.command import run_command
from agent.testruns.deps import Dependencies
from agent.testruns.reports import (
    INJECTED_ENV,
    RELATED_ENV,
    Report,
    install_hooks,
    project_report_path,
    read_reports,
)
from agent.testruns.sandbox import SandboxPolicy
from agent.testruns.verdict import Judging, Verdict, blocking_failures, conclude, judge, rerun_names
from lib.paths import resolved_inside
from lib.safetext import cleaned, replaced
from lib.testschema import Failure, SuiteResult

PYTEST = re.compile(r"(^|[\s;&|(])(python3?\s+-m\s+)?pytest(\s|$)")
JEST = re.compile(r"(^|[\s;&|(/])(npx\s+)?jest(\s|$)")
VITEST = re.compile(r"(^|[\s;&|(/])(npx\s+)?vitest(\s|$)")
# `npm test`, `npm run test:unit`, `yarn test`, `pnpm run unit`: the package.json script a package manager runs
NPM_SCRIPT = re.compile(r"^\s*(?:npm\s+(?:(?:run|run-script)\s+)?(?=t(?:est)?\b)|(?:pnpm|yarn)\s+(?:run\s+)?)"
                        r"(?P<script>[\w:.-]+)")
SCRIPT_HOPS = 3  # "test": "npm run test:unit", "test:unit": "jest": followed this far
PYTHON_TEST_FILE = re.compile(r"(^|/)(test_[^/]*|[^/]*_test)\.py$")
JS_TEST_FILE = re.compile(r"(^|/)([^/]*\.(test|spec)\.[cm]?[jt]sx?|__tests__/[^/]*\.[cm]?[jt]sx?)$")
CONFTEST = re.compile(r"(^|/)conftest\.py$")
# A scoped run is trusted only when the runner really ran: 0 (green) or 1 (tests failed).
CONCLUSIVE_EXIT_CODES = (0, 1)


@dataclass(frozen=True)
class TestSetup:
    """How the project's tests run here."""

    __test__ = False  # not a test class for pytest to collect

    command: str
    timeout: float
    sandbox: SandboxPolicy
    quick_command: str = ""  # the project's, with {files}
    project_report: str = ""  # the project's own report file (test_report), relative to the worktree
    dependencies: Dependencies | None = None  # the base commit's installed dependencies, mounted read-only
    full_suite_s: float | None = None  # how long the whole suite took on the base commit, when known
    scoped_min_s: float = 0.0  # below that, no scoped run (FACTORY_SCOPED_RUN_MIN_S)

    @property
    def suite_is_quick(self) -> bool:
        return self.full_suite_s is not None and self.full_suite_s < self.scoped_min_s


@dataclass(frozen=True)
class Scoped:
    """The scoped run: its command, and what its environment adds (Jest's or Vitest's related files)."""

    command: str
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    result: SuiteResult
    report: Report | None

    @property
    def conclusive(self) -> bool:
        return (self.result["exit_code"] in CONCLUSIVE_EXIT_CODES and not self.result.get("timed_out")
                and self.report is not None and bool(self.report.cases))


@dataclass
class JudgedRuns:
    """The runs of one attempt and their verdict, as tests_resultado shows them."""

    final: Run
    verdict: Verdict
    scoped: Run | None = None
    full: Run | None = None
    notes: list[str] = field(default_factory=list)

    def as_result(self) -> SuiteResult:
        result = self.final.result.copy()
        result["success"] = self.verdict.green
        result["verdict"] = self.verdict.as_dict()
        result["report"] = self.final.report.kind if self.final.report else "console"
        if self.verdict.basis == "baseline":
            result["failures"] = merge_details(blocking_failures(self.verdict, self.final.report),
                                               console=self.final.result.get("failures") or [])
        if self.scoped is not None:
            result["scoped"] = {"command": self.scoped.result.get("command"),
                                "seconds": self.scoped.result.get("duration_s"),
                                "tests": len(self.scoped.report.cases) if self.scoped.report else None,
                                "conclusive": self.scoped.conclusive}
        result["full_seconds"] = self.full.result.get("duration_s") if self.full else None
        result["duration_s"] = round(sum(run.result.get("duration_s") or 0 for run in (self.scoped, self.full)
                                         if run is not None), 3)
        result["notes"] = self.notes
        return cleaned(result, form=replaced)  # a report's test names are the tests' own bytes too


def run_once(setup: TestSetup, *, cwd: Path, command: str, extra_addopts: str = "",
             extra_env: dict[str, str] | None = None, cancel: threading.Event | None = None) -> Run:
    """One run of `command` with report injection; the project's own report file is cleared first."""
    stale = project_report_path(worktree=cwd, relative=setup.project_report) if setup.project_report else None
    if stale is not None and stale.is_file() and not stale.is_symlink():
        stale.unlink()
    env = {**INJECTED_ENV, **(extra_env or {})}
    if extra_addopts:
        env["PYTEST_ADDOPTS"] = f"{env['PYTEST_ADDOPTS']} {extra_addopts}"
    if setup.dependencies is not None:
        setup.dependencies.seed(cwd)
    with tempfile.TemporaryDirectory(prefix="factory-report-") as folder:
        install_hooks(Path(folder))
        mounts = setup.dependencies.mounts() if setup.dependencies else ()
        scratch = setup.dependencies.scratch() if setup.dependencies else ()
        result = run_command(command=command, cwd=cwd, timeout=setup.timeout, sandbox=setup.sandbox,
                             readonly=mounts, scratch=scratch, env=env, report_dir=Path(folder), cancel=cancel)
        report = read_reports(report_dir=Path(folder), worktree=cwd, project_report=setup.project_report)
    return Run(result=result, report=report)


def run_for_verdict(setup: TestSetup, *, cwd: Path, judging: Judging,
                    cancel: threading.Event | None = None) -> JudgedRuns:
    """Scoped first when possible; the full suite only when the scoped run is green."""
    notes: list[str] = []
    scoped_run = None
    plan = None if setup.suite_is_quick else scoped_command(setup, cwd=cwd, files=related_files(setup, judging))
    if setup.suite_is_quick:
        notes.append(f"no scoped run: the whole suite took {setup.full_suite_s:.1f} s on the base, under "
                     f"{setup.scoped_min_s:g} s (FACTORY_SCOPED_RUN_MIN_S)")
    if plan:
        scoped_run = run_once(setup, cwd=cwd, command=plan.command, extra_env=plan.env, cancel=cancel)
        if scoped_run.result.get("cancelled"):
            return cancelled_runs(scoped_run, judging)
        if scoped_run.result.get("timed_out") or scoped_run.result.get("limits"):
            verdict = judge(judging=scoped(judging), report=scoped_run.report, exit_code=scoped_run.result["exit_code"],
                            timed_out=bool(scoped_run.result.get("timed_out")), limits=scoped_run.result["limits"])
            return JudgedRuns(final=scoped_run, verdict=verdict, scoped=scoped_run, notes=notes)
        if scoped_run.conclusive:
            verdict = settle_flaky(setup, cwd=cwd, judging=scoped(judging), run=scoped_run)
            if not verdict.green:
                notes.append("the related tests failed, so the full suite did not run")
                return JudgedRuns(final=scoped_run, verdict=verdict, scoped=scoped_run, notes=notes)
        else:
            notes.append("the scoped run was inconclusive (no report or an unusual exit code); the full suite decides")
    full_run = run_once(setup, cwd=cwd, command=setup.command, cancel=cancel)
    if full_run.result.get("cancelled"):
        return cancelled_runs(full_run, judging)
    verdict = settle_flaky(setup, cwd=cwd, judging=judging, run=full_run)
    return JudgedRuns(final=full_run, verdict=verdict, scoped=scoped_run, full=full_run, notes=notes)


def cancelled_runs(run: Run, judging: Judging) -> JudgedRuns:
    verdict = Verdict(green=False, basis="exit_code", reason="cancelled: another candidate already won",
                      base_commit=judging.base_commit, base_branch=judging.base_branch)
    return JudgedRuns(final=run, verdict=verdict)


def scoped(judging: Judging) -> Judging:
    return Judging(**{**judging.__dict__, "full_run": False})


def settle_flaky(setup: TestSetup, *, cwd: Path, judging: Judging, run: Run) -> Verdict:
    """Judge the run; tests it broke are re-run once on their own, and those that pass then are flaky."""
    verdict = judge(judging=judging, report=run.report, exit_code=run.result["exit_code"],
                    timed_out=bool(run.result.get("timed_out")), limits=run.result.get("limits") or ())
    if not verdict.broken:
        return verdict
    rerun = run_once(setup, cwd=cwd, **rerun_of(setup, verdict.broken))
    outcomes = rerun.report.outcomes() if rerun.report else {}
    flaky = [test_id for test_id in verdict.broken if outcomes.get(test_id) == "passed"]
    if not flaky:
        return verdict
    verdict.flaky = flaky
    verdict.broken = [test_id for test_id in verdict.broken if test_id not in flaky]
    verdict.green, verdict.reason = conclude(verdict, judging=judging)
    return verdict


class Rerun(TypedDict):
    command: str
    extra_addopts: NotRequired[str]


def rerun_of(setup: TestSetup, test_ids: list[str]) -> Rerun:
    """pytest runs just those tests (their node ids, and -k in case the command names folders of its own);
    other runners run their whole command again."""
    if not PYTEST.search(setup.command):
        return {"command": setup.command}
    node_ids = " ".join(shlex.quote(test_id) for test_id in test_ids if "::" in test_id)
    return {"command": f"{setup.command} {node_ids}".strip(),
            "extra_addopts": "-k " + shlex.quote(" or ".join(rerun_names(test_ids)))}


def related_files(setup: TestSetup, judging: Judging) -> list[str]:
    """What the scoped run covers: changed files and the test files the ticket names."""
    named = [entry.split("::", 1)[0].strip() for entry in judging.required]
    candidates = sorted({*judging.changed_files, *(path for path in named if PurePosixPath(path).suffix)})
    if PYTEST.search(setup.command) and not setup.quick_command:
        return [path for path in candidates if PYTHON_TEST_FILE.search(path)]
    return candidates


def scoped_command(setup: TestSetup, *, cwd: Path, files: list[str]) -> Scoped | None:
    """The scoped run, or None when there is none to make (no related file, a runner it cannot narrow)."""
    existing = [path for path in files if (cwd / path).is_file() and "\n" not in path]
    if not existing:
        return None
    quoted = " ".join(shlex.quote(path) for path in existing)
    if setup.quick_command:
        return Scoped(setup.quick_command.replace("{files}", quoted))
    if PYTEST.search(setup.command):
        return Scoped(f"{setup.command} {quoted}")
    if any(runner.search(setup.command) or runs_script_of(cwd, setup.command, runner)
           for runner in (JEST, VITEST)):
        return Scoped(setup.command, env={RELATED_ENV: "\n".join(existing)})
    return None


def runs_script_of(cwd: Path, command: str, runner: re.Pattern[str]) -> bool:
    """Whether `command` runs the project's package.json script that runs `runner` (through other scripts too)."""
    scripts = package_scripts(cwd)
    for _ in range(SCRIPT_HOPS):
        found = NPM_SCRIPT.match(command)
        if found is None:
            return False
        name = "test" if found["script"] == "t" else found["script"]
        command = scripts.get(name, "")
        if runner.search(command):
            return True
    return False


def package_scripts(cwd: Path) -> dict[str, str]:
    """package.json's scripts (a project's file: anything unexpected is no scripts)."""
    try:
        scripts = json.loads((cwd / "package.json").read_text(errors="replace")).get("scripts")
    except (OSError, ValueError, AttributeError):
        return {}
    return {str(key): value for key, value in scripts.items() if isinstance(value, str)} \
        if isinstance(scripts, dict) else {}


def merge_details(blocking: list[Failure], *, console: list[Failure]) -> list[Failure]:
    """Blocking tests, with the console's richer details (traceback) when it names the same test."""
    by_name = {item.get("name", ""): item for item in console}
    merged = []
    for item in blocking:
        match = by_name.get(item["name"]) or next(
            (found for name, found in by_name.items() if name and item["name"].endswith(name.split("::")[-1])), None)
        merged.append(Failure(name=item["name"], message=item["message"],
                              details=match["details"] if match and match.get("details") else item["details"]))
    return merged


def is_test_file(path: str) -> bool:
    return bool(PYTHON_TEST_FILE.search(path) or JS_TEST_FILE.search(path))


def outcomes_on_base(setup: TestSetup, *, base_tree: Path, worktree: Path, files: list[str],
                     cancel: threading.Event | None = None,
                     contents: dict[str, bytes] | None = None) -> dict[str, str] | None:
    """The attempt's test `files` (and its conftest.py files) copied onto a checkout of the base commit and run
    there in the sandbox: their outcomes, or None when this runner cannot run just those files. `contents`: the
    files as read before the attempt's own run (agent.testruns.baserun), instead of reading them from `worktree` now."""
    if contents is None:
        contents = read_files(worktree, files)
    copied = [path for path, data in contents.items() if write_into(base_tree, path, data)]
    plan = scoped_command(setup, cwd=base_tree, files=[path for path in copied if is_test_file(path)])
    if plan is None:
        return None
    run = run_once(setup, cwd=base_tree, command=plan.command, extra_env=plan.env, cancel=cancel)
    return run.report.outcomes() if run.report else None


def read_files(root: Path, paths: list[str]) -> dict[str, bytes]:
    """Regular files only, never through a link (a model-written test file is hostile)."""
    found = {}
    for path in paths:
        source = resolved_inside(root, path)
        if source is not None and not (root / path).is_symlink() and source.is_file():
            found[path] = source.read_bytes()
    return found


def write_into(target_root: Path, path: str, data: bytes) -> bool:
    target = resolved_inside(target_root, path)
    if target is None:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        target.unlink()
    target.write_bytes(data)
    return True
