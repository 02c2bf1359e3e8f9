from inventory import handlers
from inventory.models import Product
from inventory.repository import ProductRepository, Store
from inventory.services.catalog import register_product


def catalogue() -> ProductRepository:
    products = ProductRepository()
    products.add(Product(sku="COF-0001", name="Coffee", price_cents=900, category="Food"))
    products.add(Product(sku="TEA-0002", name="Tea", price_cents=500, category="food"))
    products.add(Product(sku="HAM-0003", name="Hammer", price_cents=1200, category="TOOLS"))
    products.add(Product(sku="OLD-0004", name="Old tea", price_cents=100, category="FOOD", active=False))
    return products


def test_category_filter_ignores_case():
    products = catalogue()
    for wanted in ("food", "FOOD", "Food", "fOOd"):
        assert [p.sku for p in products.list(category=wanted)] == ["COF-0001", "TEA-0002"]
    assert [p.sku for p in products.list(category="tools")] == ["HAM-0003"]


def test_stored_category_is_not_rewritten():
    assert [p.category for p in catalogue().list(category="FOOD")] == ["Food", "food"]


def test_other_filters_still_apply():
    products = catalogue()
    assert [p.sku for p in products.list(category="food", include_inactive=True)] == [
        "COF-0001",
        "OLD-0004",
        "TEA-0002",
    ]
    assert products.list(category="garden") == []
    assert len(products.list()) == 3


def test_handler_category_filter_ignores_case():
    store = Store()
    register_product(store, sku="COF-0001", name="Coffee", price_cents=900, category="Food")
    register_product(store, sku="HAM-0003", name="Hammer", price_cents=1200, category="tools")
    status, body = handlers.list_products({"params": {"category": "FOOD"}}, store=store)
    assert status == 200
    assert [item["sku"] for item in body["items"]] == ["COF-0001"]
    assert body["items"][0]["category"] == "Food"
