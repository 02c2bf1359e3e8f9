"""Create several tickets at once: all or nothing, with dependencies on earlier tickets of the batch.

Reading and validating the request is tickets.batch_input's job; this module
holds the domain's rules (tickets.errors on a broken one) and the creation.
"""
import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from tickets import services
from tickets.errors import IdempotencyConflict, InvalidInput
from tickets.models import Project, Ticket, TicketEvent

MAX_BATCH = 100


@dataclass
class BatchItem:
    project: Project
    fields: dict[str, Any]
    existing_dependencies: list[Ticket] = field(default_factory=list)
    batch_dependencies: list[int] = field(default_factory=list)


def index_problem(entry: int, *, index: int) -> str:
    """Why item `index` cannot depend on batch position `entry`; "" when it can (only earlier items)."""
    if entry == index:
        return f"Item {index} cannot depend on itself."
    if entry < 0:
        return f"{entry} is not a position in this batch; positions start at 0."
    if entry > index:
        earlier = {0: "none: it is the first item", 1: "item 0"}.get(index, f"items 0-{index - 1}")
        return (f"Item {entry} comes after item {index}; a ticket can only depend on earlier items of the batch "
                f"({earlier}). Reorder the batch so dependencies come first.")
    return ""


def check_items(items: list[BatchItem]) -> None:
    """The domain's rules for a batch: a size limit, and dependencies only on earlier items."""
    if not items or len(items) > MAX_BATCH:
        raise InvalidInput({"tickets": [f"Send between 1 and {MAX_BATCH} tickets; this batch has {len(items)}."]})
    problems = {str(index): {"depende_de": [problem]} for index, item in enumerate(items)
                for problem in (index_problem(entry, index=index) for entry in item.batch_dependencies) if problem}
    if problems:
        raise InvalidInput({"tickets": problems})


# Creation ------------------------------------------------------------------


class _Replayed(Exception):
    """A concurrent request with the same Idempotency-Key created the batch first."""


def create_batch(
    *, actor: User, items: list[BatchItem], idempotency_key: str | None = None, fingerprint: str = "",
) -> tuple[list[Ticket], bool]:
    """Create every ticket or none; returns (tickets in input order, created).

    With an Idempotency-Key already used by this actor for the same body, the
    first batch is returned and nothing is created.
    """
    check_items(items)
    keys = item_keys(idempotency_key, len(items)) if idempotency_key else []
    if keys:
        replay = find_batch(actor=actor, keys=keys, fingerprint=fingerprint)
        if replay is not None:
            return replay, False
    stored: list[str | None] = [*keys] if keys else [None] * len(items)
    try:
        with transaction.atomic():
            return insert_batch(actor=actor, items=items, keys=stored, fingerprint=fingerprint), True
    except _Replayed:
        replay = find_batch(actor=actor, keys=keys, fingerprint=fingerprint)
        if replay is None:
            raise IdempotencyConflict("A concurrent request with the same Idempotency-Key failed; "
                                               "retry with the same key.") from None
        return replay, False


def insert_batch(*, actor: User, items: list[BatchItem], keys: list[str | None],
                 fingerprint: str) -> list[Ticket]:
    created: list[Ticket] = []
    for position, (item, key) in enumerate(zip(items, keys, strict=True)):
        dependencies = [*item.existing_dependencies, *(created[index] for index in item.batch_dependencies)]
        ticket, fresh = services.create_ticket(
            actor=actor, project=item.project, fields=item.fields, depende_de=dependencies,
            idempotency_key=key, fingerprint=fingerprint,
        )
        if not fresh:
            raise _Replayed()
        if len(items) > 1:
            services.record_event(ticket=ticket, actor=actor, kind=TicketEvent.Kind.NOTE,
                                  message=f"Created as item {position} of a batch of {len(items)}.",
                                  data={"batch_index": position, "batch_size": len(items)})
        created.append(ticket)
    return created


def item_keys(idempotency_key: str, count: int) -> list[str]:
    # One stored key per ticket (the key is unique per user), hashed so the
    # header's full 200 characters still fit the column.
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return [f"batch:{digest}:{index}" for index in range(count)]


def find_batch(*, actor: User, keys: list[str], fingerprint: str) -> list[Ticket] | None:
    found = {ticket.idempotency_key: ticket for ticket in Ticket.objects.filter(created_by=actor,
                                                                                 idempotency_key__in=keys)}
    if not found:
        return None
    if len(found) != len(keys) or any(ticket.idempotency_hash != fingerprint for ticket in found.values()):
        raise IdempotencyConflict(
            "This Idempotency-Key was already used for a different batch; use a new key for a new batch.")
    return [found[key] for key in keys]
