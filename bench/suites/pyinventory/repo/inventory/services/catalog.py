"""Product catalogue operations."""

from inventory.models import DEFAULT_CATEGORY, Product
from inventory.repository import Store
from inventory.validation import (
    require_non_empty_str,
    require_non_negative_int,
    validate_sku,
)


def register_product(
    store: Store,
    *,
    sku: str,
    name: str,
    price_cents: int,
    category: str = DEFAULT_CATEGORY,
) -> Product:
    """Add a product to the catalogue and open an empty stock record for it."""
    validate_sku(sku)
    require_non_empty_str(name, field="name")
    require_non_negative_int(price_cents, field="price_cents")
    require_non_empty_str(category, field="category")
    product = Product(sku=sku, name=name.strip(), price_cents=price_cents, category=category.strip())
    store.products.add(product)
    store.stock.ensure(sku)
    return product


def deactivate_product(store: Store, *, sku: str) -> Product:
    """Hide a product from listings and new orders; existing orders keep it."""
    product = store.products.get(sku)
    product.active = False
    return product
