"""The model never idle: its busy fraction while tickets wait, beside each ticket's time when run alone.

    .venv/bin/python bench/model_busy.py [--tickets 20] [--alone 3] [--tokens 150] [--tokens-per-s 30]
                                         [--test-seconds 3] [--workers N] [--no-turns]

A fake Ollama server in a process of its own generates one answer at a time (OLLAMA_NUM_PARALLEL=1) at
--tokens-per-s; every answer is --tokens tokens long. A generated project whose test suite sleeps
--test-seconds (a conftest.py) gets tickets that each take two attempts: the first answer has a bug its own
test catches, the answer to the feedback is right. Everything runs through the real worker path: a django-q2
agent cluster (`manage.py qcluster`, Q_CLUSTER_NAME=agent) with FACTORY_AGENT_CONCURRENCY workers (default:
twice the model's places plus one), taking tickets from the queue as in production.

1. The floor: --alone tickets, each queued only when the previous one finished, half before the concurrent
   run and half after (a warm-up ticket first: the clone, the runner, the base commit's baseline).
2. --tickets tickets queued at once. Printed: the model server's busy fraction over the run (its own record
   of when it generated, over the wall time from the first ticket's start to the last one's end), and each
   ticket's time beside the alone median: the max and median slowdown. A ticket's time runs from its claim to
   its end, less the wait of its first model request: until its first turn, a ticket prepared ahead is
   queued like a pending ticket (that wait is printed too); every later wait (its retry's) is counted.
Targets: busy >= 90 %, max slowdown <= 1.2x. --no-turns sends every request to the server at once (no turns
at the factory: the server's own queue, in no order). Needs DATABASE_URL like the other benchmarks; uses its
own database `factory_bench_model_busy`.
"""
import argparse
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _django

BENCH_DB = "factory_bench_model_busy"
BUSY_TARGET, SLOWDOWN_TARGET = 0.90, 1.2
PADDING_WORD = "ok "


def answer_for(body: dict, *, tokens: int) -> str:
    """Ticket N's answer: a bug on the first attempt, right once the tests' feedback is in the prompt."""
    prompt = body["messages"][1]["content"]
    index = int(re.search(r"Add f_(\d+)", prompt).group(1))  # type: ignore[union-attr]
    operator = "*" if "previous attempt failed" in prompt else "+"
    files = (f"pkg/f_{index}.py\n```python\ndef f_{index}(x):\n    return x {operator} {index + 2}\n```\n\n"
             f"tests/test_f_{index}.py\n```python\nfrom pkg.f_{index} import f_{index}\n\n\n"
             f"def test_f_{index}():\n    assert f_{index}(3) == {3 * (index + 2)}\n```\n")
    padding = max(0, tokens - len(files.split()))
    return "Here is the change. " + PADDING_WORD * padding + "\n\n" + files


def serve_model(pipe, tokens: int, tokens_per_s: float) -> None:
    """The fake Ollama server's process: sends its URL, then, when told to stop, when it generated."""
    from functools import partial

    from tests.fake_ollama import FakeOllama

    with FakeOllama(answers=partial(answer_for, tokens=tokens), parallel=1, tokens_per_s=tokens_per_s) as fake:
        pipe.send(fake.url)
        pipe.recv()
        pipe.send(list(fake.generating))


def make_project(root: Path, test_seconds: float):
    from tests.support import make_remote_repo
    from tickets import services

    remote = make_remote_repo(root, {
        "pkg/__init__.py": "", "tests/__init__.py": "",
        "conftest.py": f"import time\n\ntime.sleep({test_seconds})  # the project's slow suite\n",
        "tests/test_base.py": "def test_base():\n    assert True\n"})
    return services.create_project(name="slow-suite", repo_url=str(remote), test_command="python -m pytest -q")


def queue_ticket(project, index: int):
    from tickets import services

    ticket, _ = services.create_ticket(actor=None, project=project, fields={
        "titulo": f"Add f_{index}", "descripcion": f"Add f_{index}(x) in pkg/f_{index}.py returning x times "
                                                   f"{index + 2}, with its test.",
        "archivos_modificar": [f"pkg/f_{index}.py", f"tests/test_f_{index}.py"]})
    return ticket.pk


