"""The ticket life cycle: every allowed state change is listed here, and only here."""
from enum import StrEnum

from django.db import models


class State(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed (awaiting review)"
    FAILED = "failed", "Failed"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    MERGED = "merged", "Merged"
    CANCELLED = "cancelled", "Cancelled"


TRANSITIONS: dict[str, frozenset[str]] = {
    State.PENDING: frozenset({State.IN_PROGRESS, State.CANCELLED}),
    # back to pending: the model server was unreachable, the ticket is not burned.
    State.IN_PROGRESS: frozenset({State.COMPLETED, State.FAILED, State.PENDING, State.CANCELLED}),
    State.COMPLETED: frozenset({State.MERGED, State.CHANGES_REQUESTED, State.CANCELLED}),
    State.FAILED: frozenset({State.PENDING, State.CHANGES_REQUESTED, State.CANCELLED}),
    State.CHANGES_REQUESTED: frozenset({State.IN_PROGRESS, State.CANCELLED}),
    State.MERGED: frozenset(),
    State.CANCELLED: frozenset({State.PENDING}),
}

# States the agent may pick a ticket up from.
RUNNABLE = frozenset({State.PENDING, State.CHANGES_REQUESTED})
# States in which the ticket's definition may still be edited.
EDITABLE = frozenset({State.PENDING, State.FAILED, State.CHANGES_REQUESTED, State.CANCELLED})
FINAL = frozenset({State.MERGED, State.CANCELLED})


class TransitionError(Exception):
    """An illegal state change; the API answers it with HTTP 409."""

    def __init__(self, current: str, target: str, reason: str = "") -> None:
        self.current, self.target = current, target
        message = f"Cannot move a ticket from '{current}' to '{target}'"
        super().__init__(f"{message}: {reason}" if reason else f"{message}.")


class NotEditable(TransitionError):
    """The ticket's definition cannot change in its current state (HTTP 409)."""

    def __init__(self, current: str) -> None:
        self.current, self.target = current, current
        editable = ", ".join(sorted(EDITABLE))
        Exception.__init__(self, f"A ticket in '{current}' is not editable: its fields can change only while it is "
                                 f"{editable}. Request changes or cancel it first.")


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        allowed = sorted(TRANSITIONS.get(current, frozenset()))
        reason = f"allowed from '{current}': {', '.join(allowed)}" if allowed else f"'{current}' is final"
        raise TransitionError(current, target, reason)


class Actor(StrEnum):
    """Who changed a ticket when no person did (events show a username otherwise)."""

    AGENT = "agent"
    SYSTEM = "system"
