from inventory import handlers


def test_get_product_returns_serialized_product(store):
    status, body = handlers.get_product({"params": {"sku": "ham-0001"}}, store=store)
    assert status == 200
    assert body["price"] == "12.50 EUR"


def test_get_product_unknown_is_404(store):
    status, body = handlers.get_product({"params": {"sku": "ZZZ-0000"}}, store=store)
    assert status == 404
    assert body == {"error": "product ZZZ-0000 not found"}


def test_missing_param_is_400(store):
    status, body = handlers.get_product({}, store=store)
    assert (status, body) == (400, {"error": "missing parameter 'sku'"})


def test_list_products_by_category(store):
    status, body = handlers.list_products({"params": {"category": "food"}}, store=store)
    assert status == 200
    assert [item["sku"] for item in body["items"]] == ["COF-0003"]


def test_create_product_then_stock_exists(store):
    request = {"body": {"sku": "nut-0100", "name": "Nuts", "price_cents": 99}}
    status, body = handlers.create_product(request, store=store)
    assert (status, body["sku"], body["category"]) == (201, "NUT-0100", "general")
    status, body = handlers.get_stock({"params": {"sku": "NUT-0100"}}, store=store)
    assert (status, body["on_hand"]) == (200, 0)


def test_create_product_validation_error_is_400(store):
    status, body = handlers.create_product({"body": {"sku": "NUT-0100", "name": "Nuts"}}, store=store)
    assert (status, body) == (400, {"error": "missing field 'price_cents'"})


def test_place_order_and_get_it(store):
    request = {"body": {"customer_id": "C-001", "items": [{"sku": "HAM-0001", "quantity": 1}]}}
    status, body = handlers.place_order(request, store=store)
    assert (status, body["total_cents"]) == (201, 1513)
    status, body = handlers.get_order({"params": {"order_id": str(body["id"])}}, store=store)
    assert (status, body["status"]) == (200, "pending")


def test_place_order_out_of_stock_is_409(store):
    request = {"body": {"customer_id": "C-001", "items": [{"sku": "HAM-0001", "quantity": 50}]}}
    status, body = handlers.place_order(request, store=store)
    assert status == 409


def test_get_order_with_bad_id_is_400(store):
    status, body = handlers.get_order({"params": {"order_id": "abc"}}, store=store)
    assert (status, body) == (400, {"error": "order_id must be an integer, got 'abc'"})
