import pytest

from inventory.repository import Store
from inventory.services.catalog import register_product
from inventory.services.stock import receive


@pytest.fixture
def store() -> Store:
    """Three active products: two 'tools' and one 'food', each with 20 units on hand."""
    store = Store()
    register_product(store, sku="HAM-0001", name="Claw hammer", price_cents=1250, category="tools")
    register_product(store, sku="SCR-0002", name="Screwdriver set", price_cents=2000, category="tools")
    register_product(store, sku="COF-0003", name="Coffee beans 1kg", price_cents=1500, category="food")
    for sku in ("HAM-0001", "SCR-0002", "COF-0003"):
        receive(store.stock, sku=sku, quantity=20)
    return store
