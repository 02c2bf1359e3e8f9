"""Runs one ticket end to end: claim, worktree, implementer loop, commit and push, results, memory."""
import logging
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django import db
from django.conf import settings
from django.db import DatabaseError

from agent import services
from agent.core.attempt import AttemptRecord
from agent.core.content import SizeLimits
from agent.core.edits import format_label
from agent.core.loop import Implementer, RunResult
from agent.core.model import Model, ModelBroken, ModelUnavailable
from agent.core.prompting import Prompt, PromptTooLarge, TicketBrief
from agent.core.workspace import Baseline, GitWorkspace
from agent.defaults import candidates_for, dependencies_for
from agent.errors import ProjectProblem, TicketProblem
from agent.models import TestBaseline
from agent.strategies.escalation import Rung, Tried, distilled, handback_line, handback_text, ladder
from agent.testruns import deps
from agent.testruns.required import RequiredTests, read_required
from agent.testruns.verdict import looks_like_test_path
from agent.worker import acceptance, baseline, diskspace, fit, heartbeat, turns, worktrees
from agent.worker.diskspace import DiskFull
from lib import gitrepo
from lib.changerecord import ChangeRecord
from lib.outcomes import Outcome
from memory import hooks as memory_hooks
from tickets.models import FailureKind, Ticket, TicketAttempt, TicketEvent
from tickets.repos import ProjectRepo, project_repo
from tickets.selectors import run_attempts
from tickets.states import State, TransitionError

log = logging.getLogger(__name__)
SYSTEM_PROMPT_PATH = Path(__file__).resolve().parent.parent / "prompts" / "implementer.md"
PHASE_INTERVAL_S = 1.0
TESTS_NEED_NOT_BITE = ("test", "tests", "refactor")  # tipos whose tests pass on the base by design


def run_ticket(ticket_id: str, *, model: Model | None = None) -> Ticket | None:
    """Claim and run a ticket; returns None when it was not runnable (taken, not ready, gone).

    `model` replaces the configured ladder (FACTORY_MODEL, then FACTORY_ESCALATION) with that one model.
    """
    ticket = services.claim_ticket(ticket_id=ticket_id)
    if ticket is None:
        return None
    with heartbeat.Heartbeat(ticket=ticket):
        try:
            return run_claimed(ticket, model=model)
        except DatabaseError as exc:
            return heartbeat.after_database_loss(ticket=ticket, error=exc)


def run_claimed(ticket: Ticket, *, model: Model | None) -> Ticket:
    recorder = AttemptRecorder(ticket=ticket, model_name=model.name if model else settings.FACTORY_MODEL)
    try:
        return execute_with_room(ticket=ticket, rungs=ladder(project=ticket.project, explicit=model), recorder=recorder,
                                 num_ctx=getattr(model, "num_ctx", settings.FACTORY_NUM_CTX))
    except DiskFull as exc:
        return wait_for_disk(ticket, recorder=recorder, error=exc)
    except RunSuperseded:
        recorder.abandon("The ticket was cancelled or restarted during the run.",
                         outcome=Outcome.ERROR)
        current = Ticket.objects.get(pk=ticket.pk)
        if current.estado == State.CANCELLED and current.branch_name:
            project_repo(current.project).recycle_worktree(current.branch_name)
        return current
    except ModelUnavailable as exc:
        message = str(exc)
        recorder.abandon(message)
        services.record_health(key="model", ok=False, message=message)
        flag = "model_broken" if isinstance(exc, ModelBroken) else ""
        return finish(ticket, lambda: services.release_ticket(ticket=ticket, error=message, flag=flag,
                                                              kind=FailureKind.MODEL_UNAVAILABLE))
    except (gitrepo.GitError, ProjectProblem) as exc:
        # Not the model's fault: no attempt is burned, and a person is told what to fix.
        message = f"Fix the project: {exc}"
        recorder.abandon(message, outcome=Outcome.ERROR)
        return finish(ticket, lambda: services.fail_ticket(ticket=ticket, error=message, kind=FailureKind.PROJECT))
    except (PromptTooLarge, TicketProblem) as exc:
        message = str(exc)
        recorder.abandon(message, outcome=Outcome.ERROR)
        return finish(ticket, lambda: services.fail_ticket(ticket=ticket, error=message, kind=FailureKind.TICKET))
    except DatabaseError:
        raise  # the bookkeeping below needs the database: run_ticket reconnects first
    except Exception as exc:  # the ticket must never stay in_progress with nobody working on it
        log.exception("agent run of %s crashed", ticket.pk)
        message = f"Internal error in the agent: {exc!r}"
        recorder.abandon(message, outcome=Outcome.ERROR)
        return finish(ticket, lambda: services.fail_ticket(ticket=ticket, error=message, kind=FailureKind.INTERNAL))


