"""The benchmark harness behind `manage.py factory_bench`: a suite run end to end through the real factory.

A suite (bench/suites/<name>/) is a starting repository, tickets written as an architect writes them,
hidden acceptance tests per ticket and a reference solution per ticket. For every repeat the harness
seeds a fresh bare remote, creates a project and then, in the suite's order, each ticket; the agent
runs it in this process with the chosen model (exactly as a worker would); the hidden tests judge the
ticket's worktree. An accepted ticket is approved and merged. Any other one is cancelled and the
suite's reference solution is committed to main instead, and so are the solutions of tickets left out
of a subset: every ticket starts from the base the suite was written for, whatever came before it.
"""
import json
import os
import platform
import shutil
import statistics
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from agent.defaults import dependencies_for, sandbox_policy
from agent.edits import apply_edits
from agent.llm import Model, OllamaModel, ScriptedModel
from agent.queueing import agent_queue_paused
from agent.runner import run_ticket
from agent.testrun import run_command
from lib.outcomes import REACHED_TESTS, Outcome
from metrics.definitions import FIRST_ATTEMPT, TESTS_FIRST, TICKET_TIME, Target
from review import services as review
from tickets import selectors, services
from tickets.models import Project, Ticket
from tickets.roles import ARCHITECT, REVIEWER, grant_role
from tickets.states import FINAL, State

SUITES_DIR = settings.BASE_DIR / "bench" / "suites"
REPORTS_DIR = settings.BASE_DIR / "bench" / "reports"
SCRIPTED = "scripted"
BENCH_USERNAME = "factory-bench"
BRANCH = "main"
HIDDEN_OUTPUT_CHARS = 2000
BENCH_GIT_ENV = {
    "GIT_AUTHOR_NAME": "factory bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "factory bench", "GIT_COMMITTER_EMAIL": "bench@localhost", "GIT_TERMINAL_PROMPT": "0",
}
SUITE_FIELDS = ("name", "test_command", "hidden_test_command")

Output = Callable[[str], None]


class BenchmarkError(Exception):
    """A benchmark that cannot start or go on; the message says why and what to do."""


# The suite ------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteTicket:
    key: str
    fields: dict
    depende_de: tuple[str, ...]


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    description: str
    setup_command: str  # e.g. `npm ci`: the project's own setup, run by the agent like any project's
    test_report: str  # the per-test report the test command writes (relative path), if it writes one
    test_command: str
    hidden_test_command: str
    hidden_tests_dir: str
    edit_format: str
    known_wrong: str
    tickets: tuple[SuiteTicket, ...]

    def answer(self, key: str, *, wrong: bool = False) -> str:
        return (self.path / "solutions" / f"{key}{'-wrong' if wrong else ''}.md").read_text(encoding="utf-8")

    def hidden_files(self, key: str) -> list[Path]:
        return sorted(path for path in (self.path / "hidden" / key).iterdir() if path.is_file())

    def select(self, keys: list[str] | None) -> list[str]:
        """The chosen keys plus everything they depend on, in the suite's order."""
        known = {ticket.key: ticket for ticket in self.tickets}
        unknown = [key for key in keys or [] if key not in known]
        if unknown:
            raise BenchmarkError(f"Unknown ticket(s) {', '.join(unknown)} in suite {self.name}; "
                                 f"its tickets are {', '.join(known)}")
        wanted, pending = set(), list(keys or known)
        while pending:
            key = pending.pop()
            if key not in wanted:
                wanted.add(key)
                pending.extend(known[key].depende_de)
        return [ticket.key for ticket in self.tickets if ticket.key in wanted]


def available_suites(root: Path = SUITES_DIR) -> list[str]:
    return sorted(path.name for path in root.iterdir() if (path / "suite.json").is_file()) if root.is_dir() else []


