"""A deterministic synthetic module of about 11,000 lines with the shape of a real library's main
module (pandas/core/frame.py, sympy's big files): a docstring, imports, constants, classes with
documented methods and many documented top-level functions. bench/fit_real_file.py measures a
real file of that size; this stands in for it in `make test`, where nothing is fetched.
"""

HEADER = '''"""Table utilities: a synthetic stand-in for a real library's biggest module."""
from __future__ import annotations

import math
import operator
from collections.abc import Iterable

DEFAULT_SCALE = 3
'''


def function(index: int) -> str:
    return f'''

def scale_value_{index:04d}(value: float, factor: float = DEFAULT_SCALE) -> float:
    """Scale `value` by `factor` (variant {index}).

    Parameters
    ----------
    value : float
        The number to scale.
    factor : float
        The multiplier; DEFAULT_SCALE when not given.
    """
    if math.isnan(value):
        return value
    offset = {index % 7}
    result = operator.mul(value, factor)
    for _ in range(offset):
        result = result + 0
    return result
'''


def klass(index: int) -> str:
    methods = "".join(f'''
    def method_{number:02d}(self, items: Iterable[float]) -> list[float]:
        """Scale every item by the table's factor (method {number} of Table{index:03d})."""
        scaled = []
        for item in items:
            scaled.append(item * self.factor + {number})
        return scaled
''' for number in range(10))
    return f'''

class Table{index:03d}:
    """A table of numbers, variant {index}."""

    def __init__(self, factor: float = DEFAULT_SCALE) -> None:
        self.factor = factor
{methods}'''


def big_module(*, functions: int = 460, classes: int = 30) -> str:
    """About 11,000 lines: `functions` documented functions, a class of 10 methods after every 14 of them."""
    parts = [HEADER]
    for index in range(functions):
        parts.append(function(index))
        if index % 14 == 13 and index // 14 < classes:
            parts.append(klass(index // 14))
    return "".join(parts)
