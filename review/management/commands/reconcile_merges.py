"""Run at start by `make run` and the compose file: merges pushed by an approve that died before recording
them are recorded now (the minute schedule does the same while the workers run)."""
from django.core.management.base import BaseCommand

from tickets.decisions import reconcile_merges


class Command(BaseCommand):
    help = "Record as merged the completed tickets whose approve pushed the merge but could not record it."

    def handle(self, *args, **options) -> None:
        recorded = reconcile_merges()
        if recorded:
            self.stdout.write(f"Recorded {recorded} merge(s) pushed by approves that were cut off.")
