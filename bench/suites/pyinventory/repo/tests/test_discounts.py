import pytest

from inventory.errors import ValidationError
from inventory.models import OrderLine
from inventory.services.discounts import best_discount, bulk_discount, coupon_discount


def line(quantity: int, unit_price_cents: int = 1000) -> OrderLine:
    return OrderLine(sku="ABC-0001", quantity=quantity, unit_price_cents=unit_price_cents)


def test_bulk_discount_applies_to_large_lines_only():
    assert bulk_discount([line(12)]) == 600
    assert bulk_discount([line(3)]) == 0
    assert bulk_discount([line(12), line(3)]) == 600


def test_coupon_discount_is_case_insensitive():
    assert coupon_discount(2500, "welcome10") == 250
    assert coupon_discount(2500, " VIP20 ") == 500


def test_unknown_coupon_is_rejected():
    with pytest.raises(ValidationError, match="unknown coupon code 'NOPE'"):
        coupon_discount(2500, "NOPE")


def test_best_discount_does_not_stack():
    lines = [line(12)]
    assert best_discount(lines) == 600
    assert best_discount(lines, coupon_code="VIP20") == 2400
    assert best_discount([line(1)], coupon_code="WELCOME10") == 100
