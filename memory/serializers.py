from typing import TYPE_CHECKING

from django.contrib.auth.models import User
from rest_framework import serializers

from memory.models import Kind, MemoryItem
from memory.selectors import FoundRow
from restkit.fields import RefusesUnknownFields, StrictCharField, StrictSlugField
from tickets.models import Project, Ticket
from tickets.serializers import RelativePathField

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise


class MemoryItemSerializer(serializers.ModelSerializer):
    project: "serializers.SlugRelatedField[Project]" = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True)
    ticket: "serializers.PrimaryKeyRelatedField[Ticket]" = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True)
    created_by: "serializers.SlugRelatedField[User]" = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = MemoryItem
        fields = ["id", "text", "kind", "source", "project", "ticket", "files", "tags", "created_at",
                  "needs_embedding", "created_by"]
        read_only_fields = fields


_CREATED_AT = serializers.DateTimeField()


def search_rows(found: list[FoundRow]) -> list[dict]:
    """Search results as MemoryItemSerializer shows items, plus the score, built without a serializer per item
    (a DRF serializer costs more per item than the whole search; memory/tests/test_engine.py keeps them equal)."""
    return [{**row._asdict(), "id": str(row.id), "created_at": _CREATED_AT.to_representation(row.created_at)}
            for row in found]


class MemoryStoredSerializer(MemoryItemSerializer):
    """The answer to a store: the item, whether it was there already, and why it is not embedded yet."""

    duplicate = serializers.BooleanField(help_text="The same text was stored before; this is that item.")
    warning = serializers.CharField(required=False, help_text="Stored for keyword search only, and why.")

    class Meta(MemoryItemSerializer.Meta):
        fields = MemoryItemSerializer.Meta.fields + ["duplicate", "warning"]
        read_only_fields = fields


class MemorySearchHitSerializer(MemoryItemSerializer):
    score = serializers.FloatField()

    class Meta(MemoryItemSerializer.Meta):
        fields = MemoryItemSerializer.Meta.fields + ["score"]
        read_only_fields = fields


class MemorySearchResultSerializer(serializers.Serializer):
    results = MemorySearchHitSerializer(many=True)
    mode = serializers.ChoiceField(choices=["hybrid", "bm25"], help_text=(
        "hybrid: dense vectors and BM25; bm25: keywords alone (the embedding model was unreachable)."))
    warnings = serializers.ListField(child=serializers.CharField(), required=False)


KIND_ERRORS: "dict[str, str | StrPromise]" = {"invalid_choice": '"{input}" is not a kind; use one of: ' + ", ".join(Kind.values) + "."}


class MemoryStoreSerializer(RefusesUnknownFields, serializers.Serializer):
    """What a caller sends; `source` is the caller's role, set by the server (context["source"])."""

    text = StrictCharField(max_length=20_000)
    kind = serializers.ChoiceField(choices=Kind.choices, error_messages=KIND_ERRORS)
    project = StrictSlugField(required=False, allow_null=True)
    ticket = serializers.UUIDField(required=False, allow_null=True)
    files = serializers.ListField(child=RelativePathField(), required=False, default=list)
    tags = serializers.ListField(child=StrictCharField(max_length=100), required=False, default=list)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            data = dict(data)
            claimed, own = data.pop("source", None), self.context.get("source")
            if claimed is not None and claimed != own:  # older clients send their own role: accepted
                raise serializers.ValidationError({"source": [
                    f"The server sets source from your role ('{own}'); leave it out."]})
        return super().to_internal_value(data)

    def validate_project(self, name: str | None) -> Project | None:
        if name is None:
            return None
        project = Project.objects.filter(name=name).first()
        if project is None:
            raise serializers.ValidationError(f"Unknown project {name!r}.")
        return project

    def validate_ticket(self, ticket_id) -> Ticket | None:
        if ticket_id is None:
            return None
        ticket = Ticket.objects.filter(pk=ticket_id).first()
        if ticket is None:
            raise serializers.ValidationError(f"Unknown ticket {ticket_id}.")
        return ticket


class MemorySearchSerializer(serializers.Serializer):
    q = serializers.CharField()
    k = serializers.IntegerField(min_value=1, max_value=50, default=5)
    project = StrictSlugField(required=False)
    kind = serializers.ChoiceField(choices=Kind.choices, required=False, error_messages=KIND_ERRORS)
    tags = serializers.CharField(required=False, help_text="Comma-separated; an item matches with any of them.")
