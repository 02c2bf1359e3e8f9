from rest_framework import serializers

from memory.models import Kind, MemoryItem, Source
from tickets.models import Project, Ticket
from tickets.serializers import RelativePathField


class MemoryItemSerializer(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(slug_field="name", read_only=True)
    ticket = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = MemoryItem
        fields = ["id", "text", "kind", "source", "project", "ticket", "files", "tags", "created_at",
                  "needs_embedding"]
        read_only_fields = fields


_CREATED_AT = serializers.DateTimeField()


def search_rows(found: list[tuple[MemoryItem, float]]) -> list[dict]:
    """Search results as MemoryItemSerializer shows items, plus the score, built without a serializer per item
    (a DRF serializer costs more per item than the whole search; memory/tests/test_api_rows.py keeps them equal)."""
    return [
        {"id": str(item.id), "text": item.text, "kind": item.kind, "source": item.source,
         "project": item.project.name if item.project_id else None, "ticket": item.ticket_id, "files": item.files,
         "tags": item.tags, "created_at": _CREATED_AT.to_representation(item.created_at),
         "needs_embedding": item.needs_embedding, "score": score}
        for item, score in found
    ]


class MemoryStoreSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=20_000)
    kind = serializers.ChoiceField(choices=Kind.choices)
    source = serializers.ChoiceField(choices=Source.choices, default=Source.ARCHITECT)
    project = serializers.SlugField(required=False, allow_null=True)
    ticket = serializers.UUIDField(required=False, allow_null=True)
    files = serializers.ListField(child=RelativePathField(), required=False, default=list)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False, default=list)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
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
    project = serializers.SlugField(required=False)
    kind = serializers.ChoiceField(choices=Kind.choices, required=False)
    tags = serializers.CharField(required=False, help_text="Comma-separated; an item matches with any of them.")
