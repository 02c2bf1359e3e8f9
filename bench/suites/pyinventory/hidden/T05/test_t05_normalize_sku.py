import inspect

from inventory import handlers, repository, validation
from inventory.repository import Store
from inventory.services.catalog import register_product
from inventory.services.stock import receive


def test_normalize_sku_strips_and_uppercases():
    assert validation.normalize_sku("  abc-1234 ") == "ABC-1234"
    assert validation.normalize_sku("\tXyZ-0001\n") == "XYZ-0001"


def test_normalize_sku_does_not_validate():
    assert validation.normalize_sku("not a sku") == "NOT A SKU"


def test_private_copies_are_gone():
    assert not hasattr(repository, "_normalize_sku")
    assert not hasattr(handlers, "_normalize_sku")
    assert "_normalize_sku" not in inspect.getsource(repository)
    assert "_normalize_sku" not in inspect.getsource(handlers)


def test_both_modules_import_the_shared_function():
    assert repository.normalize_sku is validation.normalize_sku
    assert handlers.normalize_sku is validation.normalize_sku


def sample_store() -> Store:
    store = Store()
    register_product(store, sku="HAM-0001", name="Claw hammer", price_cents=1250)
    receive(store.stock, sku="HAM-0001", quantity=4)
    return store


def test_repository_lookups_still_normalize():
    store = sample_store()
    assert store.products.get(" ham-0001").sku == "HAM-0001"
    assert store.stock.get("ham-0001 ").on_hand == 4
    assert store.stock.ensure(" ham-0001") is store.stock.get("HAM-0001")


def test_handlers_still_normalize():
    store = sample_store()
    assert handlers.get_product({"params": {"sku": " ham-0001 "}}, store=store)[0] == 200
    assert handlers.get_stock({"params": {"sku": "ham-0001"}}, store=store)[0] == 200
    request = {"body": {"sku": " nut-0002 ", "name": "Nut", "price_cents": 5}}
    assert handlers.create_product(request, store=store)[1]["sku"] == "NUT-0002"
    order = {"body": {"customer_id": "C-1", "items": [{"sku": "ham-0001", "quantity": 1}]}}
    status, body = handlers.place_order(order, store=store)
    assert (status, body["lines"][0]["sku"]) == (201, "HAM-0001")
