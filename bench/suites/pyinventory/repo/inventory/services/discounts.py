"""Discount rules. Discounts never stack: an order gets the single best one."""

from collections.abc import Iterable

from inventory.errors import ValidationError
from inventory.models import OrderLine

BULK_MIN_QUANTITY = 10
BULK_PERCENT = 5
COUPON_PERCENTS = {"WELCOME10": 10, "VIP20": 20}


def percentage_discount(amount_cents: int, percent: int) -> int:
    return amount_cents * percent // 100


def bulk_discount(lines: Iterable[OrderLine]) -> int:
    """BULK_PERCENT off every line that orders BULK_MIN_QUANTITY units or more."""
    return sum(
        percentage_discount(line.total_cents, BULK_PERCENT)
        for line in lines
        if line.quantity > BULK_MIN_QUANTITY
    )


def coupon_discount(subtotal_cents: int, code: str) -> int:
    percent = COUPON_PERCENTS.get(code.strip().upper())
    if percent is None:
        raise ValidationError(f"unknown coupon code {code!r}")
    return percentage_discount(subtotal_cents, percent)


def best_discount(lines: Iterable[OrderLine], *, coupon_code: str | None = None) -> int:
    lines = list(lines)
    candidates = [bulk_discount(lines)]
    if coupon_code:
        subtotal = sum(line.total_cents for line in lines)
        candidates.append(coupon_discount(subtotal, coupon_code))
    return max(candidates)
