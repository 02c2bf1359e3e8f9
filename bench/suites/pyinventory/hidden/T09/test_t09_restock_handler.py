import pytest

from inventory import handlers
from inventory.repository import Store
from inventory.services.catalog import register_product
from inventory.services.stock import receive, reserve


def stocked_store() -> Store:
    store = Store()
    register_product(store, sku="HAM-0001", name="Claw hammer", price_cents=1250)
    receive(store.stock, sku="HAM-0001", quantity=20)
    reserve(store.stock, sku="HAM-0001", quantity=2)
    return store


def restock(store: Store, *, sku: str, body) -> tuple[int, dict]:
    return handlers.restock({"params": {"sku": sku}, "body": body}, store=store)


def test_restock_returns_the_updated_stock_level():
    store = stocked_store()
    status, body = restock(store, sku="HAM-0001", body={"quantity": 5})
    assert status == 200
    assert body == {"sku": "HAM-0001", "on_hand": 25, "reserved": 2, "available": 23, "reorder_level": 5}
    assert store.stock.get("HAM-0001").on_hand == 25


def test_restock_normalizes_the_sku():
    store = stocked_store()
    status, body = restock(store, sku="  ham-0001 ", body={"quantity": 1})
    assert (status, body["sku"], body["on_hand"]) == (200, "HAM-0001", 21)


@pytest.mark.parametrize("quantity", [0, -3, "5", True, 2.5, None])
def test_invalid_quantity_is_400_and_changes_nothing(quantity):
    store = stocked_store()
    status, body = restock(store, sku="HAM-0001", body={"quantity": quantity})
    assert status == 400
    assert "quantity" in body["error"]
    assert store.stock.get("HAM-0001").on_hand == 20


@pytest.mark.parametrize("body", [{}, None, [], "5"])
def test_missing_or_malformed_body_is_400(body):
    status, response = restock(stocked_store(), sku="HAM-0001", body=body)
    assert status == 400
    assert "error" in response


def test_missing_sku_is_400():
    status, body = handlers.restock({"body": {"quantity": 1}}, store=stocked_store())
    assert (status, body) == (400, {"error": "missing parameter 'sku'"})


def test_unknown_sku_is_404():
    status, body = restock(stocked_store(), sku="zzz-9999", body={"quantity": 1})
    assert status == 404
    assert "ZZZ-9999" in body["error"]
