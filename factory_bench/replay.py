"""`manage.py factory_bench replay`: a project's own history as its benchmark.

Each chosen commit becomes one ticket, judged alone on a fresh bare remote seeded at the commit's parent: the
subject and body are the ticket's text, its changed non-test files the files to modify, its test files (as they
are after the commit) the architect's acceptance tests, kept out of the prompt (Ticket.tests_codigo_ocultos) and
required, as for any ticket, to fail on the base and pass after the change. The agent runs in this process with
the chosen model: `gold` answers with the commit's real change (does the factory accept your own history?),
an Ollama model measures itself on your code. A commit is accepted when its ticket completes.
"""
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from agent.core.model import Model
from agent.worker.queueing import agent_queue_paused
from agent.worker.runner import run_ticket
from factory_bench import history
from factory_bench.gold import GOLD, gold_answer, gold_model
from factory_bench.harness import Output, bench_user, utc_now
from factory_bench.history import ReplayCommit
from factory_bench.replay_report import accepted_line, miss_lines, table_header, table_row, time_split, why
from factory_bench.report import metrics_lines, summarize, ticket_result
from factory_bench.suite import BenchmarkError, OllamaModels
from tickets import services
from tickets.models import Ticket, validate_tests_codigo
from tickets.states import State

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


class Replay:
    """One `factory_bench replay` invocation: the chosen commits, one ticket each, with one model."""

    def __init__(self, *, config: ReplayConfig, model: str, data_dir: Path, out: Output,
                 last: int | None = None, commits: tuple[str, ...] = (), verbose: bool = False) -> None:
        self.config, self.model_name, self.data_dir, self.out = config, model, data_dir, out
        self.last, self.commits, self.verbose = last, commits, verbose
        self.ollama = None if model == GOLD else OllamaModels(model)
        self.user: User | None = None  # run() sets it (a database write, so not at construction)
        self.mirror = data_dir / "replay-source.git"
        self.report = self.new_report()

    def check_model(self) -> None:
        """An Ollama model must answer before anything is created."""
        if self.ollama is not None:
            self.ollama.check()

    def new_report(self) -> dict:
        config = self.config
        return {
            "mode": "replay", "repository": config.source, "branch": config.branch, "model": self.model_name,
            "model_source": {"kind": GOLD} if self.ollama is None else self.ollama.describe(),
            "selection": {"last": self.last, "commits": list(self.commits)},
            "settings": {"setup_command": config.setup_command, "test_command": config.test_command,
                         "test_report": config.test_report, "edit_format": config.edit_format},
            "started_at": utc_now(), "finished_at": None, "aborted": "", "skipped": [], "commits": [],
            "aggregate": None,
        }

    def run(self) -> dict:
        self.user = bench_user()
        try:
            history.mirror_repository(source=self.config.source, branch=self.config.branch, target=self.mirror)
            shas = self.choose()
            self.out(f"\nReplay of {self.config.source} ({self.config.branch}): {len(shas)} commits, model "
                     f"{self.model_name}\n{table_header()}")
            with agent_queue_paused():  # these tickets are run here, never by a worker
                for sha in shas:
                    self.report["commits"].append(self.replay(sha))
                    self.out(table_row(self.report["commits"][-1]))
        except (BenchmarkError, KeyboardInterrupt) as exc:
            self.report["aborted"] = str(exc) or "Interrupted."
        self.report["finished_at"] = utc_now()
        entries = self.report["commits"]
        ran = [entry for entry in entries if entry["agent_state"] is not None]
        self.report["aggregate"] = {"accepted": sum(entry["accepted"] for entry in entries), "of": len(entries),
                                    "metrics": summarize(ran)}
        self.out("\n".join([*miss_lines(entries), accepted_line(entries),
                            *metrics_lines(self.report["aggregate"]["metrics"])]))
        return self.report

    def choose(self) -> list[str]:
        if self.commits:
            return [history.resolve(self.mirror, revision) for revision in self.commits]
        shas, skipped = history.last_replayable(self.mirror, branch=self.config.branch, count=self.last or 0)
        self.report["skipped"] = [{"sha": entry.sha, "subject": entry.subject, "reason": entry.reason}
                                  for entry in skipped]
        if self.verbose:
            for entry in skipped:
                self.out(f"  skipped {entry.sha[:10]} {entry.subject[:50]}: {entry.reason}")
        elif skipped:
            self.out(f"  {len(skipped)} newer commits skipped (not code-and-tests changes; --verbose says why each)")
        if len(shas) < (self.last or 0):
            self.out(f"  Only {len(shas)} replayable commits on {self.config.branch}.")
        return list(reversed(shas))  # oldest first, as they happened

    def replay(self, sha: str) -> dict:
        commit = history.read_commit(self.mirror, sha)
        problem = commit.problem or tests_problem(commit)
        if problem:
            return unreplayable(commit, problem)
        name = f"replay-{commit.short}-{uuid.uuid4().hex[:6]}"
        remote = self.data_dir / "replay-remotes" / f"{name}.git"
        base = history.seed_base(mirror=self.mirror, commit=commit, remote=remote, branch=self.config.branch)
        project = services.create_project(name=name, repo_url=str(remote), test_command=self.config.test_command,
                                          setup_command=self.config.setup_command, test_report=self.config.test_report,
                                          default_branch=self.config.branch, edit_format=self.config.edit_format)
        model, notes = self.model_for(commit)
        ticket, _ = services.create_ticket(actor=self.user, project=project, fields=ticket_fields(commit))
        done = run_ticket(str(ticket.pk), model=model)
        if done is None or done.estado not in (State.COMPLETED, State.FAILED):
            raise BenchmarkError(not_run_message(commit, done))
        return entry_for(commit, done, base=base, notes=notes)

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
                  time=time_split(ticket), why=why(ticket), files=sorted(commit.code), tests=sorted(commit.tests),
                  deleted_tests=commit.deleted_tests, answer_notes=notes)
    return result


def unreplayable(commit: ReplayCommit, problem: str) -> dict:
    return {"key": commit.short, "sha": commit.sha, "parent": commit.parent, "subject": commit.subject,
            "accepted": False, "agent_state": None, "attempts": 0, "ticket_id": None,
            "time": {"total": None, "setup": None, "model": None, "tests": None, "other": None},
            "why": f"not replayable: {problem}", "files": sorted(commit.code), "tests": sorted(commit.tests),
            "deleted_tests": commit.deleted_tests, "answer_notes": []}


def not_run_message(commit: ReplayCommit, done: Ticket | None) -> str:
    if done is None:
        return (f"{commit.short}: the agent could not claim its ticket (taken by another worker?); stop workers on "
                "this database or give factory_bench its own DATABASE_URL.")
    return f"{commit.short}: the model stopped answering, so the replay cannot go on: {done.error_mensaje}"
