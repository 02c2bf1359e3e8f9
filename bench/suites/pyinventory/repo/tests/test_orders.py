import pytest

from inventory.errors import OutOfStockError, ValidationError
from inventory.services.orders import place_order


def test_place_order_prices_and_reserves(store):
    order = place_order(store, customer_id="C-001", items=[("HAM-0001", 2), ("cof-0003", 1)])
    assert order.status.value == "pending"
    assert order.subtotal_cents == 4000
    assert order.tax_cents == 840
    assert store.stock.get("HAM-0001").reserved == 2
    assert store.stock.get("COF-0003").reserved == 1


def test_place_order_is_all_or_nothing(store):
    with pytest.raises(OutOfStockError):
        place_order(store, customer_id="C-001", items=[("HAM-0001", 5), ("SCR-0002", 99)])
    assert store.stock.get("HAM-0001").reserved == 0
    assert store.orders.list() == []


def test_place_order_requires_items_and_customer(store):
    with pytest.raises(ValidationError, match="at least one item"):
        place_order(store, customer_id="C-001", items=[])
    with pytest.raises(ValidationError, match="customer_id"):
        place_order(store, customer_id=" ", items=[("HAM-0001", 1)])


def test_place_order_stores_normalized_coupon(store):
    order = place_order(store, customer_id="C-001", items=[("SCR-0002", 1)], coupon_code="vip20")
    assert order.coupon_code == "VIP20"
    assert order.discount_cents == 400
