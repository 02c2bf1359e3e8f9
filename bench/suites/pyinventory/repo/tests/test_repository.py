import pytest

from inventory.errors import NotFoundError, ValidationError
from inventory.models import OrderLine, Product
from inventory.repository import OrderRepository, ProductRepository


def test_get_normalizes_sku(store):
    assert store.products.get("  ham-0001 ").name == "Claw hammer"


def test_get_unknown_product_raises_not_found():
    with pytest.raises(NotFoundError, match="product ZZZ-0000 not found"):
        ProductRepository().get("zzz-0000")


def test_add_rejects_duplicate_sku():
    products = ProductRepository()
    products.add(Product(sku="ABC-0001", name="A", price_cents=100))
    with pytest.raises(ValidationError, match="already exists"):
        products.add(Product(sku="ABC-0001", name="B", price_cents=200))


def test_list_is_sorted_and_filters_by_category(store):
    assert [p.sku for p in store.products.list()] == ["COF-0003", "HAM-0001", "SCR-0002"]
    assert [p.sku for p in store.products.list(category="tools")] == ["HAM-0001", "SCR-0002"]


def test_list_hides_inactive_products_unless_asked(store):
    store.products.get("HAM-0001").active = False
    assert "HAM-0001" not in [p.sku for p in store.products.list()]
    assert "HAM-0001" in [p.sku for p in store.products.list(include_inactive=True)]


def test_orders_get_incrementing_ids():
    orders = OrderRepository()
    line = OrderLine(sku="ABC-0001", quantity=1, unit_price_cents=100)
    first = orders.add(customer_id="C-1", lines=[line])
    second = orders.add(customer_id="C-2", lines=[line])
    assert (first.id, second.id) == (1, 2)
    assert orders.get(2) is second
    with pytest.raises(NotFoundError, match="order 3 not found"):
        orders.get(3)
