from django.core.management.base import BaseCommand, CommandError

from memory import services
from memory.index import EXACT_DENSE_MAX_POINTS, IndexUnavailable


def describe(decision: dict) -> str:
    if decision["mode"] == "hnsw":
        return (f"Optimized {decision['points']} points; dense search uses the HNSW graph (hnsw_ef="
                f"{decision['hnsw_ef']}, recall {decision['recall']} against exact scoring).")
    reason = decision.get("reason", "")
    return f"Optimized {decision['points']} points; dense search stays exact ({reason})."


class Command(BaseCommand):
    help = ("Compact the shared memory's index. Above "
            f"{EXACT_DENSE_MAX_POINTS} points it builds an HNSW graph for dense vectors and measures its recall "
            "against exact scoring; searches use the graph only if the recall is high enough. Writes never do this "
            "work, so run it after large imports (memory_reembed runs it) or on a schedule.")

    def handle(self, *args, **options) -> None:
        try:
            self.stdout.write(describe(services.optimize_index()))
        except IndexUnavailable as exc:
            raise CommandError(f"The memory index is unavailable: {exc}") from None
