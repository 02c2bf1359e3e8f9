"""Thin django-q2 entry points of the review app (scheduled by review's migration 0001)."""
from review import services


def reconcile_merges() -> int:
    return services.reconcile_merges()
