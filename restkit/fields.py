"""Fields that refuse what they would otherwise coerce, and serializers that refuse unknown keys."""
from typing import TYPE_CHECKING

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """Refuses numbers, booleans and other non-strings instead of turning them into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictSlugField(serializers.SlugField):
    """A slug as sent: not a number, and not trimmed into one (" demo" is refused, as its schema says)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """Refuses booleans and non-integral numbers instead of coercing them."""

    def to_internal_value(self, data):
        if isinstance(data, (bool, str)) or (isinstance(data, float) and not data.is_integer()):
            self.fail("invalid")
        return super().to_internal_value(data)


if TYPE_CHECKING:  # the mixin's methods use the serializer it is mixed into
    _SerializerMixin = serializers.Serializer
else:
    _SerializerMixin = object


class RefusesUnknownFields(_SerializerMixin):
    """Keys the serializer does not take are refused with a 400 naming each one, never silently dropped.

    The API schema says so too: the request body is a closed object (factory_site.openapi).
    """

    refuses_unknown_fields = True
    # Read-only fields taken and ignored, so that what GET answered can be sent back as it is.
    ignored_read_only: frozenset[str] = frozenset()

    def unknown_field_message(self, name: str) -> str:
        if name in self.fields:
            return "This field is read-only; the factory sets it."
        return "Unknown field."

    def to_internal_value(self, data):
        errors = {}
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only} | self.ignored_read_only
            errors = {name: [self.unknown_field_message(name)] for name in sorted(set(data) - writable)}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not errors or not isinstance(exc.detail, dict):
                raise
            raise serializers.ValidationError({**errors, **exc.detail}) from None
        if errors:
            raise serializers.ValidationError(errors)
        return value
