import pytest

from inventory.models import OrderLine, Product
from inventory.services.discounts import bulk_discount, coupon_discount, percentage_discount
from inventory.services.pricing import build_line, price_lines


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [(999, 15, 150), (1005, 10, 101), (1004, 10, 100), (1234, 20, 247), (2500, 10, 250), (0, 20, 0)],
)
def test_percentage_discount_rounds_half_up(amount, percent, expected):
    result = percentage_discount(amount, percent)
    assert result == expected
    assert type(result) is int


def test_coupon_discounts_round_half_up():
    assert coupon_discount(999, "WELCOME10") == 100
    assert coupon_discount(1234, "vip20") == 247


def test_bulk_discount_rounds_half_up():
    assert bulk_discount([OrderLine(sku="ABC-0001", quantity=12, unit_price_cents=333)]) == 200


def test_order_pricing_uses_rounded_discount():
    product = Product(sku="ABC-0001", name="A", price_cents=999)
    breakdown = price_lines([build_line(product, quantity=1)], coupon_code="WELCOME10")
    assert (breakdown.discount_cents, breakdown.tax_cents, breakdown.total_cents) == (100, 189, 1088)
