"""`manage.py factory_bench replay`: a project's own history as its benchmark.

Each chosen commit becomes one ticket, judged alone on a fresh bare remote seeded at the commit's parent: the
subject and body are the ticket's text, its changed non-test files the files to modify, its test files (as they
are after the commit) the architect's acceptance tests, kept out of the prompt (Ticket.tests_codigo_ocultos) and
required, as for any ticket, to fail on the base and pass after the change. The agent runs in this process with
the chosen model: `gold` answers with the commit's real change (does the factory accept your own history?),
an Ollama model measures itself on your code. A commit is accepted when its ticket completes.
"""
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test.utils import override_settings

from agent.core.model import Model
from agent.worker.queueing import agent_queue_paused
from agent.worker.runner import run_ticket
from factory_bench import history
from factory_bench.gold import GOLD, gold_answer, gold_model
from factory_bench.harness import Output, bench_user, utc_now
from factory_bench.history import ReplayCommit
from factory_bench.replay_report import (
    accepted_line,
    miss_lines,
    table_header,
    table_row,
    tests_pass_on_parent,
    time_split,
    why,
)
from factory_bench.report import metrics_lines, summarize, ticket_result
from factory_bench.suite import BenchmarkError, OllamaModels
from tickets import services
from tickets.models import Project, Ticket, validate_tests_codigo
from tickets.repos import project_repo
from tickets.states import FINAL, State

DEFAULT_TEST_COMMAND = "python -m pytest -q"
FIX_WORDS = ("fix", "bug", "repair", "correct")


@dataclass(frozen=True)
class ReplayConfig:
    """Where the history comes from and how the project is set up and tested (as a factory project's fields)."""

    source: str  # a path or URL git can clone
    branch: str
    test_command: str
    setup_command: str = ""
    test_report: str = ""
    edit_format: str = "auto"
    quick_test_command: str = ""


def replay_config(*, repo: str | None, project: str | None, branch: str | None, setup_command: str | None,
                  test_command: str | None, test_report: str | None) -> ReplayConfig:
    """From the command's options: a repository with its commands, or a factory project's own fields (the
    options given override them)."""
    if (repo is None) == (project is None):
        raise BenchmarkError("Say which repository: --repo PATH|URL or --project NAME (one of the two)")
    if project is None:
        return ReplayConfig(source=repo or "", branch=branch or "main", setup_command=setup_command or "",
                            test_command=DEFAULT_TEST_COMMAND if test_command is None else test_command,
                            test_report=test_report or "")
    known = Project.objects.filter(name=project).first()
    if known is None:
        names = ", ".join(Project.objects.exclude(name__startswith="replay-").exclude(name__startswith="bench-")
                          .order_by("name").values_list("name", flat=True)[:20])
        raise BenchmarkError(f"No project named {project!r} in the factory; its projects are: {names or 'none'}")
    return ReplayConfig(source=known.repo_url, branch=branch or known.default_branch,
                        setup_command=known.setup_command if setup_command is None else setup_command,
                        test_command=known.test_command if test_command is None else test_command,
                        test_report=known.test_report if test_report is None else test_report,
                        edit_format=known.edit_format, quick_test_command=known.quick_test_command)


