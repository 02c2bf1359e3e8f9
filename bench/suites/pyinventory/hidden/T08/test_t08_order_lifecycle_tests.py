"""Judge the tests written for T08 by running them against mutated services.

Each mutant replaces one function of inventory.services.orders with a subtly broken
copy (through a pytest plugin, so no file of the project is touched). Good tests pass
on the real code and fail on every mutant.
"""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
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


def run_tests_under_review(tmp_path: Path, *, mutant: str) -> subprocess.CompletedProcess:
    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir(exist_ok=True)
    (plugin_dir / "bench_order_mutants.py").write_text(MUTANTS_PLUGIN)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(plugin_dir), str(PROJECT_ROOT)]),
        PYTHONDONTWRITEBYTECODE="1",
        BENCH_MUTANT=mutant,
    )
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-p", "bench_order_mutants", TESTS_UNDER_REVIEW]
    return subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_test_file_exists():
    assert (PROJECT_ROOT / TESTS_UNDER_REVIEW).is_file(), f"{TESTS_UNDER_REVIEW} was not created"


def test_tests_pass_on_the_real_code(tmp_path):
    result = run_tests_under_review(tmp_path, mutant="")
    assert result.returncode == 0, result.stdout + result.stderr
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed.group(1)) >= 5, result.stdout


@pytest.mark.parametrize("mutant", MUTANTS)
def test_tests_catch_the_mutant(tmp_path, mutant):
    result = run_tests_under_review(tmp_path, mutant=mutant)
    assert result.returncode == 1 and re.search(r"\d+ failed", result.stdout), (
        f"the tests in {TESTS_UNDER_REVIEW} did not detect mutant {mutant}:\n{result.stdout}"
    )
