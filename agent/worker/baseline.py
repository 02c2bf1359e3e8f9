"""The base commit's test results, which every attempt on that base is judged against (agent.testruns.verdict).

The project's test command runs once on a clean checkout of the base commit, in
the same sandbox and with the same dependencies as the attempts, and every test's
outcome is stored (agent.models.TestBaseline, keyed by project, commit and
command), so later tickets on the same base reuse it. After a merge the new base's
baseline is computed on the default queue (agent.tasks.refresh_baseline), so the
next ticket rarely waits for it.

A base on which the tests cannot run at all (command not found, time limit
reached) is the project's problem, not the model's: agent.errors.ProjectProblem.
"""
import fcntl
import logging

from django.conf import settings
from django.db import IntegrityError, transaction

from agent.defaults import dependencies_for, sandbox_policy
from agent.errors import ProjectProblem
from agent.models import TestBaseline
from agent.testruns.deps import Dependencies
from agent.testruns.suite import Run, TestSetup, run_once
from agent.testruns.verdict import trace_locations
from lib.safetext import cleaned, replaced
from tickets.models import Project
from tickets.repos import ProjectRepo, project_repo

log = logging.getLogger(__name__)
NOT_RUNNABLE_EXIT_CODES = (126, 127)  # the shell could not find or execute the command


def test_setup(*, project: Project, dependencies: Dependencies | None,
               known: TestBaseline | None = None) -> TestSetup:
    """How the project's tests run; `known`, the base's baseline, tells whether a scoped run is worth it."""
    seconds = (known.summary or {}).get("duration_s") if known is not None else None
    return TestSetup(command=project.test_command, timeout=settings.FACTORY_TEST_TIMEOUT, sandbox=sandbox_policy(),
                     quick_command=project.quick_test_command, project_report=project.test_report,
                     dependencies=dependencies, full_suite_s=seconds,
                     scoped_min_s=settings.FACTORY_SCOPED_RUN_MIN_S)


def find(*, project: Project, commit: str) -> TestBaseline | None:
    return TestBaseline.objects.filter(project=project, commit=commit, command=project.test_command).first()


def ensure(*, project: Project, repo: ProjectRepo, commit: str, dependencies: Dependencies | None) -> TestBaseline:
    """The stored baseline of `commit`, computed now when there is none (one process at a time per commit)."""
    found = find(project=project, commit=commit)
    if found is not None:
        return found
    lock_path = settings.FACTORY_DATA_DIR / "baselines" / project.name / f"{commit}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker computing it: wait, then read its result
        found = find(project=project, commit=commit)
        if found is not None:
            return found
        with repo.scratch_worktree(commit=commit) as tree:
            run = run_once(test_setup(project=project, dependencies=dependencies), cwd=tree,
                           command=project.test_command)
        check_runnable(project=project, commit=commit, run=run)
        return record(project=project, commit=commit, run=run)


def check_runnable(*, project: Project, commit: str, run: Run) -> None:
    result, where = run.result, f"{project.default_branch} ({commit[:10]}), before any change"
    tail = (result.get("output_tail") or "").strip()[-500:]
    if result.get("timed_out"):
        limit = settings.FACTORY_TEST_TIMEOUT
        raise ProjectProblem(f"the test command `{project.test_command}` did not finish within {limit} s "
                             f"(FACTORY_TEST_TIMEOUT={limit}) on {where}: make the suite faster or raise the limit. "
                             f"Last output: {tail}")
    if result.get("limits"):
        raise ProjectProblem(f"the test command `{project.test_command}` went over the sandbox's caps on {where}: "
                             f"{'; '.join(result['limits'])}. Make the suite lighter or raise the cap named. "
                             f"Last output: {tail}")
    if result["exit_code"] in NOT_RUNNABLE_EXIT_CODES:
        raise ProjectProblem(f"the test command `{project.test_command}` cannot run on {where} (exit "
                             f"{result['exit_code']}: not found or not executable in the sandbox): {tail}")


MAX_TRACED_FAILURES, MAX_TRACE_PLACES = 2000, 30


def traces_of(run: Run) -> dict[str, list[str]]:
    """Where each base failure ran through ("path:line"): a failure through code a ticket changes is its own."""
    failing = [case for case in run.report.cases.values() if case.failing] if run.report else []
    return cleaned({case.id: trace_locations(case.message)[:MAX_TRACE_PLACES]
                    for case in failing[:MAX_TRACED_FAILURES]}, form=replaced)


def failure_traces(known: TestBaseline) -> dict[str, list[str]]:
    traces = (known.summary or {}).get("failure_traces")
    return traces if isinstance(traces, dict) else {}  # baselines recorded before traces were kept have none


@transaction.atomic
def record(*, project: Project, commit: str, run: Run) -> TestBaseline:
    result = run.result
    summary = {name: result.get(name) for name in ("passed", "failed", "errors", "skipped", "exit_code",
                                                   "duration_s", "framework")}
    summary["failure_traces"] = traces_of(run)
    try:
        with transaction.atomic():
            return TestBaseline.objects.create(
                project=project, commit=commit, command=project.test_command,
                report=run.report.kind if run.report else "console",
                outcomes=cleaned(run.report.outcomes(), form=replaced) if run.report else None, summary=summary)
    except IntegrityError:  # another host computed it meanwhile: theirs is as good
        theirs = find(project=project, commit=commit)
        if theirs is None:
            raise
        return theirs


def refresh(*, project_id: int) -> str:
    """After a merge: the new default head's baseline, so the next ticket need not wait for it."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return "project gone"
    repo = project_repo(project)
    repo.sync()
    commit = repo.head_of_default()
    try:
        with dependencies_for(project=project, repo=repo, base=commit) as dependencies:
            baseline = ensure(project=project, repo=repo, commit=commit, dependencies=dependencies)
    except ProjectProblem as exc:
        log.warning("no baseline for %s at %s: %s", project.name, commit[:10], exc)
        return f"no baseline: {exc}"
    return f"baseline of {project.name} at {commit[:10]}: {len(baseline.outcomes or {})} tests ({baseline.report})"
