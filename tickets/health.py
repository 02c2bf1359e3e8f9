"""What the ticket admin warns about, registered by the apps that know (the agent: model, sandbox).

A check returns (level, message) pairs, level being a django.contrib.messages level.
"""
from collections.abc import Callable

Notice = tuple[int, str]
_checks: list[Callable[[], list[Notice]]] = []


def register(check: Callable[[], list[Notice]]) -> None:
    if check not in _checks:
        _checks.append(check)


def notices() -> list[Notice]:
    return [notice for check in _checks for notice in check()]
