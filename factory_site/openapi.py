"""What the OpenAPI schema says beyond what drf-spectacular infers.

A serializer with `refuses_unknown_fields = True` is a closed object (additionalProperties: false).

The error answers every API operation can give are added by a hook (POSTPROCESSING_HOOKS).

Views document their own success answers and their particular errors (409 of a state change, 502 of a
failed push); what follows from the API's shared rules is added here, once:
- 400 with the fields and their messages, for any operation taking input (body, query or path);
- 401 without a valid token; 403 for a change the caller's role does not allow;
- 404 for an unknown id in the path, or a page past the end of a list;
- 409 for a change that collides with another one made at the same time;
- 413 for a body over the size limit, 415 for a body that is not JSON.
"""
from django.core.validators import RegexValidator
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

# A character Python's str.strip() keeps: a text field that trims and may not be blank needs one.
NOT_ONLY_SPACES = "[^\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"


class FactoryAutoSchema(AutoSchema):
    def _map_serializer(self, serializer, direction, bypass_extensions=False) -> dict:
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and getattr(serializer, "refuses_unknown_fields", False):
            schema["additionalProperties"] = False
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False) -> dict:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        trims = isinstance(field, serializers.CharField) and field.trim_whitespace and not field.allow_blank
        has_pattern = any(isinstance(validator, RegexValidator) for validator in field.validators)
        if direction == "request" and trims and not has_pattern and schema.get("type") == "string" \
                and "enum" not in schema:
            schema.setdefault("pattern", NOT_ONLY_SPACES)
        return schema


ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
FIELD_ERRORS = {
    "type": "object",
    "description": "Field name -> messages (nested for lists and batches), or `detail` / `non_field_errors` "
                   "for the request as a whole.",
    "additionalProperties": {},
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
FIELD_ERRORS_REF = {"$ref": "#/components/schemas/FieldErrors"}
UNSAFE = {"post", "put", "patch", "delete"}


def answer(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def shared_errors(*, method: str, operation: dict) -> dict[str, dict]:
    parameters = operation.get("parameters", [])
    takes_body = "requestBody" in operation
    errors = {"401": answer("No valid token (Authorization: Token <key>).", ERROR_REF)}
    if takes_body or parameters:
        errors["400"] = answer("Invalid input: each field with its messages.", FIELD_ERRORS_REF)
    if method in UNSAFE:
        errors["403"] = answer("The caller's role does not allow this change.", ERROR_REF)
        errors["409"] = answer("The change collides with the current state or a concurrent change.", ERROR_REF)
    if any(parameter["in"] == "path" for parameter in parameters) or any(
            parameter["name"] == "page" for parameter in parameters):
        errors["404"] = answer("No such object, or no such page.", ERROR_REF)
    if takes_body:
        errors["413"] = answer("The body is over the size limit (FACTORY_MAX_REQUEST_BYTES), given in bytes.",
                               ERROR_REF)
        errors["415"] = answer("The body is not JSON (Content-Type: application/json).", ERROR_REF)
    return errors


def add_shared_errors(result: dict, generator, request, public) -> dict:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR)
    schemas.setdefault("FieldErrors", FIELD_ERRORS)
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True  # tickets.api.given_params: empty means not given
            responses = operation.setdefault("responses", {})
            for code, documented in shared_errors(method=method, operation=operation).items():
                responses.setdefault(code, documented)
    return result
