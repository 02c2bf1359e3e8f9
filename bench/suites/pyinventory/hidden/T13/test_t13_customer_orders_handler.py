import pytest

from inventory import handlers
from inventory.repository import Store
from inventory.serializers import order_to_dict
from inventory.services.catalog import register_product
from inventory.services.orders import cancel_order, confirm_order, place_order
from inventory.services.stock import receive


def store_with_orders() -> Store:
    store = Store()
    register_product(store, sku="HAM-0001", name="Claw hammer", price_cents=1250)
    receive(store.stock, sku="HAM-0001", quantity=50)
    for customer_id in ["C-1", "C-2", "C-1", "C-1"]:
        place_order(store, customer_id=customer_id, items=[("HAM-0001", 1)])
    cancel_order(store, order_id=3)
    confirm_order(store, order_id=4)
    return store


def list_orders(store: Store, **params) -> tuple[int, dict]:
    return handlers.list_customer_orders({"params": params}, store=store)


def test_lists_the_customers_orders_serialized():
    store = store_with_orders()
    status, body = list_orders(store, customer_id="C-1")
    assert status == 200
    assert body == {"items": [order_to_dict(store.orders.get(n)) for n in (1, 3, 4)], "total": 3}


@pytest.mark.parametrize(
    ("status_param", "expected_ids"), [("pending", [1]), ("cancelled", [3]), ("confirmed", [4])]
)
def test_filters_by_status(status_param, expected_ids):
    status, body = list_orders(store_with_orders(), customer_id="C-1", status=status_param)
    assert status == 200
    assert [item["id"] for item in body["items"]] == expected_ids
    assert body["total"] == len(expected_ids)


def test_customer_without_orders_gets_an_empty_list():
    assert list_orders(store_with_orders(), customer_id="C-404") == (200, {"items": [], "total": 0})


@pytest.mark.parametrize("bad_status", ["shipped", "PENDING", ""])
def test_unknown_status_is_400(bad_status):
    status, body = list_orders(store_with_orders(), customer_id="C-1", status=bad_status)
    expected = f"unknown status {bad_status!r}: expected one of pending, confirmed, cancelled"
    assert (status, body) == (400, {"error": expected})


def test_customer_id_is_required():
    status, body = handlers.list_customer_orders({}, store=store_with_orders())
    assert (status, body) == (400, {"error": "missing parameter 'customer_id'"})
