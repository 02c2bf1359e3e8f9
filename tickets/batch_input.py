"""Reading a batch request: every item validated like POST /api/factory/tickets, all errors reported at once.

The body is `{"project": optional default, "tickets": [ticket, ...]}` or a bare
list of tickets. Each ticket is what POST /api/factory/tickets takes, except
that `depende_de` may also hold integers: the position of an EARLIER ticket in
the same batch (0-based). Errors name the item and the field:
`{"tickets": {"2": {"prioridad": ["..."]}, "3": {"depende_de": ["..."]}}}`.
"""
import uuid
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from restkit.fields import StrictSlugField
from tickets import selectors
from tickets.batch import MAX_BATCH, BatchItem, index_problem
from tickets.models import Project, Ticket
from tickets.serializers import TicketWriteSerializer

BODY_KEYS = ("project", "tickets")


# The batch's shape for the API schema (parse_batch reads the body itself, item by item).
@extend_schema_field({"oneOf": [{"type": "string", "format": "uuid"}, {"type": "integer", "minimum": 0}]})
class BatchReference(serializers.Field):
    """A ticket UUID, or the 0-based position of an earlier ticket of the same batch."""


class BatchTicketSerializer(TicketWriteSerializer):
    depende_de = serializers.ListField(child=BatchReference(), required=False)


class TicketBatchSerializer(serializers.Serializer):
    refuses_unknown_fields = True

    project = StrictSlugField(required=False, help_text="Default project for the tickets that name none.")
    # With many=True DRF hands min_length and max_length to the ListSerializer; the stubs only know the child's
    # arguments.
    tickets = BatchTicketSerializer(many=True, min_length=1, max_length=MAX_BATCH, help_text=(  # type: ignore[call-arg]
        "Tickets as POST /api/factory/tickets takes them; depende_de may also name an earlier ticket of this "
        "list by its 0-based position. A bare JSON list of tickets is accepted too."))


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


def split_body(data: Any) -> tuple[list[Any], str | None]:
    tickets: object
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
    if project is None:  # a "project" the serializer refused is among the errors above
        raise serializers.ValidationError({"project": [missing_project_reason()]})
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
