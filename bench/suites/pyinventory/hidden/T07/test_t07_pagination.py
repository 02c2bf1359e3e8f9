import pytest

from inventory import handlers
from inventory.repository import Store
from inventory.services.catalog import register_product


def catalogue(count: int, *, category: str = "general") -> Store:
    store = Store()
    for number in range(1, count + 1):
        register_product(
            store, sku=f"PRD-{number:04d}", name=f"P{number}", price_cents=100, category=category
        )
    return store


def skus(body) -> list[str]:
    return [item["sku"] for item in body["items"]]


def expected(first: int, last: int) -> list[str]:
    return [f"PRD-{number:04d}" for number in range(first, last + 1)]


def test_defaults_are_page_one_of_twenty():
    status, body = handlers.list_products({}, store=catalogue(45))
    assert status == 200
    assert (body["page"], body["page_size"], body["total"], body["pages"]) == (1, 20, 45, 3)
    assert skus(body) == expected(1, 20)


def test_params_key_may_be_missing_or_partial():
    status, body = handlers.list_products({"params": {"page": "2"}}, store=catalogue(45))
    assert (status, skus(body), body["page_size"]) == (200, expected(21, 40), 20)


@pytest.mark.parametrize(
    ("page", "page_size", "first", "last"),
    [("1", "10", 1, 10), ("2", "10", 11, 20), ("3", "20", 41, 45), ("1", "100", 1, 45), ("5", "9", 37, 45)],
)
def test_page_slices(page, page_size, first, last):
    request = {"params": {"page": page, "page_size": page_size}}
    status, body = handlers.list_products(request, store=catalogue(45))
    assert status == 200
    assert skus(body) == expected(first, last)
    assert (body["page"], body["page_size"]) == (int(page), int(page_size))


@pytest.mark.parametrize(
    ("count", "page_size", "pages"), [(45, 20, 3), (40, 20, 2), (41, 20, 3), (1, 20, 1), (0, 20, 0)]
)
def test_pages_is_the_ceiling(count, page_size, pages):
    request = {"params": {"page_size": str(page_size)}}
    status, body = handlers.list_products(request, store=catalogue(count))
    assert (status, body["pages"], body["total"]) == (200, pages, count)


def test_page_beyond_the_last_is_empty_not_an_error():
    status, body = handlers.list_products({"params": {"page": "4"}}, store=catalogue(45))
    assert (status, body["items"], body["total"], body["pages"], body["page"]) == (200, [], 45, 3, 4)


def test_category_filter_applies_before_paginating():
    store = catalogue(5, category="tools")
    register_product(store, sku="AAA-0001", name="Apple", price_cents=50, category="food")
    request = {"params": {"category": "tools", "page": "2", "page_size": "2"}}
    status, body = handlers.list_products(request, store=store)
    assert (status, skus(body), body["total"], body["pages"]) == (200, expected(3, 4), 5, 3)


@pytest.mark.parametrize(
    "params",
    [
        {"page": "0"},
        {"page": "-1"},
        {"page": "abc"},
        {"page": "1.5"},
        {"page_size": "0"},
        {"page_size": "x"},
        {"page_size": "101"},
    ],
)
def test_invalid_pagination_is_400(params):
    status, body = handlers.list_products({"params": params}, store=catalogue(3))
    assert status == 400
    assert next(iter(params)) in body["error"]
