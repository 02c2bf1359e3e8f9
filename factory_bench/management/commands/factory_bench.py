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
from factory_bench.gold import GOLD
from factory_bench.harness import (
    SCRIPTED,
    Benchmark,
    BenchmarkError,
    default_report_path,
    load_suite,
    metrics_lines,
    model_source,
)
from factory_bench.replay import DEFAULT_TEST_COMMAND, Replay, replay_config
from factory_bench.suite import OllamaModels


class Command(BaseCommand):
    help = ("Run a benchmark suite (bench/suites/NAME) end to end through the factory with one model: print a "
            "table per ticket and the seed's three metrics, and write a JSON report. Uses the configured database: "
            "its projects are named bench-<suite>-<id>.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--suite", help="A folder of bench/suites/, e.g. pyinventory or nexo.")
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
        modes = parser.add_subparsers(dest="mode", title="modes", required=False)
        add_replay_arguments(modes.add_parser("replay", help=REPLAY_HELP, description=REPLAY_HELP))

    def handle(self, *args, mode: str | None = None, **options) -> None:
        if mode == "replay":
            self.replay(**options)
            return
        if not options.get("suite"):
            raise CommandError("Name a suite (--suite NAME) or replay a repository's history "
                               "(factory_bench replay --repo PATH --last N --model gold)")
        self.run_suite(**options)

    def run_suite(self, *, suite: str, model: str, repeat: int, tickets: str, output: Path | None,
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
        make_report_folder(path)
        with nullcontext(settings.FACTORY_DATA_DIR) if worker else bench_data_dir(data_dir) as directory:
            report = Benchmark(suite=loaded, models=models, keys=keys, repeat=repeat, data_dir=directory,
                               out=self.stdout.write, worker=worker).run()
        write_report(path, report)
        self.print_summary(report, path)
        if report["aborted"]:
            raise CommandError(f"The benchmark stopped: {report['aborted']} (partial report in {path})")

    def replay(self, *, repo: str | None, project: str | None, branch: str | None, last: int | None, commits: str,
               model: str, output: Path | None, data_dir: Path | None, setup_command: str | None,
               test_command: str | None, test_report: str | None, verbose: bool, replayable_only: bool,
               **options) -> None:
        wanted = tuple(sha.strip() for sha in commits.split(",") if sha.strip())
        if (last is None) == (not wanted):
            raise CommandError("Say which commits: --last N or --commits A,B,C (one of the two)")
        if replayable_only and wanted:
            raise CommandError("--replayable-only chooses among the newest commits: it goes with --last, not --commits")
        if last is not None and last < 1:
            raise CommandError("--last must be 1 or more")
        try:
            config = replay_config(repo=source_argument(repo), project=project, branch=branch,
                                   setup_command=setup_command, test_command=test_command, test_report=test_report)
        except BenchmarkError as exc:
            raise CommandError(str(exc)) from None
        if not config.test_command.strip():
            raise CommandError("--test-command must not be empty")
        started = datetime.now(UTC)
        path = output or default_report_path(suite=f"replay-{Path(config.source.rstrip('/')).stem}",
                                             model=model.strip(), started=started)
        ollama = None if model.strip() == GOLD else OllamaModels(model.strip())
        try:
            if ollama is not None:
                ollama.check()  # before anything is created: an unreachable model must cost nothing
        except ModelUnavailable as exc:
            raise CommandError(str(exc)) from None
        make_report_folder(path)
        with bench_data_dir(data_dir) as directory:
            report = Replay(config=config, ollama=ollama, data_dir=directory, out=self.stdout.write,
                            last=last, commits=wanted, verbose=verbose,
                            replayable_only=replayable_only).run()
        write_report(path, report)
        self.stdout.write(f"\nJSON report: {path}")
        if report["aborted"]:
            raise CommandError(f"The replay stopped: {report['aborted']} (partial report in {path})")

    def print_summary(self, report: dict, path: Path) -> None:
        runs = len(report["repeats"])
        if runs > 1 or report["aborted"]:
            scope = "the tickets finished before it stopped" if report["aborted"] else f"all {runs} runs together"
            self.stdout.write(f"\nMetrics over {scope} ({report['model']}, suite {report['suite']}):")
            self.stdout.write("\n".join(metrics_lines(report["aggregate"]["metrics"])))
        self.stdout.write(f"\nJSON report: {path}")


REPLAY_HELP = ("Replay a repository's own history: one ticket per commit that changes code and tests, started "
               "from its parent, its test changes as hidden acceptance tests. --model gold answers with the real "
               "change (would the factory accept your history?); an Ollama model measures itself on your code.")


def add_replay_arguments(parser) -> None:
    parser.add_argument("--repo", help="The repository: a path or a URL git can clone.")
    parser.add_argument("--project", help="Or a project of the factory: its repository, default branch, commands "
                                          "and edit format (the options below override them).")
    parser.add_argument("--branch", help="The branch whose first-parent history is replayed (default main, or "
                                         "the project's default branch).")
    parser.add_argument("--last", type=int, help="The newest N commits that change both code and tests.")
    parser.add_argument("--commits", default="", help="These commits instead, e.g. 1a2b3c,4d5e6f.")
    parser.add_argument("--model", required=True,
                        help=f"'{GOLD}' (the commits' own changes) or an Ollama model, e.g. qwen2.5-coder:14b.")
    parser.add_argument("--setup-command", help="The project's setup, e.g. 'npm ci' (default none).")
    parser.add_argument("--test-command", help=f"The project's test command (default '{DEFAULT_TEST_COMMAND}').")
    parser.add_argument("--test-report", help="The per-test report the test command writes, if any (e.g. a Jest "
                                              "JSON report path).")
    parser.add_argument("--replayable-only", action="store_true",
                        help="With --last: pass over commits whose tests already pass on their parent (the factory "
                             "refuses such tickets before any model request) and take older ones instead.")
    parser.add_argument("--verbose", action="store_true", help="Print each commit passed over and why.")
    parser.add_argument("--output", type=Path, help="The JSON report (default bench/reports/replay-<repo>-<model>-"
                                                    "<UTC time>.json).")
    parser.add_argument("--data-dir", type=Path, help="Keep remotes, clones and worktrees here (default: a "
                                                      "temporary directory, removed at the end).")


def source_argument(repo: str | None) -> str | None:
    """A local path made absolute (git clones it from elsewhere); a URL as given."""
    if repo is None:
        return None
    local = Path(repo).expanduser()
    return str(local.resolve()) if local.exists() else repo


def make_report_folder(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"Cannot create the folder of the report {path}: {exc}") from None


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
