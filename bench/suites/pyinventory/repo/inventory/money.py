"""Money helpers. Amounts are always integer cents; floats never touch money."""

from decimal import ROUND_HALF_UP, Decimal

DEFAULT_CURRENCY = "EUR"


def percent_of(amount_cents: int, percent: int) -> int:
    """Return `percent`% of `amount_cents`, rounded half up to whole cents."""
    exact = Decimal(amount_cents) * Decimal(percent) / Decimal(100)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_cents(amount_cents: int, *, currency: str = DEFAULT_CURRENCY) -> str:
    """Render cents for humans: 1250 -> '12.50 EUR', -305 -> '-3.05 EUR'."""
    sign = "-" if amount_cents < 0 else ""
    units, cents = divmod(abs(amount_cents), 100)
    return f"{sign}{units}.{cents:02d} {currency}"