def execute_with_room(*, ticket: Ticket, rungs: list[Rung], recorder: "AttemptRecorder", num_ctx: int) -> Ticket:
    """The fit check, then execute, started only with FACTORY_MIN_FREE_MB free (the fit check may clone); a write
    refused for lack of space becomes DiskFull."""
    diskspace.ensure_room()
    try:
        fit.check_fit(ticket=ticket, num_ctx=num_ctx)
        return execute(ticket=ticket, rungs=rungs, recorder=recorder)
    except DatabaseError:
        raise
    except Exception as exc:
        if diskspace.is_disk_full(exc):
            raise DiskFull(f"the disk filled during the run ({' '.join(str(exc).split())[:300]})") from exc
        raise


def wait_for_disk(ticket: Ticket, *, recorder: "AttemptRecorder", error: DiskFull) -> Ticket:
    """The machine's problem: the attempt is not counted, the run's files are removed, the ticket waits."""
    message = f"Waiting for disk space: {error}"
    recorder.abandon(message)
    current = Ticket.objects.get(pk=ticket.pk)
    diskspace.clean_after_full(repo=project_repo(ticket.project), branch=current.branch_name)
    services.record_health(key="disk", ok=False, message=message)
    return finish(ticket, lambda: services.release_ticket(ticket=ticket, error=message, flag="disk_full",
                                                          kind=FailureKind.DISK))


class RunSuperseded(Exception):
    """The ticket was cancelled, or cancelled and started again, while this run was working on it."""


def ensure_still_ours(ticket: Ticket) -> None:
    # iniciado_en identifies the run: a newer claim sets a newer one.
    if not Ticket.objects.filter(pk=ticket.pk, estado=State.IN_PROGRESS, iniciado_en=ticket.iniciado_en).exists():
        raise RunSuperseded()


def finish(ticket: Ticket, transition) -> Ticket:
    """The run's last state change, unless someone else changed the ticket meanwhile."""
    try:
        return transition()
    except TransitionError:
        return Ticket.objects.get(pk=ticket.pk)


def execute(*, ticket: Ticket, rungs: list[Rung], recorder: "AttemptRecorder") -> Ticket:
    project = ticket.project
    feedback, rebase = reviewer_feedback(ticket)
    branch = ticket.branch_name or gitrepo.branch_name_for(ticket_id=str(ticket.pk), titulo=ticket.titulo)
    repo = project_repo(project)
    worktree = repo.prepare_worktree(branch=branch, continue_existing=bool(ticket.branch_name) and not rebase)
    worktrees.refill_later(project)  # a spare was taken, or none was there: the next ticket finds one
    services.set_branch(ticket=ticket, branch=branch)
    base = merge_base(worktree=worktree, default_branch=project.default_branch)
    with dependencies_for(project=project, repo=repo, base=base) as dependencies:
        known = baseline.ensure(project=project, repo=repo, commit=base, dependencies=dependencies)
        if ticket.tests_codigo:
            acceptance.check_they_fail_on_base(repo=repo, base=base, branch=project.default_branch,
                                               setup=baseline.test_setup(project=project, dependencies=dependencies),
                                               files=ticket.tests_codigo)
        workspace = make_workspace(ticket=ticket, worktree=worktree, base=base, dependencies=dependencies,
                                   known=known, repo=repo)
        workspace.place_architect_tests()
        result, handed_back = climb(ticket=ticket, rungs=rungs, workspace=workspace, recorder=recorder,
                                    brief=brief_for(ticket, feedback=feedback, required=workspace.required))
    ensure_still_ours(ticket)
    pushed = commit_and_push(ticket=ticket, workspace=workspace, branch=branch)
    code = change_summary(workspace=workspace, head=pushed)
    # This run's attempts only: a retried ticket's earlier failures are not this run's story.
    memory_hooks.remember_run(ticket=ticket, success=result.success, attempts=run_attempts(ticket=ticket),
                              handback=result.error if handed_back else "")
    ensure_still_ours(ticket)
    if result.success:
        return finish(ticket, lambda: services.complete_ticket(ticket=ticket, tests=result.tests, code=code))
    error = result.error if handed_back else f"Failed after {result.attempts} attempts: {result.error}"
    kind = FailureKind.MODELS if handed_back else FailureKind.ATTEMPTS
    failed = finish(ticket, lambda: services.fail_ticket(ticket=ticket, error=error, kind=kind, tests=result.tests,
                                                         code=code))
    repo.recycle_worktree(branch)  # the work is on the pushed branch; a retry starts from it
    return failed


