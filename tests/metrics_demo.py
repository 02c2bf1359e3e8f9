"""Tickets with a history, built through the agent's and the reviewers' services, for the metrics tests.

`run` drives one agent run attempt by attempt, `backdate` moves a ticket's
whole history to a chosen day (the services stamp "now"), and
`build_demo_factory` makes eight weeks of plausible work for the screenshot.
"""
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from agent import services as agent_services
from lib.changerecord import ChangeRecord
from tickets import services
from tickets.models import FailureKind, Project, Ticket, TicketAttempt, TicketEvent
from tickets.states import State

REACHES_TESTS = {"passed", "tests_failed", "timeout"}


@dataclass(frozen=True)
class Answer:
    """What one answered attempt cost."""

    prompt_tokens: int = 1000
    eval_tokens: int = 200
    model_seconds: float = 30.0
    prompt_eval_seconds: float = 2.0
    eval_seconds: float = 4.0
    test_seconds: float = 10.0


def new_ticket(project: Project, titulo: str) -> Ticket:
    ticket, _ = services.create_ticket(actor=None, project=project, fields={"titulo": titulo, "descripcion": titulo})
    return ticket


def run(ticket: Ticket, *, model: str, outcomes: list[str], end: str | None, answer: Answer = Answer()) -> Ticket:
    """One agent run: claim, the given attempts, then completed / failed / released (None: still in progress)."""
    ticket = agent_services.claim_ticket(ticket_id=str(ticket.pk))
    for outcome in outcomes:
        attempt = agent_services.start_attempt(ticket=ticket, model_name=model, edit_format="whole", system="s",
                                               prompt="p", notes=[])
        if outcome == "running":
            return ticket
        if outcome == "model_down":  # unreachable server: the attempt is not made (and not kept)
            agent_services.uncount_attempt(attempt=attempt, message="Ollama is unreachable")
            continue
        if outcome == "model_error":  # the server answered with an error: counted, but no tokens or time
            agent_services.finish_attempt(attempt=attempt, fields={"outcome": outcome})
            continue
        agent_services.finish_attempt(attempt=attempt, fields={
            "outcome": outcome, "prompt_tokens": answer.prompt_tokens, "eval_tokens": answer.eval_tokens,
            "model_seconds": answer.model_seconds, "prompt_eval_seconds": answer.prompt_eval_seconds,
            "eval_seconds": answer.eval_seconds,
            "test_seconds": answer.test_seconds if outcome in REACHES_TESTS else None})
    if end == "completed":
        return agent_services.complete_ticket(ticket=ticket, tests={"success": True}, code=ChangeRecord())
    if end == "failed":
        return agent_services.fail_ticket(ticket=ticket, error=f"Failed after {len(outcomes)} attempts",
                                          kind=FailureKind.ATTEMPTS)
    if end == "released":
        return agent_services.release_ticket(ticket=ticket, error="Ollama is unreachable",
                                             kind=FailureKind.MODEL_UNAVAILABLE)
    return ticket


def backdate(ticket: Ticket, *, start: datetime, minutes: float | None, wait_s: float) -> None:
    """Move a ticket's whole history so its latest run started at `start` and, if finished, took `minutes`."""
    ticket.refresh_from_db()
    if ticket.iniciado_en is not None:
        offset = start - ticket.iniciado_en
        TicketEvent.objects.filter(ticket=ticket).update(created_at=F("created_at") + offset)
        TicketAttempt.objects.filter(ticket=ticket).update(started_at=F("started_at") + offset,
                                                           finished_at=F("finished_at") + offset)
    queued = start - timedelta(seconds=wait_s)
    Ticket.objects.filter(pk=ticket.pk).update(
        creado_en=queued - timedelta(minutes=1), queued_at=queued,
        iniciado_en=start if ticket.iniciado_en else None,
        completado_en=start + timedelta(minutes=minutes) if minutes is not None else None)


# Eight weeks of demo work ------------------------------------------------------------------------------------

PROJECTS = {"shop-api": "pytest -q", "billing": "pytest -q", "docs-site": "npm test"}
MODELS = ("qwen2.5-coder:14b", "qwen2.5-coder:32b")
FIRST_FAILURES = (("tests_failed", 0.5), ("apply_failed", 0.25), ("syntax_failed", 0.1), ("timeout", 0.08),
                  ("model_error", 0.07))


def build_demo_factory(*, weeks: int = 8, seed: int = 7) -> None:
    rng = random.Random(seed)
    reviewer = "reviewer"
    projects = [services.create_project(name=name, repo_url=f"/srv/git/{name}.git", test_command=command)
                for name, command in PROJECTS.items()]
    today = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday() + 7 * weeks)
    for week in range(weeks):
        for number in range(rng.randint(5, 9)):
            project = rng.choice(projects)
            model = MODELS[1] if rng.random() < 0.25 + week * 0.08 else MODELS[0]
            skill = (0.55 if model == MODELS[1] else 0.33) + week * 0.03
            start = monday + timedelta(days=7 * week + rng.randint(0, 4), hours=rng.randint(0, 8))
            demo_ticket(rng, project=project, model=model, skill=skill, start=start, reviewer=reviewer,
                        titulo=f"{project.name} task {week}.{number}", recent=week == weeks - 1)
    for number in range(3):
        ticket = new_ticket(rng.choice(projects), f"queued task {number}")
        backdate(ticket, start=timezone.now() - timedelta(minutes=12 * (number + 1)), minutes=None, wait_s=0)
    running = run(new_ticket(projects[0], "running task"), model=MODELS[0], outcomes=["running"], end=None)
    backdate(running, start=timezone.now() - timedelta(minutes=3), minutes=None, wait_s=40)


def demo_ticket(rng: random.Random, *, project: Project, model: str, skill: float, start: datetime,
                reviewer: str, titulo: str, recent: bool) -> None:
    outcomes = []
    for attempt in range(3):
        if rng.random() < skill + attempt * 0.1:
            outcomes.append("passed")
            break
        outcomes.append(rng.choices([name for name, _ in FIRST_FAILURES],
                                    weights=[weight for _, weight in FIRST_FAILURES])[0])
    big = model == MODELS[1]
    answer = Answer(prompt_tokens=rng.randint(3000, 9000), eval_tokens=rng.randint(300, 1400),
                    model_seconds=rng.uniform(70, 160) if big else rng.uniform(35, 90),
                    prompt_eval_seconds=rng.uniform(2, 6), eval_seconds=rng.uniform(25, 60) if big else
                    rng.uniform(12, 30), test_seconds=rng.uniform(8, 45))
    passed = outcomes[-1] == "passed"
    ticket = run(new_ticket(project, titulo), model=model, outcomes=outcomes, end="completed" if passed else "failed",
                 answer=answer)
    if passed and not recent:
        if rng.random() < 0.2:
            services.transition(ticket=ticket, to=State.CHANGES_REQUESTED, actor=reviewer, message="Rename it.")
            ticket = run(ticket, model=model, outcomes=["passed"], end="completed", answer=answer)
        services.transition(ticket=ticket, to=State.MERGED, actor=reviewer)
    minutes = sum(answer.model_seconds + answer.test_seconds for _ in outcomes) / 60 + rng.uniform(0.5, 3)
    backdate(ticket, start=start, minutes=minutes, wait_s=rng.uniform(10, 900))