def wait_done(ticket_ids: list, timeout: float) -> None:
    from tickets.models import Ticket

    deadline = time.monotonic() + timeout
    while Ticket.objects.filter(pk__in=ticket_ids, estado__in=["pending", "in_progress"]).exists():
        if time.monotonic() > deadline:
            raise TimeoutError("tickets still running after the timeout")
        time.sleep(0.2)


def ticket_times(ticket_ids: list) -> list[dict]:
    """Per ticket: its time (claim to end, less its first request's wait), that wait, attempts and outcome."""
    from tickets.models import Ticket

    rows = []
    for ticket in Ticket.objects.filter(pk__in=ticket_ids).prefetch_related("attempts"):
        attempts = sorted(ticket.attempts.all(), key=lambda attempt: attempt.number)
        first_wait = (attempts[0].model_wait_seconds or 0.0) if attempts else 0.0
        wall = (ticket.completado_en - ticket.iniciado_en).total_seconds()
        rows.append({"estado": ticket.estado, "attempts": len(attempts), "first_wait": first_wait,
                     "model": sum(a.model_seconds or 0 for a in attempts),
                     "tests": sum(a.test_seconds or 0 for a in attempts),
                     "time": wall - first_wait, "later_waits": sum(a.model_wait_seconds or 0 for a in attempts[1:]),
                     "start": ticket.iniciado_en.timestamp(), "end": ticket.completado_en.timestamp()})
    return rows


def busy_fraction(generating: list[tuple[float, float]], start: float, end: float) -> float:
    from lib.intervals import busy_fraction as fraction

    return fraction(generating, [(start, end)]) or 0.0


