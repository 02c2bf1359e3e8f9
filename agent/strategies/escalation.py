"""The escalation ladder: FACTORY_MODEL first, then each model of FACTORY_ESCALATION (or the project's own list).

A rung whose model cannot be reached is skipped, never burned. When the last
model fails too, the ticket goes back to the architect with a hand-back: what
each model tried and why it failed.
"""
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from agent.core.loop import RunResult
from agent.core.model import Model, OllamaModel
from agent.defaults import ollama_model
from agent.strategies.probing import ready_model
from tickets.models import Project

FEEDBACK_CHARS = 1200
ERROR_CHARS = 200  # per model, in the one-line hand-back


@dataclass(frozen=True)
class Rung:
    name: str
    ready: Callable[[], Model]  # the model, probed and with num_ctx capped; raises ModelUnavailable


@dataclass
class Tried:
    model: str
    result: RunResult


def ladder(*, project: Project, explicit: Model | None) -> list[Rung]:
    """The models to try in order; a model handed in (tests, the benchmark) is the only rung."""
    if explicit is not None:
        return [Rung(name=explicit.name, ready=lambda: probed(explicit))]
    names = [settings.FACTORY_MODEL, *escalation_models(project)]
    return [Rung(name=name, ready=ready_when_asked(name)) for name in dict.fromkeys(names)]


def ready_when_asked(name: str) -> Callable[[], Model]:
    """The rung's model, probed only when the ladder reaches it."""
    return lambda: probed(ollama_model(name))


def escalation_models(project: Project) -> list[str]:
    return list(project.escalation if project.escalation is not None else settings.FACTORY_ESCALATION)


def probed(model: Model) -> Model:
    return ready_model(model)[0] if isinstance(model, OllamaModel) else model


def distilled(tried: list[Tried]) -> str:
    """For the next model's prompt: each earlier model's last failure, briefly."""
    return "\n\n".join(f"{entry.model} ({entry.result.attempts} attempts) failed: {entry.result.error}\n"
                       f"{entry.result.last_feedback[:FEEDBACK_CHARS]}".strip() for entry in tried)


def handback_line(tried: list[Tried], skipped: list[tuple[str, str]]) -> str:
    parts = [f"{entry.model} after {entry.result.attempts} attempts: {entry.result.error[:ERROR_CHARS]}"
             for entry in tried]
    parts += [f"{name} skipped (unreachable)" for name, _ in skipped]
    return "Every model failed. " + "; ".join(parts)


def handback_text(tried: list[Tried], skipped: list[tuple[str, str]]) -> str:
    """The full hand-back for the architect (an event): per model, what it tried and why it failed."""
    blocks = []
    for entry in tried:
        changed = ", ".join(entry.result.changed_files) or "nothing"
        blocks.append(f"{entry.model}: {entry.result.attempts} attempts; it changed {changed}.\n"
                      f"Why it failed: {entry.result.error}\n{entry.result.last_feedback[:FEEDBACK_CHARS]}".strip())
    blocks += [f"{name}: skipped, unreachable ({reason})" for name, reason in skipped]
    return ("No model could finish this ticket. Consider splitting it, naming the files more precisely, or "
            "adding reference files and patterns.\n\n" + "\n\n".join(blocks))
