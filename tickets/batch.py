"""Create several tickets at once: all or nothing, with dependencies on earlier tickets of the batch.

The body is `{"project": optional default, "tickets": [ticket, ...]}` or a bare
list of tickets. Each ticket is what POST /api/factory/tickets takes, except
that `depende_de` may also hold integers: the position of an EARLIER ticket in
the same batch (0-based). Errors name the item and the field:
`{"tickets": {"2": {"prioridad": ["..."]}, "3": {"depende_de": ["..."]}}}`.
"""
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from rest_framework import serializers

from tickets import selectors, services
from tickets.models import Project, Ticket, TicketEvent
from tickets.serializers import TicketWriteSerializer

MAX_BATCH = 100
BODY_KEYS = ("project", "tickets")


@dataclass
class BatchItem:
    project: Project
    fields: dict[str, Any]
    existing_dependencies: list[Ticket] = field(default_factory=list)
    batch_dependencies: list[int] = field(default_factory=list)


# Validation --------------------------------------------------------------


def parse_batch(data: Any) -> list[BatchItem]:
    """Validate the whole batch before anything is created; raises one error naming every bad item."""
    tickets, project_name = split_body(data)
    default_project = batch_project(project_name) or selectors.only_project()
    items, errors = [], {}
    for index, raw in enumerate(tickets):
        try:
            items.append(parse_item(raw, index=index, default_project=default_project))
        except serializers.ValidationError as exc:
            errors[str(index)] = exc.detail
    if errors:
        raise serializers.ValidationError({"tickets": errors})
    return items


def split_body(data: Any) -> tuple[list, str | None]:
    if isinstance(data, list):
        tickets, project_name = data, None
    elif isinstance(data, dict):
        unknown = sorted(set(data) - set(BODY_KEYS))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field; a batch has 'tickets' and an optional "
                                                      "default 'project'."] for name in unknown})
        tickets, project_name = data.get("tickets"), data.get("project")
    else:
        raise serializers.ValidationError(
            {"tickets": ['Send {"tickets": [ticket, ...]} or a JSON list of tickets.']})
    if not isinstance(tickets, list) or not tickets:
        raise serializers.ValidationError({"tickets": ["Expected a non-empty list of tickets."]})
    if len(tickets) > MAX_BATCH:
        raise serializers.ValidationError(
            {"tickets": [f"At most {MAX_BATCH} tickets per batch; this one has {len(tickets)}."]})
    return tickets, project_name


def batch_project(name: Any) -> Project | None:
    """The batch's default project, for tickets that name none."""
    if name is None:
        return None
    project = Project.objects.filter(name=name).first() if isinstance(name, str) else None
    if project is None:
        raise serializers.ValidationError({"project": [f"Unknown project {name!r}."]})
    return project


def parse_item(raw: Any, *, index: int, default_project: Project | None) -> BatchItem:
    if not isinstance(raw, dict):
        raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object with the ticket's fields."]})
    serializer = TicketWriteSerializer(data={name: value for name, value in raw.items() if name != "depende_de"})
    valid = serializer.is_valid()
    errors = {} if valid else dict(serializer.errors)
    existing, earlier, dependency_errors = parse_dependencies(raw.get("depende_de", []), index=index)
    if dependency_errors:
        errors["depende_de"] = dependency_errors
    fields = dict(serializer.validated_data) if valid else {}
    project = fields.pop("project", None) or default_project
    if project is None and "project" not in raw:
        errors["project"] = [missing_project_reason()]
    if errors:
        raise serializers.ValidationError(errors)
    return BatchItem(project=project, fields=fields, existing_dependencies=existing, batch_dependencies=earlier)


def missing_project_reason() -> str:
    count = Project.objects.count()
    reason = "no project exists yet; create one first" if count == 0 else f"there are {count} projects"
    return f"This field is required (or give the batch a default 'project'): {reason}."


