"""The benchmark harness behind `manage.py factory_bench`: a suite run end to end through the real factory.

A suite (bench/suites/<name>/) is a starting repository, tickets written as an architect writes them,
hidden acceptance tests per ticket and a reference solution per ticket. For every repeat the harness
seeds a fresh bare remote, creates a project and then, in the suite's order, each ticket; the agent
runs it in this process with the chosen model (exactly as a worker would); the hidden tests judge the
ticket's worktree. An accepted ticket is approved and merged. Any other one is cancelled and the
suite's reference solution is committed to main instead, and so are the solutions of tickets left out
of a subset: every ticket starts from the base the suite was written for, whatever came before it.
"""
import os
import platform
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction

from agent.core.edits import apply_edits
from agent.defaults import dependencies_for, sandbox_policy
from agent.testruns.command import run_command
from agent.worker.queueing import agent_queue_paused
from agent.worker.runner import run_ticket
from factory_bench.report import metrics_lines, per_ticket_summary, summarize, table_header, table_row, ticket_result
from factory_bench.suite import (
    SCRIPTED,
    SUITES_DIR,
    BenchmarkError,
    ModelSource,
    Suite,
    SuiteTicket,
    available_suites,
    load_suite,
    model_source,
)
from tickets import decisions as review
from tickets import repos, services
from tickets.models import Project, Ticket
from tickets.roles import ARCHITECT, REVIEWER, grant_role
from tickets.states import FINAL, State

__all__ = ["SCRIPTED", "SUITES_DIR", "Benchmark", "BenchmarkError", "available_suites", "default_report_path",
           "load_suite", "metrics_lines", "model_source", "seed_remote"]

REPORTS_DIR = settings.BASE_DIR / "bench" / "reports"
BENCH_USERNAME = "factory-bench"
BRANCH = "main"
HIDDEN_OUTPUT_CHARS = 2000
BENCH_GIT_ENV = {
    "GIT_AUTHOR_NAME": "factory bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "factory bench", "GIT_COMMITTER_EMAIL": "bench@localhost", "GIT_TERMINAL_PROMPT": "0",
}

Output = Callable[[str], None]


# Git ------------------------------------------------------------------------


def git(cwd: Path, *args: str) -> str:
    completed = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                               env={**os.environ, **BENCH_GIT_ENV})
    if completed.returncode != 0:
        raise BenchmarkError(f"git {' '.join(args[:2])} failed in {cwd}: {completed.stderr.strip()[-500:]}")
    return completed.stdout


