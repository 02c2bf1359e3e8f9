import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings

from agent.core.model import ModelUnavailable
from factory_bench.harness import (
    SCRIPTED,
    Benchmark,
    BenchmarkError,
    default_report_path,
    load_suite,
    metrics_lines,
    model_source,
)


class Command(BaseCommand):
    help = ("Run a benchmark suite (bench/suites/NAME) end to end through the factory with one model: print a "
            "table per ticket and the seed's three metrics, and write a JSON report. Uses the configured database: "
            "its projects are named bench-<suite>-<id>.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--suite", required=True, help="A folder of bench/suites/, e.g. pyinventory or nexo.")
        parser.add_argument("--model", default=settings.FACTORY_MODEL,
                            help=f"An Ollama model (default FACTORY_MODEL, {settings.FACTORY_MODEL}), or "
                                 f"'{SCRIPTED}' for the suite's own answers (with its known-wrong one).")
        parser.add_argument("--repeat", type=int, default=1, help="Runs of the suite, each on a fresh remote.")
        parser.add_argument("--tickets", default="", help="Only these keys, e.g. T01,T03 (dependencies added).")
        parser.add_argument("--output", type=Path, help="The JSON report (default bench/reports/<suite>-<model>-"
                                                        "<UTC time>.json).")
        parser.add_argument("--data-dir", type=Path, help="Keep remotes, clones and worktrees here (default: a "
                                                          "temporary directory, removed at the end).")
        parser.add_argument("--worker", action="store_true",
                            help="Hand the tickets to the running agent worker (Q_CLUSTER_NAME=agent qcluster on this "
                                 "database and FACTORY_DATA_DIR, started with FACTORY_MODEL=--model) instead of "
                                 "running them in this process.")

    def handle(self, *args, suite: str, model: str, repeat: int, tickets: str, output: Path | None,
               data_dir: Path | None, worker: bool, **options) -> None:
        if repeat < 1:
            raise CommandError("--repeat must be 1 or more")
        if worker and (model.strip() == SCRIPTED or data_dir):
            raise CommandError("--worker runs the worker's own Ollama model in its FACTORY_DATA_DIR: it cannot be "
                               f"combined with --model {SCRIPTED} or --data-dir")
        started = datetime.now(UTC)
        try:
            loaded = load_suite(suite)
            keys = loaded.select([key.strip() for key in tickets.split(",") if key.strip()] or None)
            models = model_source(model.strip(), loaded)
            models.check()  # before anything is created: an unreachable model must cost nothing
        except (BenchmarkError, ModelUnavailable) as exc:
            raise CommandError(str(exc)) from None
        path = output or default_report_path(suite=loaded.name, model=models.name, started=started)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"Cannot create the folder of the report {path}: {exc}") from None
        with nullcontext(settings.FACTORY_DATA_DIR) if worker else bench_data_dir(data_dir) as directory:
            report = Benchmark(suite=loaded, models=models, keys=keys, repeat=repeat, data_dir=directory,
                               out=self.stdout.write, worker=worker).run()
        write_report(path, report)
        self.print_summary(report, path)
        if report["aborted"]:
            raise CommandError(f"The benchmark stopped: {report['aborted']} (partial report in {path})")

    def print_summary(self, report: dict, path: Path) -> None:
        runs = len(report["repeats"])
        if runs > 1 or report["aborted"]:
            scope = "the tickets finished before it stopped" if report["aborted"] else f"all {runs} runs together"
            self.stdout.write(f"\nMetrics over {scope} ({report['model']}, suite {report['suite']}):")
            self.stdout.write("\n".join(metrics_lines(report["aggregate"]["metrics"])))
        self.stdout.write(f"\nJSON report: {path}")


@contextmanager
def bench_data_dir(given: Path | None) -> Iterator[Path]:
    """FACTORY_DATA_DIR for the run: the given folder (kept) or a temporary one (removed)."""
    directory = given.resolve() if given else Path(tempfile.mkdtemp(prefix="factory-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with override_settings(FACTORY_DATA_DIR=directory):
            yield directory
    finally:
        if given is None:
            shutil.rmtree(directory, ignore_errors=True)


def write_report(path: Path, report: dict) -> None:
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fallback = Path(tempfile.gettempdir()) / path.name
        fallback.write_text(text, encoding="utf-8")
        raise CommandError(f"Cannot write the report to {path} ({exc}); it was written to {fallback}") from None
