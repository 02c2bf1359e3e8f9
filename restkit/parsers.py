"""The API's one request format, JSON, read within limits.

A body over DATA_UPLOAD_MAX_MEMORY_SIZE (FACTORY_MAX_REQUEST_BYTES) answers 413 with the limit, and JSON
nested deeper than MAX_DEPTH answers 400: neither may exhaust the worker's memory or stack (a 500).
"""
import codecs

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

# Far beyond any ticket, batch or memory item, far below Python's recursion limit.
MAX_DEPTH = 64


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "body_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than {limit} bytes, this factory's limit "
                         "(FACTORY_MAX_REQUEST_BYTES).")
        self.limit = limit


class LimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        context = parser_context or {}
        raw = read_within_limit(stream, declared=declared_length(context))
        try:
            text = codecs.decode(raw, context.get("encoding") or settings.DEFAULT_CHARSET)
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except RecursionError:
            raise exceptions.ParseError(f"JSON parse error - nested too deep (at most {MAX_DEPTH} levels).") from None
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        if nested_deeper_than(data, MAX_DEPTH):
            raise exceptions.ParseError(f"JSON parse error - nested too deep (at most {MAX_DEPTH} levels).")
        return data


def declared_length(context: dict) -> int:
    request = context.get("request")
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
    except ValueError:
        return 0


def read_within_limit(stream, *, declared: int) -> bytes:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if declared > limit:
        raise BodyTooLarge(limit)
    raw = stream.read(limit + 1) if stream is not None else b""
    if len(raw) > limit:
        raise BodyTooLarge(limit)
    return raw


def nested_deeper_than(value, limit: int) -> bool:
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False
