import pytest

from inventory.errors import ValidationError
from inventory.models import Product
from inventory.services.pricing import build_line, price_lines


def test_build_line_copies_current_price():
    product = Product(sku="ABC-0001", name="A", price_cents=250)
    line = build_line(product, quantity=4)
    assert (line.sku, line.quantity, line.unit_price_cents, line.total_cents) == ("ABC-0001", 4, 250, 1000)


def test_build_line_rejects_inactive_product():
    product = Product(sku="ABC-0001", name="A", price_cents=250, active=False)
    with pytest.raises(ValidationError, match="not active"):
        build_line(product, quantity=1)


def test_price_lines_taxes_the_discounted_subtotal():
    product = Product(sku="ABC-0001", name="A", price_cents=1000)
    breakdown = price_lines([build_line(product, quantity=2)], coupon_code="WELCOME10")
    assert breakdown.subtotal_cents == 2000
    assert breakdown.discount_cents == 200
    assert breakdown.tax_cents == 378
    assert breakdown.total_cents == 2178
