"""Order lifecycle: pending -> confirmed (stock shipped) or cancelled (stock released)."""

from collections.abc import Sequence

from inventory.errors import OutOfStockError, ValidationError
from inventory.models import Order, OrderLine, OrderStatus
from inventory.repository import StockRepository, Store
from inventory.services.pricing import build_line, price_lines
from inventory.services.stock import release, reserve, ship
from inventory.validation import require_non_empty_str


def place_order(
    store: Store,
    *,
    customer_id: str,
    items: Sequence[tuple[str, int]],
    coupon_code: str | None = None,
) -> Order:
    """Price the items, reserve their stock and store a pending order."""
    require_non_empty_str(customer_id, field="customer_id")
    if coupon_code is not None:
        require_non_empty_str(coupon_code, field="coupon_code")
    if not items:
        raise ValidationError("an order needs at least one item")
    lines = [build_line(store.products.get(sku), quantity=quantity) for sku, quantity in items]
    breakdown = price_lines(lines, coupon_code=coupon_code)
    _reserve_all(store.stock, lines)
    return store.orders.add(
        customer_id=customer_id.strip(),
        lines=lines,
        discount_cents=breakdown.discount_cents,
        tax_cents=breakdown.tax_cents,
        coupon_code=coupon_code.strip().upper() if coupon_code else None,
    )


def confirm_order(store: Store, *, order_id: int) -> Order:
    order = _pending_order(store, order_id)
    for line in order.lines:
        ship(store.stock, sku=line.sku, quantity=line.quantity)
    order.status = OrderStatus.CONFIRMED
    return order


def cancel_order(store: Store, *, order_id: int) -> Order:
    order = _pending_order(store, order_id)
    for line in order.lines:
        release(store.stock, sku=line.sku, quantity=line.quantity)
    order.status = OrderStatus.CANCELLED
    return order


def _pending_order(store: Store, order_id: int) -> Order:
    order = store.orders.get(order_id)
    if order.status is not OrderStatus.PENDING:
        raise ValidationError(
            f"order {order_id} is {order.status.value}; only pending orders can change"
        )
    return order


def _reserve_all(stock: StockRepository, lines: list[OrderLine]) -> None:
    reserved: list[OrderLine] = []
    try:
        for line in lines:
            reserve(stock, sku=line.sku, quantity=line.quantity)
            reserved.append(line)
    except OutOfStockError:
        # All or nothing: a failed order must not keep part of the stock reserved.
        for line in reserved:
            release(stock, sku=line.sku, quantity=line.quantity)
        raise
