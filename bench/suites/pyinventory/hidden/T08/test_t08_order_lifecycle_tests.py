"""Judge the tests written for T08 by running them against mutated services.

Each mutant replaces one function of inventory.services.orders with a subtly broken
copy (through a pytest plugin, so no file of the project is touched). Good tests pass
on the real code and fail on every mutant.
"""

import textwrap

import pytest
from mutants_judge import MutantsJudge  # hidden/_shared/, copied next to this file

TESTS_UNDER_REVIEW = "tests/test_order_lifecycle.py"

MUTANTS_PLUGIN = textwrap.dedent(
    '''
    import os

    from inventory.errors import ValidationError
    from inventory.models import OrderStatus
    from inventory.services import orders
    from inventory.services.stock import release, ship


    def _pending(store, order_id):
        order = store.orders.get(order_id)
        if order.status is not OrderStatus.PENDING:
            raise ValidationError(
                f"order {order_id} is {order.status.value}; only pending orders can change"
            )
        return order


    def _move_stock(store, order, movement):
        for line in order.lines:
            movement(store.stock, sku=line.sku, quantity=line.quantity)


    def confirm_skips_shipping(store, *, order_id):
        order = _pending(store, order_id)
        order.status = OrderStatus.CONFIRMED
        return order


    def confirm_releases_instead_of_shipping(store, *, order_id):
        order = _pending(store, order_id)
        _move_stock(store, order, release)
        order.status = OrderStatus.CONFIRMED
        return order


    def confirm_keeps_status(store, *, order_id):
        order = _pending(store, order_id)
        _move_stock(store, order, ship)
        return order


    def confirm_ignores_status(store, *, order_id):
        order = store.orders.get(order_id)
        if order.status is OrderStatus.PENDING:
            _move_stock(store, order, ship)
        order.status = OrderStatus.CONFIRMED
        return order


    def cancel_skips_release(store, *, order_id):
        order = _pending(store, order_id)
        order.status = OrderStatus.CANCELLED
        return order


    def cancel_ships_instead_of_release(store, *, order_id):
        order = _pending(store, order_id)
        _move_stock(store, order, ship)
        order.status = OrderStatus.CANCELLED
        return order


    def cancel_keeps_status(store, *, order_id):
        order = _pending(store, order_id)
        _move_stock(store, order, release)
        return order


    def cancel_ignores_status(store, *, order_id):
        order = store.orders.get(order_id)
        if order.status is OrderStatus.PENDING:
            _move_stock(store, order, release)
        order.status = OrderStatus.CANCELLED
        return order


    _name = os.environ.get("BENCH_MUTANT", "")
    if _name:
        setattr(orders, _name.split("_")[0] + "_order", globals()[_name])
    '''
)

MUTANTS = [
    "confirm_skips_shipping",
    "confirm_releases_instead_of_shipping",
    "confirm_keeps_status",
    "confirm_ignores_status",
    "cancel_skips_release",
    "cancel_ships_instead_of_release",
    "cancel_keeps_status",
    "cancel_ignores_status",
]


JUDGE = MutantsJudge(
    tests_under_review=TESTS_UNDER_REVIEW, plugin_name="bench_order_mutants", plugin_source=MUTANTS_PLUGIN
)


def test_test_file_exists():
    JUDGE.check_test_file_exists()


def test_tests_pass_on_the_real_code(tmp_path):
    JUDGE.check_passes_on_the_real_code(tmp_path, at_least=5)


@pytest.mark.parametrize("mutant", MUTANTS)
def test_tests_catch_the_mutant(tmp_path, mutant):
    JUDGE.check_catches(tmp_path, mutant=mutant)
