"""Endpoint-like functions: `handler(request, *, store) -> (status, body)`.

A request is a dict with optional "params" (path and query values, always strings)
and "body" (decoded JSON). Handlers never raise domain errors: `maps_domain_errors`
turns them into {"error": message} bodies with the matching status code.
"""

import functools
from collections.abc import Callable, Mapping
from typing import Any

from inventory.errors import InventoryError, NotFoundError, OutOfStockError, ValidationError
from inventory.models import DEFAULT_CATEGORY
from inventory.repository import Store
from inventory.serializers import order_to_dict, product_to_dict, stock_to_dict
from inventory.services import catalog, orders
from inventory.validation import require_non_empty_str

Request = Mapping[str, Any]
Response = tuple[int, dict[str, Any]]
Handler = Callable[..., Response]

STATUS_BY_ERROR: dict[type[InventoryError], int] = {
    ValidationError: 400,
    NotFoundError: 404,
    OutOfStockError: 409,
}


def maps_domain_errors(handler: Handler) -> Handler:
    @functools.wraps(handler)
    def wrapper(request: Request, *, store: Store) -> Response:
        try:
            return handler(request, store=store)
        except InventoryError as error:
            return STATUS_BY_ERROR.get(type(error), 400), {"error": str(error)}

    return wrapper


def _normalize_sku(raw: str) -> str:
    # Clients paste SKUs from spreadsheets: any case, stray whitespace.
    return raw.strip().upper()


def _param(request: Request, name: str) -> str:
    value = request.get("params", {}).get(name)
    if value is None:
        raise ValidationError(f"missing parameter {name!r}")
    return value


def _body(request: Request) -> Mapping[str, Any]:
    body = request.get("body")
    if not isinstance(body, Mapping):
        raise ValidationError("request body must be a JSON object")
    return body


def _field(body: Mapping[str, Any], name: str) -> Any:
    if name not in body:
        raise ValidationError(f"missing field {name!r}")
    return body[name]


def _order_id(request: Request) -> int:
    raw = _param(request, "order_id")
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(f"order_id must be an integer, got {raw!r}") from None


def _order_item(item: Any) -> tuple[str, int]:
    if not isinstance(item, Mapping):
        raise ValidationError("each item must be an object with 'sku' and 'quantity'")
    sku = require_non_empty_str(_field(item, "sku"), field="sku")
    return _normalize_sku(sku), _field(item, "quantity")


@maps_domain_errors
def get_product(request: Request, *, store: Store) -> Response:
    product = store.products.get(_normalize_sku(_param(request, "sku")))
    return 200, product_to_dict(product)


@maps_domain_errors
def list_products(request: Request, *, store: Store) -> Response:
    category = request.get("params", {}).get("category")
    products = store.products.list(category=category)
    return 200, {"items": [product_to_dict(product) for product in products]}


@maps_domain_errors
def create_product(request: Request, *, store: Store) -> Response:
    body = _body(request)
    sku = require_non_empty_str(_field(body, "sku"), field="sku")
    product = catalog.register_product(
        store,
        sku=_normalize_sku(sku),
        name=_field(body, "name"),
        price_cents=_field(body, "price_cents"),
        category=body.get("category", DEFAULT_CATEGORY),
    )
    return 201, product_to_dict(product)


@maps_domain_errors
def get_stock(request: Request, *, store: Store) -> Response:
    level = store.stock.get(_normalize_sku(_param(request, "sku")))
    return 200, stock_to_dict(level)


@maps_domain_errors
def place_order(request: Request, *, store: Store) -> Response:
    body = _body(request)
    items = _field(body, "items")
    if not isinstance(items, list):
        raise ValidationError("items must be a list")
    order = orders.place_order(
        store,
        customer_id=_field(body, "customer_id"),
        items=[_order_item(item) for item in items],
        coupon_code=body.get("coupon_code"),
    )
    return 201, order_to_dict(order)


@maps_domain_errors
def get_order(request: Request, *, store: Store) -> Response:
    return 200, order_to_dict(store.orders.get(_order_id(request)))