def parse_dependencies(entries: Any, *, index: int) -> tuple[list[Ticket], list[int], list[str]]:
    """Split depende_de into existing tickets (UUIDs) and earlier batch items (indexes), with errors."""
    if not isinstance(entries, list):
        return [], [], ["Expected a list of ticket ids (UUIDs) or indexes of earlier tickets in this batch."]
    ids, earlier, errors = [], [], []
    for entry in entries:
        if isinstance(entry, int) and not isinstance(entry, bool):
            problem = index_problem(entry, index=index)
            errors.extend([problem] if problem else [])
            earlier.append(entry)
        elif (ticket_id := as_uuid(entry)) is not None:
            ids.append(ticket_id)
        else:
            errors.append(f"{entry!r} is neither a ticket id (UUID) nor the index of an earlier ticket in this batch.")
    found = {ticket.pk: ticket for ticket in Ticket.objects.filter(pk__in=ids)} if ids else {}
    missing = [str(ticket_id) for ticket_id in ids if ticket_id not in found]
    if missing:
        errors.append(f"Unknown ticket(s): {', '.join(missing)}.")
    existing = [found[ticket_id] for ticket_id in dict.fromkeys(ids) if ticket_id in found]
    return existing, list(dict.fromkeys(earlier)), errors


def as_uuid(entry: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(entry) if isinstance(entry, str) else None
    except ValueError:
        return None


def index_problem(entry: int, *, index: int) -> str:
    if entry == index:
        return f"Item {index} cannot depend on itself."
    if entry < 0:
        return f"{entry} is not a position in this batch; positions start at 0."
    if entry > index:
        earlier = {0: "none: it is the first item", 1: "item 0"}.get(index, f"items 0-{index - 1}")
        return (f"Item {entry} comes after item {index}; a ticket can only depend on earlier items of the batch "
                f"({earlier}). Reorder the batch so dependencies come first.")
    return ""


# Creation ------------------------------------------------------------------


class _Replayed(Exception):
    """A concurrent request with the same Idempotency-Key created the batch first."""


def create_batch(
    *, actor: AbstractBaseUser, items: list[BatchItem], idempotency_key: str | None = None, fingerprint: str = "",
) -> tuple[list[Ticket], bool]:
    """Create every ticket or none; returns (tickets in input order, created).

    With an Idempotency-Key already used by this actor for the same body, the
    first batch is returned and nothing is created.
    """
    keys = item_keys(idempotency_key, len(items)) if idempotency_key else [None] * len(items)
    if idempotency_key:
        replay = find_batch(actor=actor, keys=keys, fingerprint=fingerprint)
        if replay is not None:
            return replay, False
    try:
        with transaction.atomic():
            return insert_batch(actor=actor, items=items, keys=keys, fingerprint=fingerprint), True
    except _Replayed:
        replay = find_batch(actor=actor, keys=keys, fingerprint=fingerprint)
        if replay is None:
            raise services.IdempotencyConflict("A concurrent request with the same Idempotency-Key failed; "
                                               "retry with the same key.") from None
        return replay, False


def insert_batch(*, actor: AbstractBaseUser, items: list[BatchItem], keys: list[str | None],
                 fingerprint: str) -> list[Ticket]:
    created: list[Ticket] = []
    for position, (item, key) in enumerate(zip(items, keys)):
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


def find_batch(*, actor: AbstractBaseUser, keys: list[str], fingerprint: str) -> list[Ticket] | None:
    found = {ticket.idempotency_key: ticket for ticket in Ticket.objects.filter(created_by=actor,
                                                                                 idempotency_key__in=keys)}
    if not found:
        return None
    if len(found) != len(keys) or any(ticket.idempotency_hash != fingerprint for ticket in found.values()):
        raise services.IdempotencyConflict(
            "This Idempotency-Key was already used for a different batch; use a new key for a new batch.")
    return [found[key] for key in keys]


# Reads ---------------------------------------------------------------------


def batch_tickets(*, ticket_ids: list) -> list[Ticket]:
    """The tickets with everything the detail serializer shows, in the given order, in a few queries."""
    queryset: QuerySet[Ticket] = (
        Ticket.objects.filter(pk__in=ticket_ids)
        .select_related("project")
        .prefetch_related("depende_de", "attempts",
                          Prefetch("events", queryset=TicketEvent.objects.order_by("created_at", "id")))
    )
    by_id = {ticket.pk: ticket for ticket in queryset}
    return [by_id[ticket_id] for ticket_id in ticket_ids]
