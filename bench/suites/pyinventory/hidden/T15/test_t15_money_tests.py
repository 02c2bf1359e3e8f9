"""Judge the tests written for T15 by running them against mutated money helpers.

Each mutant replaces format_cents or percent_of in inventory.money with a subtly broken
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


def run_tests_under_review(tmp_path: Path, *, mutant: str) -> subprocess.CompletedProcess:
    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir(exist_ok=True)
    (plugin_dir / "bench_money_mutants.py").write_text(MUTANTS_PLUGIN)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(plugin_dir), str(PROJECT_ROOT)]),
        PYTHONDONTWRITEBYTECODE="1",
        BENCH_MUTANT=mutant,
    )
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-p", "bench_money_mutants", TESTS_UNDER_REVIEW]
    return subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_test_file_exists():
    assert (PROJECT_ROOT / TESTS_UNDER_REVIEW).is_file(), f"{TESTS_UNDER_REVIEW} was not created"


def test_tests_pass_on_the_real_code(tmp_path):
    result = run_tests_under_review(tmp_path, mutant="")
    assert result.returncode == 0, result.stdout + result.stderr
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed.group(1)) >= 3, result.stdout


@pytest.mark.parametrize("mutant", MUTANTS)
def test_tests_catch_the_mutant(tmp_path, mutant):
    result = run_tests_under_review(tmp_path, mutant=mutant)
    assert result.returncode == 1 and re.search(r"\d+ failed", result.stdout), (
        f"the tests in {TESTS_UNDER_REVIEW} did not detect mutant {mutant}:\n{result.stdout}"
    )
