"""Domain models. Plain dataclasses: no I/O, no validation (services validate)."""

from dataclasses import dataclass, field
from enum import Enum

DEFAULT_CATEGORY = "general"
DEFAULT_REORDER_LEVEL = 5


@dataclass
class Product:
    sku: str
    name: str
    price_cents: int
    category: str = DEFAULT_CATEGORY
    active: bool = True


@dataclass
class StockLevel:
    sku: str
    on_hand: int = 0
    reserved: int = 0
    reorder_level: int = DEFAULT_REORDER_LEVEL

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int
    unit_price_cents: int

    @property
    def total_cents(self) -> int:
        return self.quantity * self.unit_price_cents


class OrderStatus(str, Enum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


@dataclass
class Order:
    id: int
    customer_id: str
    lines: list[OrderLine] = field(default_factory=list)
    status: OrderStatus = OrderStatus.PENDING
    discount_cents: int = 0
    tax_cents: int = 0
    coupon_code: str | None = None

    @property
    def subtotal_cents(self) -> int:
        return sum(line.total_cents for line in self.lines)

    @property
    def total_cents(self) -> int:
        return self.subtotal_cents - self.discount_cents + self.tax_cents
