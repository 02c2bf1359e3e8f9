"""Thin django-q2 entry points of the review app (scheduled by review's migration 0001)."""
from tickets import decisions


def reconcile_merges() -> int:
    return decisions.reconcile_merges()
