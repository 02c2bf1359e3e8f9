"""In-memory repositories. Services and handlers only talk to storage through them."""

from dataclasses import dataclass, field

from inventory.errors import NotFoundError, ValidationError
from inventory.models import DEFAULT_REORDER_LEVEL, Order, OrderLine, Product, StockLevel


def _normalize_sku(raw: str) -> str:
    # Clients paste SKUs from spreadsheets: any case, stray whitespace.
    return raw.strip().upper()


class ProductRepository:
    def __init__(self) -> None:
        self._products: dict[str, Product] = {}

    def add(self, product: Product) -> Product:
        if product.sku in self._products:
            raise ValidationError(f"product {product.sku} already exists")
        self._products[product.sku] = product
        return product

    def get(self, sku: str) -> Product:
        key = _normalize_sku(sku)
        try:
            return self._products[key]
        except KeyError:
            raise NotFoundError(f"product {key} not found") from None

    def list(self, *, category: str | None = None, include_inactive: bool = False) -> list[Product]:
        """Products sorted by SKU, optionally filtered by category."""
        products = sorted(self._products.values(), key=lambda product: product.sku)
        if not include_inactive:
            products = [product for product in products if product.active]
        if category is not None:
            products = [product for product in products if product.category == category]
        return products


class StockRepository:
    def __init__(self) -> None:
        self._levels: dict[str, StockLevel] = {}

    def ensure(self, sku: str, *, reorder_level: int = DEFAULT_REORDER_LEVEL) -> StockLevel:
        key = _normalize_sku(sku)
        return self._levels.setdefault(key, StockLevel(sku=key, reorder_level=reorder_level))

    def get(self, sku: str) -> StockLevel:
        key = _normalize_sku(sku)
        try:
            return self._levels[key]
        except KeyError:
            raise NotFoundError(f"no stock record for {key}") from None

    def list(self) -> list[StockLevel]:
        return sorted(self._levels.values(), key=lambda level: level.sku)


class OrderRepository:
    def __init__(self) -> None:
        self._orders: dict[int, Order] = {}
        self._next_id = 1

    def add(
        self,
        *,
        customer_id: str,
        lines: list[OrderLine],
        discount_cents: int = 0,
        tax_cents: int = 0,
        coupon_code: str | None = None,
    ) -> Order:
        order = Order(
            id=self._next_id,
            customer_id=customer_id,
            lines=list(lines),
            discount_cents=discount_cents,
            tax_cents=tax_cents,
            coupon_code=coupon_code,
        )
        self._orders[order.id] = order
        self._next_id += 1
        return order

    def get(self, order_id: int) -> Order:
        try:
            return self._orders[order_id]
        except KeyError:
            raise NotFoundError(f"order {order_id} not found") from None

    def list(self) -> list[Order]:
        return sorted(self._orders.values(), key=lambda order: order.id)


@dataclass
class Store:
    """Bundle of repositories passed to services and handlers."""

    products: ProductRepository = field(default_factory=ProductRepository)
    stock: StockRepository = field(default_factory=StockRepository)
    orders: OrderRepository = field(default_factory=OrderRepository)
