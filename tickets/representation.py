"""Serializer output through a plan made once per class, instead of DRF's field-by-field path.

DRF builds a ModelSerializer's fields anew for every serializer instance, then walks them for every item:
for a page of 50 tickets, or one ticket with its events and attempts, that was most of the serializer's time
(10 ms per request on the 2-core development machine). PlannedRepresentation keeps the declared fields as the
one description of the output: from them it makes, once per class, a list of (name, how to read the value,
how to convert it) and applies it to each item. tickets/tests/test_tickets_api.py checks that both paths agree.
"""
from collections.abc import Callable, Iterable
from operator import attrgetter, itemgetter
from typing import Any, ClassVar

from django.db.models.manager import BaseManager
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings


def same(value: Any) -> Any:
    return value


def whole(item: Any) -> Any:
    return item


# What DRF's own to_representation returns for values as the database gives them, without the call chain.
FAST: dict[type, Callable[[Any], Any]] = {
    serializers.CharField: same, serializers.IntegerField: same, serializers.ChoiceField: same,
    serializers.JSONField: same, serializers.UUIDField: str, serializers.ListField: list,
}


class PerInstance:
    """A conversion made when a serializer instance binds its plan (once per request, not once per value)."""

    def __init__(self, make: Callable[[], Callable[[Any], Any]]) -> None:
        self.make = make


def iso_datetime_in(zone) -> Callable[[Any], Any]:
    """DRF's DateTimeField output (ISO 8601 in the current time zone, UTC as Z) with the zone looked up once:
    looking it up per value cost 4 ms of a 50-row page."""
    def convert(value: Any) -> Any:
        if isinstance(value, str) or timezone.is_naive(value):
            return serializers.DateTimeField().to_representation(value)
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return convert


def datetime_step(field: serializers.Field) -> PerInstance | None:
    iso = getattr(field, "format", api_settings.DATETIME_FORMAT)
    if type(field) is not serializers.DateTimeField or hasattr(field, "timezone") or not isinstance(iso, str) \
            or iso.lower() != ISO_8601:
        return None
    return PerInstance(lambda: iso_datetime_in(timezone.get_current_timezone()))


# (output name, read the value from the item, convert a non-null value, or the name of a serializer method
# that converts it, bound per serializer instance because it may use the context)
Step = tuple[str, Callable[[Any], Any], Callable[[Any], Any] | str | PerInstance]


class PlannedRepresentation:
    """Mixin for a read-only ModelSerializer; first in the bases, so its to_representation is the one used."""

    # The items are dicts (rows of QuerySet.values()) instead of model instances.
    reads_rows: ClassVar[bool] = False
    # Field name -> (row key or attribute path, conversion or the name of a method of the serializer).
    plan_overrides: ClassVar[dict[str, tuple[str, Callable[[Any], Any] | str]]] = {}
    # Made by class_plan on first use, per class (read through cls.__dict__, so a subclass makes its own).
    _class_plan: ClassVar[list[Step]]

    def to_representation(self, item: Any) -> dict:
        plan = self.__dict__.get("_bound_plan")
        if plan is None:
            plan = self._bound_plan = [(name, read, bound(self, convert)) for name, read, convert in self.class_plan()]
        represented = {}
        for name, read, convert in plan:
            value = read(item)
            represented[name] = None if value is None else convert(value)
        return represented

    @classmethod
    def class_plan(cls) -> list[Step]:
        plan = cls.__dict__.get("_class_plan")
        if plan is None:
            serializer = cls()
            if not isinstance(serializer, serializers.Serializer):
                raise TypeError(f"{cls.__name__}: PlannedRepresentation is a mixin for a Serializer")
            plan = [cls.step_for(field) for field in serializer._readable_fields]
            cls._class_plan = plan
        return plan

    @classmethod
    def step_for(cls, field: serializers.Field) -> Step:
        name, source = field.field_name, field.source
        if name is None or source is None:  # set when the serializer binds its fields, before they are readable
            raise TypeError(f"{cls.__name__}: the field {field!r} is not bound")
        if name in cls.plan_overrides:
            source, convert = cls.plan_overrides[name]
            return name, cls.reader(source), convert
        if isinstance(field, serializers.SerializerMethodField):
            return name, whole, field.method_name
        if isinstance(field, serializers.ListSerializer) and isinstance(field.child, PlannedRepresentation):
            child = field.child
            return name, cls.reader(source), lambda items: [child.to_representation(entry)
                                                                  for entry in all_of(items)]
        return name, cls.reader(source), FAST.get(type(field)) or datetime_step(field) or field.to_representation

    @classmethod
    def reader(cls, source: str) -> Callable[[Any], Any]:
        return itemgetter(source) if cls.reads_rows else attrgetter(source)


def bound(serializer: object, convert: Callable[[Any], Any] | str | PerInstance
          ) -> Callable[[Any], Any]:
    if isinstance(convert, str):
        return getattr(serializer, convert)
    return convert.make() if isinstance(convert, PerInstance) else convert


def all_of(items: BaseManager | Iterable) -> Iterable:
    return items.all() if isinstance(items, BaseManager) else items