class Replay:
    """One `factory_bench replay` invocation: the chosen commits, one ticket each, with one model."""

    def __init__(self, *, config: ReplayConfig, ollama: OllamaModels | None, data_dir: Path, out: Output,
                 last: int | None = None, commits: tuple[str, ...] = (), verbose: bool = False,
                 replayable_only: bool = False) -> None:
        """`ollama` None answers with the commits' own changes (--model gold)."""
        self.config, self.ollama, self.data_dir, self.out = config, ollama, data_dir, out
        self.model_name = GOLD if ollama is None else ollama.name
        self.last, self.commits, self.verbose, self.replayable_only = last, commits, verbose, replayable_only
        self.user: User | None = None  # run() sets it (a database write, so not at construction)
        self.mirror = data_dir / "replay-source.git"
        self.project_name = f"replay-{Path(config.source.rstrip('/')).stem[:40]}-{uuid.uuid4().hex[:8]}"
        self.remote = data_dir / "replay-remotes" / f"{self.project_name}.git"
        self.created: Project | None = None
        self.current: Ticket | None = None  # the ticket being run, cancelled if the replay stops
        self.report = self.new_report()

    def new_report(self) -> dict:
        config = self.config
        return {
            "mode": "replay", "repository": config.source, "branch": config.branch, "model": self.model_name,
            "model_source": {"kind": GOLD} if self.ollama is None else self.ollama.describe(),
            "selection": {"last": self.last, "commits": list(self.commits)}, "project": None,
            "settings": {"setup_command": config.setup_command, "test_command": config.test_command,
                         "quick_test_command": config.quick_test_command, "max_attempts": self.max_attempts(),
                         "test_report": config.test_report, "edit_format": config.edit_format},
            "started_at": utc_now(), "finished_at": None, "aborted": "", "skipped": [], "commits": [],
            "aggregate": None,
        }

    def run(self) -> dict:
        self.user = bench_user()
        try:
            history.mirror_repository(source=self.config.source, branch=self.config.branch, target=self.mirror)
            wanted = f"the newest {self.last} commits changing code and tests" if self.last else "the listed commits"
            self.out(f"\nReplay of {self.config.source} ({self.config.branch}): {wanted}, newest first, model "
                     f"{self.model_name}\n{table_header()}")
            with agent_queue_paused():  # these tickets are run here, never by a worker
                self.replay_all()
        except (BenchmarkError, KeyboardInterrupt) as exc:
            self.report["aborted"] = str(exc) or "Interrupted."
            self.stop_current()
        self.report["finished_at"] = utc_now()
        entries = self.report["commits"]
        ran = [entry for entry in entries if entry["agent_state"] is not None]
        self.report["aggregate"] = {"accepted": sum(entry["accepted"] for entry in entries), "of": len(entries),
                                    "metrics": summarize(ran)}
        self.out("\n".join([*self.skipped_lines(), *miss_lines(entries), accepted_line(entries),
                            *metrics_lines(self.report["aggregate"]["metrics"])]))
        return self.report

    def replay_all(self) -> None:
        entries = self.report["commits"]
        for sha in self.candidates():
            entry = self.replay(sha)
            if self.replayable_only and entry["tests_pass_on_parent"]:
                self.skip(sha, entry["subject"], f"its tests pass on its parent ({entry['why']})")
                continue
            entries.append(entry)
            self.out(table_row(entry))
            if len(entries) == self.last:
                return  # before the walk reads one commit more
        if self.last is not None and len(entries) < self.last:
            self.out(f"  Only {len(entries)} replayable commits on {self.config.branch}.")

    def candidates(self) -> Iterator[str]:
        if self.commits:
            yield from (history.resolve(self.mirror, revision) for revision in self.commits)
            return
        for sha, subject, problem in history.first_parent_walk(self.mirror, branch=self.config.branch):
            if problem:
                self.skip(sha, subject, problem)
            else:
                yield sha

    def skip(self, sha: str, subject: str, reason: str) -> None:
        self.report["skipped"].append({"sha": sha, "subject": subject, "reason": reason})
        if self.verbose:
            self.out(f"  skipped {sha[:10]} {subject[:50]}: {reason}")

    def skipped_lines(self) -> list[str]:
        skipped = self.report["skipped"]
        if not skipped or self.verbose:
            return []
        return [f"  {len(skipped)} commits passed over (not code-and-tests changes"
                f"{', or tests passing on the parent' if self.replayable_only else ''}; --verbose says why each)"]

    def replay(self, sha: str) -> dict:
        commit = history.read_commit(self.mirror, sha)
        problem = commit.problem or tests_problem(commit)
        if problem:
            return unreplayable(commit, problem)
        base = history.seed_base(mirror=self.mirror, commit=commit, remote=self.remote, branch=self.config.branch)
        project = self.project()
        project_repo(project).sync()  # the fit check reads the last fetch: this base, not the previous one
        model, notes = self.model_for(commit)
        ticket, _ = services.create_ticket(actor=self.user, project=project, fields=ticket_fields(commit))
        self.current = ticket
        # A commit has one real change: attempts after a gold miss would only re-send it (and hide the miss's why).
        with override_settings(FACTORY_MAX_ATTEMPTS=self.max_attempts()):
            done = run_ticket(str(ticket.pk), model=model)
        if done is None or done.estado not in (State.COMPLETED, State.FAILED):
            raise BenchmarkError(not_run_message(commit, done))
        self.current = None
        return entry_for(commit, done, base=base, notes=notes)

    def stop_current(self) -> None:
        """A ticket left running by an interruption is cancelled, so no worker picks it up later."""
        ticket = Ticket.objects.filter(pk=self.current.pk).first() if self.current else None
        if ticket is not None and ticket.estado not in FINAL:
            services.cancel(ticket=ticket, actor=self.user, reason="Replay stopped: " + self.report["aborted"])

    def project(self) -> Project:
        """One project for the whole replay, its remote's branch moved to each commit's base in turn: its
        dependency cache and spare checkouts serve every commit (the dependencies are installed again only when
        the manifests change)."""
        if self.created is None:
            self.created = services.create_project(
                name=self.project_name, repo_url=str(self.remote), test_command=self.config.test_command,
                setup_command=self.config.setup_command, test_report=self.config.test_report,
                default_branch=self.config.branch, edit_format=self.config.edit_format,
                quick_test_command=self.config.quick_test_command)
            self.report["project"] = self.project_name
        return self.created

    def max_attempts(self) -> int:
        return 1 if self.ollama is None else settings.FACTORY_MAX_ATTEMPTS

    def model_for(self, commit: ReplayCommit) -> tuple[Model, list[str]]:
        if self.ollama is not None:
            return self.ollama.model, []
        answer = gold_answer(commit.code)
        return gold_model(answer), list(answer.notes)


