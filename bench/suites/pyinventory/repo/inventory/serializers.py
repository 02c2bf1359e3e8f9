"""Model -> JSON-ready dict conversion used by the handlers."""

from typing import Any

from inventory.models import Order, OrderLine, Product, StockLevel
from inventory.money import format_cents


def product_to_dict(product: Product) -> dict[str, Any]:
    return {
        "sku": product.sku,
        "name": product.name,
        "category": product.category,
        "price_cents": product.price_cents,
        "price": format_cents(product.price_cents),
        "active": product.active,
    }


def stock_to_dict(level: StockLevel) -> dict[str, Any]:
    return {
        "sku": level.sku,
        "on_hand": level.on_hand,
        "reserved": level.reserved,
        "available": level.available,
        "reorder_level": level.reorder_level,
    }


def order_line_to_dict(line: OrderLine) -> dict[str, Any]:
    return {
        "sku": line.sku,
        "quantity": line.quantity,
        "unit_price_cents": line.unit_price_cents,
        "total_cents": line.total_cents,
    }


def order_to_dict(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "customer_id": order.customer_id,
        "status": order.status.value,
        "lines": [order_line_to_dict(line) for line in order.lines],
        "coupon_code": order.coupon_code,
        "subtotal_cents": order.subtotal_cents,
        "discount_cents": order.discount_cents,
        "tax_cents": order.tax_cents,
        "total_cents": order.total_cents,
    }
