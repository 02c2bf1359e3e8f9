from inventory.models import Order, OrderLine, OrderStatus, Product
from inventory.receipts import format_receipt
from inventory.repository import ProductRepository


def products() -> ProductRepository:
    repository = ProductRepository()
    repository.add(Product(sku="HAM-0001", name="Claw hammer", price_cents=1250))
    repository.add(Product(sku="SCR-0002", name="Screwdriver set with 24 bits", price_cents=2000))
    repository.add(Product(sku="COF-0003", name="Coffee", price_cents=1500, active=False))
    return repository


def test_receipt_with_discount_matches_the_specification():
    order = Order(
        id=1,
        customer_id="C-001",
        lines=[
            OrderLine(sku="HAM-0001", quantity=2, unit_price_cents=1250),
            OrderLine(sku="SCR-0002", quantity=1, unit_price_cents=2000),
        ],
        discount_cents=900,
        tax_cents=756,
        coupon_code="VIP20",
    )
    assert format_receipt(order, products=products()) == "\n".join(
        [
            "Order #1 - C-001 - pending",
            "  2 x HAM-0001 Claw hammer               25.00 EUR",
            "  1 x SCR-0002 Screwdriver set with      20.00 EUR",
            "--------------------------------------------------",
            "Subtotal                                 45.00 EUR",
            "Discount                                 -9.00 EUR",
            "Tax                                       7.56 EUR",
            "Total                                    43.56 EUR",
        ]
    )


def test_receipt_without_discount_has_no_discount_line():
    order = Order(
        id=12,
        customer_id="ACME",
        lines=[OrderLine(sku="COF-0003", quantity=120, unit_price_cents=1500)],
        status=OrderStatus.CONFIRMED,
        tax_cents=37800,
    )
    assert format_receipt(order, products=products()) == "\n".join(
        [
            "Order #12 - ACME - confirmed",
            "120 x COF-0003 Coffee                  1800.00 EUR",
            "--------------------------------------------------",
            "Subtotal                               1800.00 EUR",
            "Tax                                     378.00 EUR",
            "Total                                  2178.00 EUR",
        ]
    )


def test_receipt_has_no_trailing_newline_and_fixed_width():
    order = Order(id=3, customer_id="C-3", lines=[OrderLine(sku="HAM-0001", quantity=1, unit_price_cents=5)])
    receipt = format_receipt(order, products=products())
    assert not receipt.endswith("\n")
    lines = receipt.split("\n")
    assert lines[1] == "  1 x HAM-0001 Claw hammer                0.05 EUR"
    assert all(len(line) == 50 for line in lines[1:])
