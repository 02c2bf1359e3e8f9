"""Judge the tests written for T15 by running them against mutated money helpers.

Each mutant replaces format_cents or percent_of in inventory.money with a subtly broken
copy (through a pytest plugin, so no file of the project is touched). Good tests pass
on the real code and fail on every mutant.
"""

import textwrap

import pytest
from mutants_judge import MutantsJudge  # hidden/_shared/, copied next to this file

TESTS_UNDER_REVIEW = "tests/test_money_format.py"

MUTANTS_PLUGIN = textwrap.dedent(
    '''
    import math
    import os
    from decimal import ROUND_HALF_UP, Decimal

    from inventory import money


    def format_without_padding(amount_cents, *, currency="EUR"):
        sign = "-" if amount_cents < 0 else ""
        units, cents = divmod(abs(amount_cents), 100)
        return f"{sign}{units}.{cents} {currency}"


    def format_negative_with_floor_division(amount_cents, *, currency="EUR"):
        units, cents = divmod(amount_cents, 100)
        return f"{units}.{cents:02d} {currency}"


    def format_drops_sign(amount_cents, *, currency="EUR"):
        units, cents = divmod(abs(amount_cents), 100)
        return f"{units}.{cents:02d} {currency}"


    def format_ignores_currency(amount_cents, *, currency="EUR"):
        sign = "-" if amount_cents < 0 else ""
        units, cents = divmod(abs(amount_cents), 100)
        return f"{sign}{units}.{cents:02d} EUR"


    def percent_truncates(amount_cents, percent):
        return amount_cents * percent // 100


    def percent_rounds_half_even(amount_cents, percent):
        return round(Decimal(amount_cents) * Decimal(percent) / Decimal(100))


    def percent_rounds_up(amount_cents, percent):
        return math.ceil(Decimal(amount_cents) * Decimal(percent) / Decimal(100))


    _name = os.environ.get("BENCH_MUTANT", "")
    if _name:
        target = "format_cents" if _name.startswith("format_") else "percent_of"
        setattr(money, target, globals()[_name])
    '''
)

MUTANTS = [
    "format_without_padding",
    "format_negative_with_floor_division",
    "format_drops_sign",
    "format_ignores_currency",
    "percent_truncates",
    "percent_rounds_half_even",
    "percent_rounds_up",
]


JUDGE = MutantsJudge(
    tests_under_review=TESTS_UNDER_REVIEW, plugin_name="bench_money_mutants", plugin_source=MUTANTS_PLUGIN
)


def test_test_file_exists():
    JUDGE.check_test_file_exists()


def test_tests_pass_on_the_real_code(tmp_path):
    JUDGE.check_passes_on_the_real_code(tmp_path, at_least=3)


@pytest.mark.parametrize("mutant", MUTANTS)
def test_tests_catch_the_mutant(tmp_path, mutant):
    JUDGE.check_catches(tmp_path, mutant=mutant)