def load_suite(name: str, *, root: Path = SUITES_DIR) -> Suite:
    path = root / name
    if not (path / "suite.json").is_file():
        raise BenchmarkError(f"No suite {name!r} in {root}; available: {', '.join(available_suites(root)) or 'none'}")
    try:
        config = json.loads((path / "suite.json").read_text(encoding="utf-8"))
        raw_tickets = json.loads((path / "tickets.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchmarkError(f"Suite {name}: cannot read suite.json / tickets.json: {exc}") from None
    missing = [field for field in SUITE_FIELDS if not config.get(field)]
    if missing:
        raise BenchmarkError(f"Suite {name}: suite.json lacks {', '.join(missing)}")
    try:
        tickets = tuple(suite_ticket(raw) for raw in raw_tickets)
    except (KeyError, TypeError) as exc:
        raise BenchmarkError(f"Suite {name}: every ticket in tickets.json needs a 'key' ({exc!r})") from None
    suite = Suite(name=config["name"], path=path, description=config.get("description", ""),
                  setup_command=config.get("setup_command", ""), test_report=config.get("test_report", ""),
                  test_command=config["test_command"], hidden_test_command=config["hidden_test_command"],
                  hidden_tests_dir=config.get("hidden_tests_dir", "hidden_tests"),
                  edit_format=config.get("edit_format", "auto"), known_wrong=config.get("known_wrong", ""),
                  tickets=tickets)
    check_suite(suite)
    return suite


def suite_ticket(raw: dict) -> SuiteTicket:
    return SuiteTicket(key=raw["key"], fields={name: raw[name] for name in services.DEFINITION_FIELDS if name in raw},
                       depende_de=tuple(raw.get("depende_de", ())))


def check_suite(suite: Suite) -> None:
    problems, earlier = [], set()
    for ticket in suite.tickets:
        later = [key for key in ticket.depende_de if key not in earlier]
        if later:
            problems.append(f"{ticket.key} depends on {', '.join(later)}, which is not an earlier ticket")
        earlier.add(ticket.key)
        if not (suite.path / "solutions" / f"{ticket.key}.md").is_file():
            problems.append(f"solutions/{ticket.key}.md is missing")
        if not (suite.path / "hidden" / ticket.key).is_dir():
            problems.append(f"hidden/{ticket.key}/ is missing")
    if suite.known_wrong and not (suite.path / "solutions" / f"{suite.known_wrong}-wrong.md").is_file():
        problems.append(f"solutions/{suite.known_wrong}-wrong.md is missing (suite.json known_wrong)")
    if not (suite.path / "repo").is_dir():
        problems.append("repo/ is missing")
    if problems:
        raise BenchmarkError(f"Suite {suite.name} is incomplete: {'; '.join(problems)}")


# Models ---------------------------------------------------------------------


class ModelSource(Protocol):
    name: str

    def check(self) -> None: ...
    def for_ticket(self, key: str) -> Model: ...
    def describe(self) -> dict: ...


class SuiteAnswers:
    """`--model scripted`: the suite's reference answers, and its known-wrong answer for that one ticket."""

    name = SCRIPTED

    def __init__(self, suite: Suite) -> None:
        self.suite = suite

    def check(self) -> None:
        return None

    def for_ticket(self, key: str) -> Model:
        answer = self.suite.answer(key, wrong=key == self.suite.known_wrong)
        return ScriptedModel(lambda system, user: answer, name=SCRIPTED)

    def describe(self) -> dict:
        return {"kind": SCRIPTED, "known_wrong": self.suite.known_wrong}


class OllamaModels:
    """An Ollama model, with the factory's own settings (num_ctx, temperature, timeout)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.model = OllamaModel(host=settings.OLLAMA_HOST, name=name, num_ctx=settings.FACTORY_NUM_CTX,
                                 temperature=settings.FACTORY_TEMPERATURE, timeout=settings.FACTORY_MODEL_TIMEOUT)

    def check(self) -> None:
        self.model.check()

    def for_ticket(self, key: str) -> Model:
        return self.model

    def describe(self) -> dict:
        return {"kind": "ollama", "host": settings.OLLAMA_HOST}


def model_source(name: str, suite: Suite) -> ModelSource:
    return SuiteAnswers(suite) if name == SCRIPTED else OllamaModels(name)


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
    """Run the ticket's hidden tests in its worktree (copied in flat, removed afterwards).

    Same sandbox as the agent's own test runs, with the base commit's installed dependencies.
    """
    repo = selectors.project_repo(ticket.project)
    worktree = repo.worktree_path(ticket.branch_name)
    target = worktree / suite.hidden_tests_dir
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for source in suite.hidden_files(key):
        shutil.copy2(source, target / source.name)
    base = (ticket.codigo_generado or {}).get("base") or ""
    try:
        with dependencies_for(project=ticket.project, repo=repo, base=base) as dependencies:
            mounts = dependencies.mounts(worktree=worktree) if dependencies else ()
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


# Results --------------------------------------------------------------------


def ticket_result(*, key: str, ticket: Ticket, hidden: dict | None) -> dict:
    attempts = list(ticket.attempts.order_by("number"))
    answered = [attempt for attempt in attempts if attempt.outcome != Outcome.MODEL_ERROR]
    first = answered[0].outcome if answered else None
    seconds = ((ticket.completado_en - ticket.iniciado_en).total_seconds()
               if ticket.completado_en and ticket.iniciado_en else None)
    eval_seconds = sum(attempt.eval_seconds or 0 for attempt in answered)
    prompt_seconds = sum(attempt.prompt_eval_seconds or 0 for attempt in answered)
    return {
        "key": key, "ticket_id": str(ticket.pk), "titulo": ticket.titulo, "tipo": ticket.tipo,
        "agent_state": ticket.estado, "final_state": ticket.estado, "attempts": ticket.intentos,
        "attempt_outcomes": [attempt.outcome for attempt in attempts],
        "edit_formats": sorted({attempt.edit_format for attempt in answered if attempt.edit_format}),
        "first_attempt_outcome": first,
        "tests_passed_first_attempt": first == Outcome.PASSED,
        "completed_first_attempt": ticket.estado == State.COMPLETED and first == Outcome.PASSED,
        "hidden": hidden, "accepted": False, "error": ticket.error_mensaje or "",
        "seconds": seconds, "minutes": round(seconds / 60, 3) if seconds is not None else None,
        "prompt_tokens": sum(attempt.prompt_tokens or 0 for attempt in answered),
        "eval_tokens": sum(attempt.eval_tokens or 0 for attempt in answered),
        "model_seconds": round(sum(attempt.model_seconds or 0 for attempt in answered), 3),
        "test_seconds": round(sum(attempt.test_seconds or 0 for attempt in answered), 3),
        "eval_seconds": round(eval_seconds, 3), "prompt_eval_seconds": round(prompt_seconds, 3),
        "eval_tokens_per_second": per_second(sum(attempt.eval_tokens or 0 for attempt in answered), eval_seconds),
        "prompt_tokens_per_second": per_second(sum(attempt.prompt_tokens or 0 for attempt in answered),
                                               prompt_seconds),
        "merge_commit": "", "reference_commit": "", "note": "",
    }


def per_second(amount: float, seconds: float) -> float | None:
    return round(amount / seconds, 1) if seconds else None


def rate_metric(target: Target, numerator: int, denominator: int) -> dict:
    value = round(numerator / denominator, 4) if denominator else None
    return {"label": target.label, "value": value, "count": numerator, "of": denominator, "target": target.text,
            "status": target.status(value)}


def summarize(results: list[dict]) -> dict:
    """The seed's three metrics (same definitions as the metrics page) and what explains them."""
    ran = [result for result in results if result["agent_state"] in (State.COMPLETED, State.FAILED)]
    reached = [result for result in ran if result["first_attempt_outcome"] in REACHED_TESTS]
    seconds = [result["seconds"] for result in ran if result["seconds"] is not None]
    average = mean(seconds)
    accepted = [result for result in ran if result["accepted"]]
    return {
        "tickets": len(ran),
        FIRST_ATTEMPT.key: rate_metric(FIRST_ATTEMPT, sum(r["completed_first_attempt"] for r in ran), len(ran)),
        TICKET_TIME.key: {"label": TICKET_TIME.label, "value": average,
                          "minutes": round(average / 60, 2) if average is not None else None,
                          "median": round(statistics.median(seconds), 3) if seconds else None,
                          "target": TICKET_TIME.text, "status": TICKET_TIME.status(average)},
        TESTS_FIRST.key: rate_metric(TESTS_FIRST, sum(r["tests_passed_first_attempt"] for r in reached),
                                     len(reached)),
        "accepted_by_hidden_tests": {"label": "Accepted by the hidden tests", "count": len(accepted),
                                     "of": len(ran), "value": round(len(accepted) / len(ran), 4) if ran else None},
        "prompt_tokens": sum(result["prompt_tokens"] for result in ran),
        "eval_tokens": sum(result["eval_tokens"] for result in ran),
        "tokens_per_ticket": round(sum(r["prompt_tokens"] + r["eval_tokens"] for r in ran) / len(ran)) if ran else None,
        "eval_tokens_per_second": per_second(sum(r["eval_tokens"] for r in ran if r["eval_seconds"]),
                                             sum(r["eval_seconds"] for r in ran)),
        "prompt_tokens_per_second": per_second(sum(r["prompt_tokens"] for r in ran if r["prompt_eval_seconds"]),
                                               sum(r["prompt_eval_seconds"] for r in ran)),
        "model_seconds": round(sum(result["model_seconds"] for result in ran), 3),
        "test_seconds": round(sum(result["test_seconds"] for result in ran), 3),
        "failure_reasons": failure_reasons(ran),
        "not_accepted": [result["key"] for result in ran if not result["accepted"]],
    }


def failure_reasons(results: list[dict]) -> dict:
    reasons = Counter(outcome for result in results for outcome in result["attempt_outcomes"]
                      if outcome != Outcome.PASSED)
    reasons["hidden_tests_failed"] = sum(1 for result in results if result["hidden"] and not result["hidden"]["passed"])
    reasons["merge_failed"] = sum(1 for result in results if result["note"].startswith("merge failed"))
    return {reason: count for reason, count in sorted(reasons.items()) if count}


def per_ticket_summary(repeats: list[dict]) -> dict:
    keys: dict[str, list[dict]] = {}
    for repeat in repeats:
        for result in repeat["tickets"]:
            keys.setdefault(result["key"], []).append(result)
    return {key: {"runs": len(results), "accepted": sum(r["accepted"] for r in results),
                  "completed_first_attempt": sum(r["completed_first_attempt"] for r in results),
                  "average_minutes": mean([r["minutes"] for r in results if r["minutes"] is not None])}
            for key, results in keys.items()}


def mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


# Printing -------------------------------------------------------------------

COLUMNS = (("key", 5), ("tipo", 9), ("agent", 10), ("att", 4), ("tests@1", 8), ("hidden", 7), ("accepted", 9),
           ("min", 7), ("prompt tok", 11), ("eval tok", 9), ("model s", 8), ("test s", 7))


def table_header() -> str:
    header = "".join(f"{name:<{width}}" for name, width in COLUMNS).rstrip()
    return f"{header}\n{'-' * len(header)}"


def table_row(result: dict) -> str:
    hidden = result["hidden"]
    cells = (result["key"], result["tipo"], result["agent_state"], result["attempts"],
             yes_no(result["tests_passed_first_attempt"]), "-" if hidden is None else ("pass" if hidden["passed"]
                                                                                       else "FAIL"),
             yes_no(result["accepted"]), "-" if result["minutes"] is None else f"{result['minutes']:.2f}",
             result["prompt_tokens"], result["eval_tokens"], f"{result['model_seconds']:.1f}",
             f"{result['test_seconds']:.1f}")
    return "".join(f"{str(cell):<{width}}" for cell, (_, width) in zip(cells, COLUMNS)).rstrip()


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def metrics_lines(metrics: dict) -> list[str]:
    lines = []
    for target in (FIRST_ATTEMPT, TICKET_TIME, TESTS_FIRST):
        metric = metrics[target.key]
        if target is TICKET_TIME:
            value = "-" if metric["value"] is None else f"{metric['minutes']:.2f} min"
        else:
            value = percent(metric)
        status = {"met": "met", "missed": "MISSED", "no_data": "no data"}[metric["status"]]
        lines.append(f"  {target.label:<34}{value:<20}target {metric['target']:<9}{status}")
    accepted = metrics["accepted_by_hidden_tests"]
    lines.append(f"  {accepted['label']:<34}{percent(accepted)}")
    speeds = (metrics["eval_tokens_per_second"], metrics["prompt_tokens_per_second"])
    writing, reading = ("-" if speed is None else speed for speed in speeds)
    lines.append(f"  {'Tokens per ticket':<34}{metrics['tokens_per_ticket'] or 0} (model writes {writing} "
                 f"tokens/s, reads the prompt at {reading} tokens/s)")
    if metrics["failure_reasons"]:
        reasons = ", ".join(f"{name} {count}" for name, count in metrics["failure_reasons"].items())
        lines.append(f"  {'Failed attempts and rejections':<34}{reasons}")
    return lines


def percent(metric: dict) -> str:
    if metric["value"] is None:
        return "-"
    return f"{metric['value'] * 100:.1f} % ({metric['count']}/{metric['of']})"


# The run --------------------------------------------------------------------


def bench_user() -> AbstractBaseUser:
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
    return datetime.now(dt_timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def default_report_path(*, suite: str, model: str, started: datetime) -> Path:
    safe_model = "".join(char if char.isalnum() or char in ".-_" else "-" for char in model)
    return REPORTS_DIR / f"{suite}-{safe_model}-{started:%Y%m%dT%H%M%SZ}.json"


class Benchmark:
    """One `factory_bench` invocation: N repeats of a suite (or of a subset of it) with one model."""

    def __init__(self, *, suite: Suite, models: ModelSource, keys: list[str], repeat: int, data_dir: Path,
                 out: Output, worker: bool = False) -> None:
        self.suite, self.models, self.keys, self.repeat = suite, models, keys, repeat
        self.data_dir, self.out, self.worker = data_dir, out, worker
        self.user = None
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
        repeat = {"index": index, "project": name, "remote": str(remote), "started_at": utc_now(),
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
            outcome = review.approve(ticket=ticket, user=self.bench.user)
            if outcome.merged:
                result.update(accepted=True, final_state=State.MERGED, merge_commit=outcome.commit)
                return
            result["note"] = f"merge failed: {outcome.message}"
        reason = self.rejection(result)
        result["reference_commit"] = commit_reference(
            remote=self.remote, answer=self.suite.answer(result["key"]), scratch=self.scratch,
            message=f"reference solution for {result['key']}\n\nThe agent's change was not accepted: {reason}")
        review.cancel(ticket=ticket, user=self.bench.user,
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
