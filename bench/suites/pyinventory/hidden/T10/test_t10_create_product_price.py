import pytest

from inventory import handlers
from inventory.repository import Store


def create(body) -> tuple[int, dict]:
    return handlers.create_product({"body": body}, store=Store())


@pytest.mark.parametrize(("price", "cents"), [("19.99", 1999), ("0.29", 29), ("12.5", 1250), ("7", 700)])
def test_decimal_price_is_converted_to_cents(price, cents):
    status, body = create({"sku": "NUT-0100", "name": "Nuts", "price": price})
    assert (status, body["price_cents"]) == (201, cents)


def test_created_product_is_stored_with_cents():
    store = Store()
    request = {"body": {"sku": "NUT-0100", "name": "Nuts", "price": "19.99", "category": "food"}}
    status, body = handlers.create_product(request, store=store)
    assert (status, body["price"], body["category"]) == (201, "19.99 EUR", "food")
    assert store.products.get("NUT-0100").price_cents == 1999
    assert store.stock.get("NUT-0100").on_hand == 0


def test_price_cents_still_works():
    status, body = create({"sku": "NUT-0100", "name": "Nuts", "price_cents": 250})
    assert (status, body["price_cents"]) == (201, 250)


def test_both_prices_are_rejected():
    status, body = create({"sku": "NUT-0100", "name": "Nuts", "price": "2.50", "price_cents": 250})
    assert (status, body) == (400, {"error": "give either 'price' or 'price_cents', not both"})


def test_missing_price_is_rejected():
    status, body = create({"sku": "NUT-0100", "name": "Nuts"})
    assert (status, body) == (400, {"error": "missing field 'price_cents' (or 'price')"})


@pytest.mark.parametrize("price", ["abc", "-1", "1.234", 12.5, None])
def test_malformed_price_is_400(price):
    status, body = create({"sku": "NUT-0100", "name": "Nuts", "price": price})
    assert status == 400
    assert "invalid amount" in body["error"]


def test_invalid_price_cents_is_still_validated():
    status, body = create({"sku": "NUT-0100", "name": "Nuts", "price_cents": -1})
    assert status == 400
    assert "price_cents" in body["error"]