def climb(*, ticket: Ticket, rungs: list[Rung], workspace: GitWorkspace, recorder: "AttemptRecorder",
          brief: TicketBrief) -> tuple[RunResult, bool]:
    """Each model of the ladder in turn until one succeeds; unreachable ones are skipped, never burned.

    The flag is true when the result is the hand-back of a ladder whose every model failed."""
    tried: list[Tried] = []
    skipped: list[tuple[str, str]] = []
    broken = False
    run_turns = turns.RunTurns(ticket_id=ticket.pk)  # once it had an answer, its requests go before new runs
    for rung in rungs:
        try:
            model = turns.taking_turns(rung.ready(), run_turns)
        except ModelUnavailable as exc:
            skipped.append((rung.name, str(exc)))
            broken = broken or isinstance(exc, ModelBroken)
            continue
        if tried:
            workspace.reset()  # a clean start on the base; the earlier run stays visible in the attempts
            services.record_escalation(ticket=ticket, from_model=tried[-1].model, to_model=model.name,
                                       reason=tried[-1].result.error)
            fields = required_fields(workspace.required, architect=shown_architect_tests(ticket))
            brief = replace(brief, earlier_runs=distilled(tried), **fields)
        recorder.model_name = model.name
        try:
            result = implementer_for(ticket=ticket, model=model, workspace=workspace, recorder=recorder).run(brief)
        except ModelUnavailable as exc:
            recorder.abandon(str(exc))
            skipped.append((rung.name, str(exc)))
            broken = broken or isinstance(exc, ModelBroken)
            continue
        if result.success:
            return result, False
        tried.append(Tried(model=model.name, result=result))
    if not tried:
        unavailable = ModelBroken if broken else ModelUnavailable
        raise unavailable("; ".join(reason for _, reason in skipped) or "no model is configured")
    if len(rungs) == 1:
        return tried[0].result, False
    return hand_back(ticket=ticket, tried=tried, skipped=skipped), True


def implementer_for(*, ticket: Ticket, model: Model, workspace: GitWorkspace,
                    recorder: "AttemptRecorder") -> Implementer:
    return Implementer(model=model, workspace=workspace, recorder=recorder,
                       system_prompt=SYSTEM_PROMPT_PATH.read_text(),
                       num_ctx=getattr(model, "num_ctx", settings.FACTORY_NUM_CTX),
                       max_attempts=settings.FACTORY_MAX_ATTEMPTS, edit_format_setting=ticket.project.edit_format,
                       candidates=candidates_for(ticket.project), temperature=settings.FACTORY_TEMPERATURE)


def hand_back(*, ticket: Ticket, tried: list[Tried], skipped: list[tuple[str, str]]) -> RunResult:
    """Every model failed: one line for error_mensaje, the whole story in an event (and in memory)."""
    last = tried[-1].result
    services.record_handback(ticket=ticket, text=handback_text(tried, skipped),
                             models=[{"model": entry.model, "attempts": entry.result.attempts,
                                      "error": entry.result.error} for entry in tried])
    return replace(last, error=handback_line(tried, skipped), attempts=sum(entry.result.attempts for entry in tried),
                   last_feedback=handback_text(tried, skipped))


