"""Input validators shared by services and handlers. They raise ValidationError."""

import re

from inventory.errors import ValidationError

SKU_PATTERN = re.compile(r"[A-Z]{3}-\d{4}")


def validate_sku(sku: object) -> str:
    if not isinstance(sku, str) or not SKU_PATTERN.fullmatch(sku):
        raise ValidationError(f"invalid SKU {sku!r}: expected format ABC-1234")
    return sku


def require_positive_int(value: object, *, field: str) -> int:
    # bool is a subclass of int, but True is never a meaningful quantity.
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationError(f"{field} must be a positive integer, got {value!r}")
    return value


def require_non_negative_int(value: object, *, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"{field} must be a non-negative integer, got {value!r}")
    return value


def require_non_empty_str(value: object, *, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} must be a non-empty string")
    return value
