from inventory import handlers
from inventory.repository import Store
from inventory.serializers import order_to_dict
from inventory.services import orders
from inventory.services.catalog import register_product
from inventory.services.stock import receive


def store_with_order() -> Store:
    store = Store()
    register_product(store, sku="HAM-0001", name="Claw hammer", price_cents=1250)
    receive(store.stock, sku="HAM-0001", quantity=10)
    orders.place_order(store, customer_id="C-1", items=[("HAM-0001", 4)])
    return store


def cancel(store: Store, order_id: str) -> tuple[int, dict]:
    return handlers.cancel_order({"params": {"order_id": order_id}}, store=store)


def test_cancel_returns_the_cancelled_order():
    store = store_with_order()
    status, body = cancel(store, "1")
    assert status == 200
    assert body == order_to_dict(store.orders.get(1))
    assert body["status"] == "cancelled"


def test_cancel_releases_the_reserved_stock():
    store = store_with_order()
    cancel(store, "1")
    level = store.stock.get("HAM-0001")
    assert (level.on_hand, level.reserved, level.available) == (10, 0, 10)


def test_cancelling_a_non_pending_order_is_400():
    store = store_with_order()
    orders.confirm_order(store, order_id=1)
    status, body = cancel(store, "1")
    assert status == 400
    assert body == {"error": "order 1 is confirmed; only pending orders can change"}
    assert store.orders.get(1).status.value == "confirmed"


def test_unknown_order_is_404():
    assert cancel(store_with_order(), "7") == (404, {"error": "order 7 not found"})


def test_non_numeric_id_is_400():
    assert cancel(store_with_order(), "one") == (400, {"error": "order_id must be an integer, got 'one'"})


def test_missing_id_is_400():
    status, body = handlers.cancel_order({"params": {}}, store=store_with_order())
    assert (status, body) == (400, {"error": "missing parameter 'order_id'"})


def test_service_function_is_not_replaced_by_the_handler():
    assert orders.cancel_order is not handlers.cancel_order
