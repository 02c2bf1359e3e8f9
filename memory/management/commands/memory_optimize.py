from django.core.management.base import BaseCommand, CommandError

from memory import services
from memory.index import EXACT_DENSE_MAX_POINTS, IndexUnavailable


def describe(result: dict) -> str:
    if result["graph"]:
        return (f"Optimized {result['points']} points; dense search may use the HNSW graph once each process's "
                f"recall check on its first searches passes (else it stays exact).")
    return f"Optimized {result['points']} points; dense search is exact (at most {EXACT_DENSE_MAX_POINTS} points)."


class Command(BaseCommand):
    help = (f"Compact the shared memory's index. Above {EXACT_DENSE_MAX_POINTS} points it builds an HNSW graph for "
            "dense vectors; each process uses it only after a recall check of its first searches against exact "
            "scoring. Writes never do this work: run it after large imports (memory_reembed runs it) or on a "
            "schedule.")

    def handle(self, *args, **options) -> None:
        try:
            self.stdout.write(describe(services.optimize_index()))
        except IndexUnavailable as exc:
            raise CommandError(f"The memory index is unavailable: {exc}") from None