def seed_remote(*, suite: Suite, remote: Path, scratch: Path) -> Path:
    """A bare repository whose main holds the suite's starting repository as one commit."""
    work = scratch / f"{remote.stem}-seed"
    shutil.copytree(suite.path / "repo", work,
                    ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc", "node_modules"))
    git(work, "init", "-q", "-b", BRANCH)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", f"{suite.name}: starting repository")
    remote.parent.mkdir(parents=True, exist_ok=True)
    git(scratch, "clone", "-q", "--bare", str(work), str(remote))
    shutil.rmtree(work)
    return remote


def commit_reference(*, remote: Path, answer: str, message: str, scratch: Path) -> str:
    """Commit a whole-file reference answer on the remote's main; returns the new commit."""
    work = scratch / f"reference-{uuid.uuid4().hex[:8]}"
    git(scratch, "clone", "-q", "--branch", BRANCH, str(remote), str(work))
    try:
        result = apply_edits(root=work, answer=answer)
        if not result.ok:
            reasons = "; ".join(f"{failure.path}: {failure.reason}" for failure in result.failed)
            raise BenchmarkError(f"{message}: the reference answer does not apply: {reasons}")
        git(work, "add", "-A")
        git(work, "commit", "-q", "--allow-empty", "-m", message)
        git(work, "push", "-q", "origin", f"HEAD:refs/heads/{BRANCH}")
        return git(work, "rev-parse", "HEAD").strip()
    finally:
        shutil.rmtree(work, ignore_errors=True)


# Judging --------------------------------------------------------------------


def judge(*, suite: Suite, key: str, ticket: Ticket) -> dict:
    """Run the ticket's hidden tests in its worktree (copied in flat with the shared ones, removed afterwards).

    Same sandbox as the agent's own test runs, with the base commit's installed dependencies.
    """
    if ticket.branch_name is None:  # a completed ticket always has its branch
        raise BenchmarkError(f"{key}: the completed ticket names no branch to judge")
    repo = repos.project_repo(ticket.project)
    worktree = repo.worktree_path(ticket.branch_name)
    target = worktree / suite.hidden_tests_dir
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for source in suite.hidden_files(key):
        shutil.copy2(source, target / source.name)
    base = ticket.change.base
    try:
        with dependencies_for(project=ticket.project, repo=repo, base=base) as dependencies:
            mounts = dependencies.mounts() if dependencies else ()
            result = run_command(command=suite.hidden_test_command, cwd=worktree,
                                 timeout=settings.FACTORY_TEST_TIMEOUT, sandbox=sandbox_policy(), readonly=mounts)
    finally:
        shutil.rmtree(target, ignore_errors=True)
    return {
        "passed": result["success"], "tests_passed": result["passed"], "tests_failed": result["failed"],
        "errors": result["errors"], "timed_out": result["timed_out"], "seconds": result["duration_s"],
        "failures": [failure.get("name", "") for failure in result.get("failures", [])][:20],
        "output_tail": "" if result["success"] else result.get("output_tail", "")[-HIDDEN_OUTPUT_CHARS:],
    }


def hidden_summary(hidden: dict) -> str:
    counts = f"{hidden['tests_passed']} passed, {hidden['tests_failed']} failed, {hidden['errors']} errors"
    names = ", ".join(name.split("::")[-1] for name in hidden["failures"][:3])
    return f"{counts}{' (timed out)' if hidden['timed_out'] else ''}{': ' + names if names else ''}"


# The run --------------------------------------------------------------------


def bench_user() -> User:
    """The architect and reviewer of benchmark tickets; it cannot log in."""
    with transaction.atomic():
        user, created = get_user_model().objects.get_or_create(username=BENCH_USERNAME)
        if created:
            user.set_unusable_password()
            user.save()
        grant_role(user, ARCHITECT)
        grant_role(user, REVIEWER)
    return user


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def default_report_path(*, suite: str, model: str, started: datetime) -> Path:
    safe_model = "".join(char if char.isalnum() or char in ".-_" else "-" for char in model)
    return REPORTS_DIR / f"{suite}-{safe_model}-{started:%Y%m%dT%H%M%SZ}.json"


class Benchmark:
    """One `factory_bench` invocation: N repeats of a suite (or of a subset of it) with one model."""

    def __init__(self, *, suite: Suite, models: ModelSource, keys: list[str], repeat: int, data_dir: Path,
                 out: Output, worker: bool = False) -> None:
        self.suite, self.models, self.keys, self.repeat = suite, models, keys, repeat
        self.data_dir, self.out, self.worker = data_dir, out, worker
        self.user: User | None = None  # run() sets it (a database write, so not at construction)
        self.current: Ticket | None = None
        self.report = self.new_report()

    def new_report(self) -> dict:
        return {
            "suite": self.suite.name, "suite_description": self.suite.description, "model": self.models.name,
            "model_source": self.models.describe(), "tickets": self.keys, "repeat": self.repeat,
            "settings": {"num_ctx": settings.FACTORY_NUM_CTX, "temperature": settings.FACTORY_TEMPERATURE,
                         "max_attempts": settings.FACTORY_MAX_ATTEMPTS, "edit_format": self.suite.edit_format,
                         "model_timeout_s": settings.FACTORY_MODEL_TIMEOUT,
                         "test_timeout_s": settings.FACTORY_TEST_TIMEOUT,
                         "sandbox": sandbox_policy().describe(),
                         "setup_command": self.suite.setup_command, "test_command": self.suite.test_command,
                         "hidden_test_command": self.suite.hidden_test_command},
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "started_at": utc_now(), "finished_at": None, "aborted": "", "repeats": [], "aggregate": None,
        }

    def acting_user(self) -> User:
        if self.user is None:
            raise BenchmarkError("the benchmark's user is set when run() starts")
        return self.user

    def run(self) -> dict:
        """Run every repeat; a failure that stops the benchmark is recorded in report["aborted"]."""
        self.user = bench_user()
        try:
            # In-process runs keep their tickets away from any worker; --worker hands them to it.
            with nullcontext() if self.worker else agent_queue_paused():
                for index in range(1, self.repeat + 1):
                    self.run_repeat(index)
        except (BenchmarkError, KeyboardInterrupt) as exc:
            self.report["aborted"] = str(exc) or "Interrupted."
            self.stop_current()
        self.report["finished_at"] = utc_now()
        results = [result for repeat in self.report["repeats"] for result in repeat["tickets"]]
        self.report["aggregate"] = {"metrics": summarize(results),
                                    "per_ticket": per_ticket_summary(self.report["repeats"])}
        return self.report

    def stop_current(self) -> None:
        ticket = Ticket.objects.filter(pk=self.current.pk).first() if self.current else None
        if ticket is not None and ticket.estado not in FINAL:
            services.cancel(ticket=ticket, actor=self.user, reason="Benchmark stopped: " + self.report["aborted"])

    def run_repeat(self, index: int) -> None:
        name = f"bench-{self.suite.name}-{uuid.uuid4().hex[:8]}"
        scratch = self.data_dir / "bench-scratch"
        scratch.mkdir(parents=True, exist_ok=True)
        remote = seed_remote(suite=self.suite, remote=self.data_dir / "bench-remotes" / f"{name}.git", scratch=scratch)
        project = services.create_project(name=name, repo_url=str(remote), test_command=self.suite.test_command,
                                          setup_command=self.suite.setup_command, default_branch=BRANCH,
                                          test_report=self.suite.test_report,
                                          edit_format=self.suite.edit_format)
        repeat: dict[str, Any] = {"index": index, "project": name, "remote": str(remote), "started_at": utc_now(),
                                  "finished_at": None, "tickets": [], "filled": [], "metrics": None}
        self.report["repeats"].append(repeat)
        self.out(f"\nRun {index} of {self.repeat}: suite {self.suite.name}, model {self.models.name}, "
                 f"project {name}\n{table_header()}")
        RepeatRun(bench=self, project=project, remote=remote, scratch=scratch, record=repeat).run()
        repeat["finished_at"] = utc_now()
        repeat["metrics"] = summarize(repeat["tickets"])
        self.out("\n".join(metrics_lines(repeat["metrics"])))


WORKER_PICKUP_S = 120.0


def wait_for_worker(ticket: Ticket, *, model: str) -> Ticket:
    """Wait while the agent worker (a running `Q_CLUSTER_NAME=agent qcluster`) takes and finishes the ticket."""
    deadline = time.monotonic() + WORKER_PICKUP_S
    while (current := Ticket.objects.get(pk=ticket.pk)).estado == State.PENDING and current.error_mensaje is None:
        if time.monotonic() > deadline:
            raise BenchmarkError(f"no agent worker took ticket {ticket.short_id} within {WORKER_PICKUP_S:.0f} s: "
                                 "start one on this database with `Q_CLUSTER_NAME=agent python manage.py qcluster`")
        time.sleep(0.5)
    deadline = time.monotonic() + settings.FACTORY_AGENT_TASK_TIMEOUT
    while (current := Ticket.objects.get(pk=ticket.pk)).estado == State.IN_PROGRESS:
        if time.monotonic() > deadline:
            raise BenchmarkError(f"ticket {ticket.short_id} did not finish within the agent task timeout")
        time.sleep(0.5)
    used = current.attempts.exclude(model_name="").values_list("model_name", flat=True).first()
    if used and used != model:
        raise BenchmarkError(f"the agent worker uses model {used!r}, not {model!r}: start it with "
                             f"FACTORY_MODEL={model} or run factory_bench without --worker")
    return current


class RepeatRun:
    """One pass over the suite on a fresh remote."""

    def __init__(self, *, bench: Benchmark, project: Project, remote: Path, scratch: Path, record: dict) -> None:
        self.bench, self.suite, self.project = bench, bench.suite, project
        self.remote, self.scratch, self.record = remote, scratch, record
        self.created: dict[str, Ticket] = {}
        self.replaced: set[str] = set()  # keys whose reference solution stands on main instead of the agent's
        self.notes: list[str] = []

    def run(self) -> None:
        selected = set(self.bench.keys)
        final_index = max(index for index, ticket in enumerate(self.suite.tickets) if ticket.key in selected)
        for ticket in self.suite.tickets[:final_index + 1]:
            if ticket.key in selected:
                self.record["tickets"].append(self.run_ticket(ticket))
                self.bench.out(table_row(self.record["tickets"][-1]))
            else:
                self.fill(ticket.key)
        if self.record["filled"]:
            filled = ", ".join(entry["key"] for entry in self.record["filled"])
            self.notes.insert(0, f"Not in this run: {filled}; their reference solutions were committed to {BRANCH} "
                                 "in order, so every ticket starts from the base the suite was written for.")
        for note in self.notes:
            self.bench.out(f"  {note}")

    def fill(self, key: str) -> None:
        commit = commit_reference(remote=self.remote, answer=self.suite.answer(key), scratch=self.scratch,
                                  message=f"reference solution for {key} (not in this run)")
        self.record["filled"].append({"key": key, "commit": commit})
        self.replaced.add(key)

    def run_ticket(self, suite_ticket: SuiteTicket) -> dict:
        ticket = self.create(suite_ticket)
        self.bench.current = ticket
        done: Ticket | None
        if self.bench.worker:
            done = wait_for_worker(ticket, model=self.bench.models.name)
        else:
            done = run_ticket(str(ticket.pk), model=self.bench.models.for_ticket(suite_ticket.key))
        if done is None or done.estado not in (State.COMPLETED, State.FAILED):
            raise BenchmarkError(self.not_run_message(suite_ticket.key, done))
        hidden = None
        if done.estado == State.COMPLETED:
            hidden = judge(suite=self.suite, key=suite_ticket.key, ticket=done)
        result = ticket_result(key=suite_ticket.key, ticket=done, hidden=hidden)
        self.conclude(done, result)
        self.bench.current = None
        return result

    def create(self, suite_ticket: SuiteTicket) -> Ticket:
        dependencies = [self.created[key] for key in suite_ticket.depende_de if key not in self.replaced]
        ticket, _ = services.create_ticket(actor=self.bench.user, project=self.project, fields=suite_ticket.fields,
                                           depende_de=dependencies)
        stand_ins = [key for key in suite_ticket.depende_de if key in self.replaced]
        if stand_ins:
            services.add_comment(ticket=ticket, actor=self.bench.user,
                                 text=f"Benchmark: {', '.join(stand_ins)} was not accepted, so the suite's "
                                      f"reference solution is on {BRANCH} instead and this ticket does not wait "
                                      "for it.")
        self.created[suite_ticket.key] = ticket
        return ticket

    @staticmethod
    def not_run_message(key: str, done: Ticket | None) -> str:
        if done is None:
            return (f"{key}: the agent could not claim its ticket (taken by another worker, or a dependency not "
                    "merged); stop workers on this database or give factory_bench its own DATABASE_URL.")
        return f"{key}: the model stopped answering, so the benchmark cannot go on: {done.error_mensaje}"

    def conclude(self, ticket: Ticket, result: dict) -> None:
        """Merge an accepted ticket; otherwise put the reference solution on main and cancel the ticket."""
        if result["hidden"] and result["hidden"]["passed"]:
            outcome = review.approve(ticket=ticket, user=self.bench.acting_user())
            if outcome.merged:
                result.update(accepted=True, final_state=State.MERGED, merge_commit=outcome.commit)
                return
            result["note"] = f"merge failed: {outcome.message}"
        reason = self.rejection(result)
        result["reference_commit"] = commit_reference(
            remote=self.remote, answer=self.suite.answer(result["key"]), scratch=self.scratch,
            message=f"reference solution for {result['key']}\n\nThe agent's change was not accepted: {reason}")
        review.cancel(ticket=ticket, user=self.bench.acting_user(),
                      reason=f"Benchmark: not accepted ({reason}); the suite's reference solution was committed "
                             f"to {BRANCH} as {result['reference_commit'][:10]} instead.")
        self.replaced.add(result["key"])
        result.update(final_state=State.CANCELLED, note=result["note"] or reason)
        self.notes.append(f"{result['key']}: not accepted, {reason}; reference solution committed to {BRANCH} as "
                          f"{result['reference_commit'][:10]} and the ticket cancelled.")

    @staticmethod
    def rejection(result: dict) -> str:
        if result["note"]:
            return result["note"]
        if result["hidden"] is not None:
            return f"the agent's tests passed but the hidden tests failed ({hidden_summary(result['hidden'])})"
        return f"the agent failed ({(result['error'] or 'no error message').splitlines()[0][:300]})"