def start_cluster(data_dir: Path, model_url: str, *, workers: int | None, turns: bool) -> subprocess.Popen:
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = {**os.environ, "Q_CLUSTER_NAME": "agent", "OLLAMA_HOST": model_url, "FACTORY_DATA_DIR": str(data_dir),
           "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "FACTORY_OLLAMA_NUM_PARALLEL": "1" if turns else "0", "FACTORY_WARM_WORKTREES": "0"}
    env.pop("FACTORY_AGENT_CONCURRENCY", None)
    if workers:
        env["FACTORY_AGENT_CONCURRENCY"] = str(workers)
    elif not turns:
        env["FACTORY_AGENT_CONCURRENCY"] = "3"  # what the default is with turns: the same workers, no order
    return subprocess.Popen([sys.executable, str(_django.ROOT / "manage.py"), "qcluster"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_alone(project, indexes: list[int]) -> list[dict]:
    rows = []
    for index in indexes:
        ticket_id = queue_ticket(project, index)
        wait_done([ticket_id], timeout=600)
        rows += ticket_times([ticket_id])
    return rows


def report(alone: list[dict], together: list[dict], generating: list[tuple[float, float]], workers: str) -> None:
    floor = statistics.median(row["time"] for row in alone)
    start, end = min(row["start"] for row in together), max(row["end"] for row in together)
    busy = busy_fraction(generating, start, end)
    print(f"alone: {len(alone)} tickets, time p50 {floor:.1f} s (min {min(r['time'] for r in alone):.1f}, "
          f"max {max(r['time'] for r in alone):.1f}), of which the model {median_of(alone, 'model'):.1f} s and "
          f"the tests {median_of(alone, 'tests'):.1f} s; model busy while one runs: "
          f"{statistics.median(model_share(r, generating) for r in alone):.0%}")
    print(f"together: {len(together)} tickets queued at once, {workers} agent workers, {end - start:.0f} s")
    for number, row in enumerate(sorted(together, key=lambda row: row["start"]), start=1):
        print(f"  ticket {number:2d}: {row['estado']:<9} {row['attempts']} attempts  time {row['time']:5.1f} s "
              f"= {row['time'] / floor:4.2f}x alone  (waited for its first turn {row['first_wait']:5.1f} s, "
              f"for later turns {row['later_waits']:4.1f} s)")
    slowdowns = [row["time"] / floor for row in together]
    worst, median = max(slowdowns), statistics.median(slowdowns)
    print(f"model busy {busy:.1%} (target >= {BUSY_TARGET:.0%}: {'met' if busy >= BUSY_TARGET else 'MISSED'})   "
          f"slowdown max {worst:.2f}x, median {median:.2f}x beside the alone floor {floor:.1f} s "
          f"(target max <= {SLOWDOWN_TARGET}x: {'met' if worst <= SLOWDOWN_TARGET else 'MISSED'})")
    gaps = handovers(generating, start, end)
    if gaps:
        print(f"hand-overs (an answer starting within 1 s of the previous one's end): {len(gaps)}, gap median "
              f"{statistics.median(gaps) * 1000:.0f} ms, max {max(gaps) * 1000:.0f} ms; idle in longer gaps "
              f"{idle_beyond(generating, start, end):.1f} s")
    raw = [(row["time"] + row["first_wait"]) / floor for row in together]
    print(f"claim to end, the wait for the first turn included (queue time, not the target's): slowdown max "
          f"{max(raw):.2f}x, median {statistics.median(raw):.2f}x")
    failed = [row for row in together + alone if row["estado"] != "completed"]
    if failed:
        print(f"NOT COMPLETED: {len(failed)} tickets")


def handovers(generating: list[tuple[float, float]], start: float, end: float) -> list[float]:
    """Gaps shorter than 1 s between one answer's end and the next one's start: what passing the place costs."""
    spans = sorted(span for span in generating if start <= span[0] <= end)
    gaps = [later[0] - earlier[1] for earlier, later in zip(spans, spans[1:], strict=False)]
    return [gap for gap in gaps if 0 <= gap < 1.0]


def idle_beyond(generating: list[tuple[float, float]], start: float, end: float) -> float:
    """Seconds of the run in gaps of 1 s or more: nobody was ready to ask the model."""
    spans = sorted(span for span in generating if start <= span[0] <= end)
    edges = [(start, start), *spans, (end, end)]
    return sum(max(0.0, later[0] - earlier[1]) for earlier, later in zip(edges, edges[1:], strict=False)
               if later[0] - earlier[1] >= 1.0)


def median_of(rows: list[dict], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def model_share(row: dict, generating: list[tuple[float, float]]) -> float:
    return busy_fraction(generating, row["start"], row["end"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=20)
    parser.add_argument("--alone", type=int, default=3, help="tickets run alone, before and after the run, as the floor")
    parser.add_argument("--tokens", type=int, default=150, help="tokens of every answer")
    parser.add_argument("--tokens-per-s", type=float, default=30.0)
    parser.add_argument("--test-seconds", type=float, default=3.0, help="what the project's suite sleeps")
    parser.add_argument("--workers", type=int, default=None, help="agent workers (default: the setting's default)")
    parser.add_argument("--no-turns", action="store_true", help="no turns at the factory (FACTORY_OLLAMA_NUM_PARALLEL=0)")
    args = parser.parse_args()
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    server = multiprocessing.get_context("fork").Process(target=serve_model, args=(theirs, args.tokens,
                                                                                      args.tokens_per_s), daemon=True)
    server.start()
    model_url = ours.recv()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        os.environ["FACTORY_DATA_DIR"] = str(root / "data")
        _django.setup()
        from django.conf import settings

        settings.FACTORY_DATA_DIR = root / "data"
        settings.FACTORY_ALLOWED_REPO_ROOTS = (root,)
        with _django.bench_database(BENCH_DB):
            project = make_project(root, args.test_seconds)
            cluster = start_cluster(root / "data", model_url, workers=args.workers, turns=not args.no_turns)
            try:
                run_alone(project, [0])  # warm-up: the clone, the runner, the base commit's baseline
                before = args.alone // 2 + args.alone % 2
                alone = run_alone(project, list(range(1, 1 + before)))
                together_ids = [queue_ticket(project, index) for index in range(100, 100 + args.tickets)]
                wait_done(together_ids, timeout=60 * args.tickets)
                together = ticket_times(together_ids)
                alone += run_alone(project, list(range(1 + before, 1 + args.alone)))
            finally:
                cluster.terminate()
                cluster.wait(timeout=30)
            ours.send("stop")
            generating = ours.recv()
            workers = str(args.workers or ("3" if args.no_turns else "default (2 x places + 1 = 3)"))
            print(f"fake model: one answer at a time, {args.tokens} tokens at {args.tokens_per_s:g} tokens/s "
                  f"({args.tokens / args.tokens_per_s:.1f} s each); suite sleeps {args.test_seconds:g} s; "
                  f"turns at the factory: {'off' if args.no_turns else 'on'}; two attempts per ticket")
            report(alone, together, generating, workers)


if __name__ == "__main__":
    main()