def make_workspace(*, ticket: Ticket, worktree: Path, base: str, dependencies: deps.Dependencies | None,
                   known: TestBaseline, repo: ProjectRepo) -> GitWorkspace:
    return GitWorkspace(root=worktree, base=base,
                        tests=baseline.test_setup(project=ticket.project, dependencies=dependencies, known=known),
                        baseline=Baseline(commit=base, branch=ticket.project.default_branch, outcomes=known.outcomes,
                                          traces=baseline.failure_traces(known)),
                        files_to_modify=tuple(ticket.archivos_modificar),
                        required_tests=(*ticket.tests_requeridos, *ticket.tests_codigo),
                        ticket_files=ticket_files(ticket),
                        architect_tests=dict(ticket.tests_codigo),
                        tests_must_bite=ticket.tipo.strip().lower() not in TESTS_NEED_NOT_BITE,
                        required=read_required(root=worktree, entries=ticket.tests_requeridos,
                                               changeable=ticket.archivos_modificar),
                        scratch=lambda commit: repo.scratch_worktree(commit=commit),
                        limits=SizeLimits(max_file=settings.FACTORY_MAX_FILE_KB * 1024,
                                          max_change=settings.FACTORY_MAX_CHANGE_KB * 1024),
                        diff_limit=settings.FACTORY_STORED_DIFF_KB * 1024)


def ticket_files(ticket: Ticket) -> tuple[str, ...]:
    """The files a base failure in makes that test the ticket's own: those it lists, and bare test paths it names."""
    named = [entry.strip() for entry in ticket.tests_requeridos if "::" not in entry and looks_like_test_path(entry)]
    listed = [*ticket.archivos_modificar, *ticket.archivos_referencia, *named, *ticket.tests_codigo]
    return tuple(dict.fromkeys(path.strip().removeprefix("./") for path in listed if path.strip()))


def change_summary(*, workspace: GitWorkspace, head: str) -> ChangeRecord:
    """What the ticket keeps of the change (codigo_generado): a bounded diff and every file; git has the rest."""
    preview, files = workspace.bounded_diff(), workspace.stats()
    # Tests ran with the base commit's dependencies: the reviewer must know which manifests changed.
    return ChangeRecord(diff=preview.text, diff_truncated=preview.truncated, files=tuple(files), base=workspace.base,
                        head=head, dependency_manifests_changed=tuple(deps.changed_manifests(
                            [entry["path"] for entry in files])))


def merge_base(*, worktree: Path, default_branch: str) -> str:
    return gitrepo.merge_base(worktree=worktree, ref=f"origin/{default_branch}")


def reviewer_feedback(ticket: Ticket) -> tuple[str, bool]:
    """The comment that sent the ticket back, and whether to start again from the new default branch."""
    if ticket.events.filter(kind=TicketEvent.Kind.STATE).order_by("-created_at", "-id").first() is None:
        return "", False
    last_request = ticket.events.filter(kind=TicketEvent.Kind.STATE, from_state=State.CHANGES_REQUESTED,
                                        to_state=State.IN_PROGRESS).order_by("-created_at", "-id").first()
    if last_request is None:
        return "", False
    comment = (ticket.events.filter(kind=TicketEvent.Kind.COMMENT, data__feedback=True,
                                    created_at__lte=last_request.created_at)
               .order_by("-created_at", "-id").first())
    if comment is None:
        return "", False
    return comment.message, bool(comment.data.get("rebase"))


def brief_for(ticket: Ticket, *, feedback: str, required: RequiredTests) -> TicketBrief:
    # The architect's tests are shown like reference files and listed as the contract that already exists.
    architect = shown_architect_tests(ticket)
    fields = required_fields(required, architect=architect)
    return TicketBrief(
        titulo=ticket.titulo, descripcion=ticket.descripcion, tipo=ticket.tipo,
        archivos_modificar=list(ticket.archivos_modificar),
        archivos_referencia=list(dict.fromkeys([*ticket.archivos_referencia, *architect])),
        patrones_obligatorios=list(ticket.patrones_obligatorios), contexto_cipher=ticket.contexto_cipher or "",
        tests_requeridos=list(dict.fromkeys([*ticket.tests_requeridos, *architect])), **fields,
        lessons=memory_hooks.lessons_for(ticket=ticket), reviewer_feedback=feedback,
    )


