import pytest

from inventory.models import StockLevel
from inventory.repository import StockRepository
from inventory.services.stock import low_stock_report, needs_reorder


@pytest.mark.parametrize(
    ("on_hand", "reserved", "reorder_level", "expected"),
    [
        (5, 0, 5, True),
        (6, 0, 5, False),
        (4, 0, 5, True),
        (0, 0, 0, True),
        (1, 0, 0, False),
        (10, 6, 5, True),
        (10, 4, 5, False),
        (30, 0, 20, False),
    ],
)
def test_needs_reorder_looks_at_available_units(on_hand, reserved, reorder_level, expected):
    level = StockLevel(sku="ABC-0001", on_hand=on_hand, reserved=reserved, reorder_level=reorder_level)
    assert needs_reorder(level) is expected


def test_low_stock_report_sorts_by_available_then_sku():
    stock = StockRepository()
    rows = [
        ("DDD-0004", 3, 0, 5),
        ("BBB-0002", 3, 0, 5),
        ("CCC-0003", 50, 0, 5),
        ("AAA-0001", 9, 5, 5),
        ("EEE-0005", 0, 0, 5),
        ("FFF-0006", 12, 0, 20),
        ("GGG-0007", 6, 0, 5),
    ]
    for sku, on_hand, reserved, reorder_level in rows:
        level = stock.ensure(sku, reorder_level=reorder_level)
        level.on_hand, level.reserved = on_hand, reserved
    report = low_stock_report(stock)
    assert [level.sku for level in report] == ["EEE-0005", "BBB-0002", "DDD-0004", "AAA-0001", "FFF-0006"]
    assert report[0] is stock.get("EEE-0005")


def test_low_stock_report_of_healthy_or_empty_stock_is_empty():
    stock = StockRepository()
    assert low_stock_report(stock) == []
    stock.ensure("ABC-0001").on_hand = 100
    assert low_stock_report(stock) == []
