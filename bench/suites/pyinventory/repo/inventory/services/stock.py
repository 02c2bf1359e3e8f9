"""Stock movements. `available` = on_hand - reserved; orders reserve, then ship or release."""

from inventory.errors import OutOfStockError, ValidationError
from inventory.models import StockLevel
from inventory.repository import StockRepository
from inventory.validation import require_positive_int


def receive(stock: StockRepository, *, sku: str, quantity: int) -> StockLevel:
    """Units arriving at the warehouse."""
    require_positive_int(quantity, field="quantity")
    level = stock.get(sku)
    level.on_hand += quantity
    return level


def reserve(stock: StockRepository, *, sku: str, quantity: int) -> StockLevel:
    require_positive_int(quantity, field="quantity")
    level = stock.get(sku)
    if quantity > level.available:
        raise OutOfStockError(
            f"cannot reserve {quantity} x {level.sku}: only {level.available} available"
        )
    level.reserved += quantity
    return level


def release(stock: StockRepository, *, sku: str, quantity: int) -> StockLevel:
    """Give reserved units back to the available pool (e.g. a cancelled order)."""
    require_positive_int(quantity, field="quantity")
    level = stock.get(sku)
    level.reserved -= quantity
    return level


def ship(stock: StockRepository, *, sku: str, quantity: int) -> StockLevel:
    """Reserved units leave the warehouse."""
    require_positive_int(quantity, field="quantity")
    level = stock.get(sku)
    if quantity > level.reserved:
        raise ValidationError(
            f"cannot ship {quantity} x {level.sku}: only {level.reserved} reserved"
        )
    level.reserved -= quantity
    level.on_hand -= quantity
    return level