def shown_architect_tests(ticket: Ticket) -> list[str]:
    """The acceptance tests the prompt names: none when the ticket hides them (a replayed commit's own tests)."""
    return [] if ticket.tests_codigo_ocultos else list(ticket.tests_codigo)


def required_fields(required: RequiredTests, *, architect: list[str]) -> dict[str, Any]:
    """What the prompt says of the named required tests: which exist in the worktree now (the architect's
    acceptance tests among them), which to write."""
    return {"tests_present": list(dict.fromkeys([*required.present, *architect])),
            "tests_to_write": list(required.to_write),
            "tests_changeable": list(required.must_run)}


def commit_and_push(*, ticket: Ticket, workspace: GitWorkspace, branch: str) -> str:
    message = f"{ticket.titulo}\n\n{ticket.descripcion.strip()[:1000]}\n\nFactory-Ticket: {ticket.pk}"
    workspace.commit(message)
    gitrepo.push_branch(worktree=workspace.root, branch=branch)
    return gitrepo.head_commit(worktree=workspace.root)


class AttemptRecorder:
    """Persists attempts as the loop goes, so the admin and review page show them live."""

    def __init__(self, *, ticket: Ticket, model_name: str) -> None:
        self.ticket, self.model_name = ticket, model_name
        self.attempt: TicketAttempt | None = None
        self._last_phase = 0.0
        self._lock = threading.Lock()
        self._thread = threading.current_thread()

    def attempt_started(self, *, prompt: Prompt, edit_format: str) -> None:
        ensure_still_ours(self.ticket)
        self.attempt = services.start_attempt(ticket=self.ticket, model_name=self.model_name,
                                              edit_format=self.shown_format([edit_format]), system=prompt.system,
                                              prompt=prompt.user, notes=prompt.notes)

    def phase(self, text: str) -> None:
        with self._lock:
            now = time.monotonic()
            if self.attempt is None or now - self._last_phase < PHASE_INTERVAL_S and text.startswith("model"):
                return
            self._last_phase = now
            services.set_phase(attempt=self.attempt, phase=text)
            if threading.current_thread() is not self._thread:
                # A candidate's thread: its connection goes back to the pool now, as the thread ends without
                # telling Django (each attempt's threads would otherwise keep one each until the pool ran dry).
                db.connection.close()

    def attempt_finished(self, record: AttemptRecord) -> None:
        reply, tests = record.reply, record.tests
        fields: dict[str, Any] = {
            "outcome": record.outcome, "feedback": record.feedback, "diff": record.diff,
            "response": reply.text if reply else "", "test_result": tests,
            "edit_results": record_edits(record), "candidates": record.candidates,
            "test_seconds": tests.get("duration_s") if tests else None,
        }
        if record.edits and record.edits.formats:  # the format the answer used, which may not be the one asked
            fields["edit_format"] = self.shown_format(record.edits.formats)
        if reply is not None:
            fields.update(prompt_tokens=reply.prompt_tokens, eval_tokens=reply.eval_tokens,
                          model_seconds=reply.total_seconds, model_wait_seconds=reply.waited_seconds,
                          prompt_eval_seconds=reply.prompt_eval_seconds,
                          eval_seconds=reply.eval_seconds, model_host=reply.host,
                          model_started_at=epoch_datetime(reply.started))
            services.record_health(key="model", ok=True)
        if self.attempt is not None:  # None only when no attempt was started: nothing to finish
            services.finish_attempt(attempt=self.attempt, fields=fields)
        self.attempt = None

    def shown_format(self, formats: list[str]) -> str:
        return format_label(setting=self.ticket.project.edit_format, formats=formats)

    def abandon(self, message: str, *, outcome: str = Outcome.MODEL_ERROR) -> None:
        if self.attempt is None:
            return
        if outcome == Outcome.MODEL_ERROR:
            services.uncount_attempt(attempt=self.attempt, message=message)
        else:
            services.finish_attempt(attempt=self.attempt, fields={"outcome": outcome, "feedback": message})
        self.attempt = None


def epoch_datetime(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


def record_edits(record: AttemptRecord) -> dict:
    result = record.edits.to_dict() if record.edits else {"applied": [], "failed": []}
    if record.syntax:
        result["syntax_errors"] = [{"path": failure.path, "reason": failure.reason} for failure in record.syntax]
    return result
