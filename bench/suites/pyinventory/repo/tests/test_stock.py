import pytest

from inventory.errors import NotFoundError, OutOfStockError, ValidationError
from inventory.services.stock import receive, release, reserve, ship


def test_receive_adds_units(store):
    assert receive(store.stock, sku="HAM-0001", quantity=5).on_hand == 25


def test_receive_rejects_non_positive_quantity(store):
    with pytest.raises(ValidationError):
        receive(store.stock, sku="HAM-0001", quantity=0)


def test_reserve_then_release(store):
    level = reserve(store.stock, sku="HAM-0001", quantity=8)
    assert (level.reserved, level.available) == (8, 12)
    release(store.stock, sku="HAM-0001", quantity=8)
    assert (level.reserved, level.available) == (0, 20)


def test_reserve_more_than_available_fails(store):
    with pytest.raises(OutOfStockError, match="only 20 available"):
        reserve(store.stock, sku="HAM-0001", quantity=21)


def test_ship_consumes_reservation(store):
    reserve(store.stock, sku="HAM-0001", quantity=5)
    level = ship(store.stock, sku="HAM-0001", quantity=5)
    assert (level.on_hand, level.reserved) == (15, 0)
    with pytest.raises(ValidationError, match="only 0 reserved"):
        ship(store.stock, sku="HAM-0001", quantity=1)


def test_unknown_sku_raises_not_found(store):
    with pytest.raises(NotFoundError):
        reserve(store.stock, sku="ZZZ-9999", quantity=1)