def tests_problem(commit: ReplayCommit) -> str:
    """The commit's tests as a ticket's tests_codigo: too many or too big files cannot be one."""
    try:
        validate_tests_codigo(commit.tests)
    except ValidationError as exc:
        return f"its test files do not fit a ticket's tests_codigo: {' '.join(exc.messages)}"
    return ""


def ticket_fields(commit: ReplayCommit) -> dict[str, Any]:
    fix = commit.subject.lower().startswith(FIX_WORDS)
    return {"titulo": commit.subject[:200] or f"Commit {commit.short}",
            "descripcion": commit.body or commit.subject or f"Replay of commit {commit.sha}.",
            "tipo": "bugfix" if fix else "feature",
            "archivos_modificar": sorted(path for path, (_, after) in commit.code.items() if after is not None),
            "tests_codigo": dict(commit.tests), "tests_codigo_ocultos": True}


def entry_for(commit: ReplayCommit, ticket: Ticket, *, base: str, notes: list[str]) -> dict:
    result = ticket_result(key=commit.short, ticket=ticket, hidden=None)
    accepted = ticket.estado == State.COMPLETED
    result.update(sha=commit.sha, parent=commit.parent, base=base, subject=commit.subject, accepted=accepted,
                  time=time_split(ticket), why=why(ticket), tests_pass_on_parent=tests_pass_on_parent(ticket),
                  files=sorted(commit.code), tests=sorted(commit.tests),
                  deleted_tests=commit.deleted_tests, answer_notes=notes)
    return result


def unreplayable(commit: ReplayCommit, problem: str) -> dict:
    return {"key": commit.short, "sha": commit.sha, "parent": commit.parent, "subject": commit.subject,
            "accepted": False, "agent_state": None, "attempts": 0, "ticket_id": None,
            "time": {"total": None, "setup": None, "model": None, "tests": None, "other": None},
            "why": f"not replayable: {problem}", "tests_pass_on_parent": False, "files": sorted(commit.code), "tests": sorted(commit.tests),
            "deleted_tests": commit.deleted_tests, "answer_notes": []}


def not_run_message(commit: ReplayCommit, done: Ticket | None) -> str:
    if done is None:
        return (f"{commit.short}: the agent could not claim its ticket (taken by another worker?); stop workers on "
                "this database or give factory_bench its own DATABASE_URL.")
    return f"{commit.short}: the model stopped answering, so the replay cannot go on: {done.error_mensaje}"
