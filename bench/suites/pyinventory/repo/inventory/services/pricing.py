"""Order pricing: subtotal, best discount, then tax on the discounted amount."""

from collections.abc import Iterable
from dataclasses import dataclass

from inventory.errors import ValidationError
from inventory.models import OrderLine, Product
from inventory.money import percent_of
from inventory.services.discounts import best_discount
from inventory.validation import require_positive_int

TAX_PERCENT = 21


@dataclass(frozen=True)
class PriceBreakdown:
    subtotal_cents: int
    discount_cents: int
    tax_cents: int

    @property
    def total_cents(self) -> int:
        return self.subtotal_cents - self.discount_cents + self.tax_cents


def build_line(product: Product, *, quantity: int) -> OrderLine:
    require_positive_int(quantity, field="quantity")
    if not product.active:
        raise ValidationError(f"product {product.sku} is not active")
    return OrderLine(sku=product.sku, quantity=quantity, unit_price_cents=product.price_cents)


def price_lines(lines: Iterable[OrderLine], *, coupon_code: str | None = None) -> PriceBreakdown:
    lines = list(lines)
    subtotal = sum(line.total_cents for line in lines)
    discount = best_discount(lines, coupon_code=coupon_code)
    tax = percent_of(subtotal - discount, TAX_PERCENT)
    return PriceBreakdown(subtotal_cents=subtotal, discount_cents=discount, tax_cents=tax)
