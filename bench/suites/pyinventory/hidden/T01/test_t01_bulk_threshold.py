from inventory.models import OrderLine, Product
from inventory.services.discounts import BULK_MIN_QUANTITY, best_discount, bulk_discount
from inventory.services.pricing import build_line, price_lines


def line(quantity: int, unit_price_cents: int = 1000) -> OrderLine:
    return OrderLine(sku="ABC-0001", quantity=quantity, unit_price_cents=unit_price_cents)


def test_threshold_constant_is_unchanged():
    assert BULK_MIN_QUANTITY == 10


def test_exactly_ten_units_get_the_bulk_discount():
    assert bulk_discount([line(10)]) == 500


def test_nine_units_get_nothing():
    assert bulk_discount([line(9)]) == 0


def test_more_than_ten_units_still_discounted():
    assert bulk_discount([line(11)]) == 550


def test_only_qualifying_lines_are_discounted():
    assert bulk_discount([line(10), line(9), line(10, unit_price_cents=200)]) == 600


def test_best_discount_and_pricing_use_the_fixed_threshold():
    assert best_discount([line(10)]) == 500
    product = Product(sku="ABC-0001", name="A", price_cents=1000)
    breakdown = price_lines([build_line(product, quantity=10)])
    assert breakdown.discount_cents == 500
    assert breakdown.tax_cents == 1995
