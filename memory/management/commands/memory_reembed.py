import argparse

from django.core.management.base import BaseCommand, CommandError

from memory import services
from memory.embeddings import EmbeddingUnavailable
from memory.index import IndexMismatch, IndexUnavailable
from memory.management.commands.memory_optimize import describe


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1")
    return value


class Command(BaseCommand):
    help = ("Embed the memory items stored on BM25 alone while Ollama was unreachable. With --reset, rebuild the "
            "whole index (after changing FACTORY_EMBED_MODEL, FACTORY_EMBED_DIM or a memory language) and embed "
            "every item. The index is optimized afterwards.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--reset", action="store_true")
        parser.add_argument("--limit", type=positive_int, default=None, help="at most this many items (1 or more)")

    def handle(self, *args, reset: bool, limit: int | None, **options) -> None:
        try:
            if reset:
                self.stdout.write(f"Rebuilt the index with {services.rebuild_index()} items (keyword search only).")
            done = services.reembed_pending(limit=limit)
            self.stdout.write(f"Embedded {done} items.")
            if reset or done:
                self.stdout.write(describe(services.optimize_index()))
        except EmbeddingUnavailable as exc:
            raise CommandError(f"Cannot embed now: {exc}") from None
        except IndexMismatch as exc:
            raise CommandError(str(exc)) from None
        except IndexUnavailable as exc:
            raise CommandError(f"The memory index is unavailable: {exc}") from None
