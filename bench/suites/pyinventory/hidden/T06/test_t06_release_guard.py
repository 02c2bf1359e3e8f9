import pytest

from inventory.errors import ValidationError
from inventory.repository import Store
from inventory.services.catalog import register_product
from inventory.services.orders import cancel_order, place_order
from inventory.services.stock import receive, release, reserve


def stocked_store() -> Store:
    store = Store()
    register_product(store, sku="HAM-0001", name="Claw hammer", price_cents=1250)
    receive(store.stock, sku="HAM-0001", quantity=10)
    return store


def test_release_more_than_reserved_is_rejected_without_changes():
    store = stocked_store()
    reserve(store.stock, sku="HAM-0001", quantity=3)
    with pytest.raises(ValidationError) as error:
        release(store.stock, sku="ham-0001", quantity=5)
    assert str(error.value) == "cannot release 5 x HAM-0001: only 3 reserved"
    level = store.stock.get("HAM-0001")
    assert (level.on_hand, level.reserved, level.available) == (10, 3, 7)


def test_release_with_nothing_reserved_is_rejected():
    store = stocked_store()
    with pytest.raises(ValidationError, match="only 0 reserved"):
        release(store.stock, sku="HAM-0001", quantity=1)
    assert store.stock.get("HAM-0001").reserved == 0


def test_release_up_to_the_reservation_works():
    store = stocked_store()
    reserve(store.stock, sku="HAM-0001", quantity=3)
    assert release(store.stock, sku="HAM-0001", quantity=2).reserved == 1
    assert release(store.stock, sku="HAM-0001", quantity=1).reserved == 0


def test_quantity_is_still_validated():
    store = stocked_store()
    with pytest.raises(ValidationError, match="quantity must be a positive integer"):
        release(store.stock, sku="HAM-0001", quantity=0)


def test_cancelling_an_order_still_releases_its_stock():
    store = stocked_store()
    order = place_order(store, customer_id="C-1", items=[("HAM-0001", 4)])
    cancel_order(store, order_id=order.id)
    assert store.stock.get("HAM-0001").reserved == 0
