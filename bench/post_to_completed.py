"""POST -> completed with an instant model, beside the bare shell doing the same work (issue 21, item 1).

    .venv/bin/python bench/post_to_completed.py [--tickets 5]

A small Python project (a module, its pytest tests) in a bare remote; a real agent cluster (`manage.py
qcluster`, as `make run` starts it) and a fake Ollama answering at once with the change: the module with a new
function and a test file for it. Each figure is the time from the API's POST to the ticket's completado_en
(branch pushed). Its floor, timed just before it so both see the same load: a shell script cloning the
remote, writing the same two files, running the same test command with the same minimal runner (outside the
sandbox), committing and pushing a branch. Median of --tickets pairs (the first ticket, which clones the
repository and starts the model probe, is left out). Then, per ticket, the phases the agent recorded.
Needs DATABASE_URL like the other benchmarks; uses its own database `factory_bench_post`.
"""
import argparse
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _django
from agent_overhead import database_url, git, wait_for

BENCH_DB = "factory_bench_post"
TARGET = 1.25
TEST_COMMAND = "python -m pytest -q"
CALC = 'def add(a: int, b: int) -> int:\n    return a + b\n'
CALC_TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
FLOOR_SCRIPT = """set -e
git clone -q "$REMOTE" "$WORK"
cd "$WORK"
git checkout -q -b "$BRANCH"
printf '%s' "$CALC_NEW" > calc.py
printf '%s' "$TEST_NEW" > tests/test_subtract.py
"$RUNNER" -m pytest -q >/dev/null
git add -A
git -c user.email=b@b -c user.name=b commit -q -m "$BRANCH"
git push -q origin "$BRANCH"
"""


def calc_with(index: int) -> str:
    return CALC + f"\n\ndef subtract_{index}(a: int, b: int) -> int:\n    return a - b\n"


def test_for(index: int) -> str:
    return f"from calc import subtract_{index}\n\n\ndef test_subtract_{index}():\n    assert subtract_{index}(5, 3) == 2\n"


def answer_for(index: int) -> str:
    return (f"calc.py\n```python\n{calc_with(index)}```\n\n"
            f"tests/test_subtract.py\n```python\n{test_for(index)}```\n")


def answer_from_prompt(body: dict) -> str:
    found = re.search(r"Add subtract_(\d+)\(a, b\)", " ".join(message["content"] for message in body["messages"]))
    if found is None:
        raise ValueError("the prompt names no ticket of this benchmark")
    return answer_for(int(found.group(1)))


def make_remote(root: Path) -> Path:
    work = root / "seed"
    (work / "tests").mkdir(parents=True)
    (work / "calc.py").write_text(CALC)
    (work / "tests" / "test_calc.py").write_text(CALC_TESTS)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "-c", "user.email=b@b", "-c", "user.name=b", "commit", "-q", "-m", "calc")
    remote = root / "remote.git"
    git(root, "clone", "-q", "--bare", str(work), str(remote))
    return remote


def floor_seconds(*, remote: Path, scratch: Path, index: int, runner: Path) -> float:
    env = {**os.environ, "REMOTE": str(remote), "WORK": str(scratch / f"floor-{index}"), "BRANCH": f"floor-{index}",
           "CALC_NEW": calc_with(index), "TEST_NEW": test_for(index), "RUNNER": str(runner)}
    started = time.perf_counter()
    subprocess.run(["bash", "-c", FLOOR_SCRIPT], env=env, check=True)
    return time.perf_counter() - started


def ticket_seconds(api, *, project_name: str, index: int) -> tuple[float, object]:
    fields = {"titulo": f"Add subtract_{index}(a, b)", "project": project_name,
              "descripcion": f"Add subtract_{index}(a, b) returning a - b to calc.py, with a test.",
              "archivos_modificar": ["calc.py", "tests/test_subtract.py"]}
    posted = time.time()
    response = api.post("/api/factory/tickets", fields, format="json")
    assert response.status_code == 201, response.content[:300]
    ticket = wait_for(response.data["id"], "completado_en", timeout=300)
    assert ticket.estado == "completed", (ticket.estado, ticket.error_mensaje)
    return ticket.completado_en.timestamp() - posted, ticket


def phases(ticket) -> str:
    """Where the ticket's time went, from what the agent recorded: pick-up, before the first attempt, each
    attempt (its model and test seconds), and after the last one (commit, push, memory, the state change)."""
    created = ticket.creado_en.timestamp()
    attempts = list(ticket.attempts.order_by("number"))
    parts = [f"picked up after {ticket.iniciado_en.timestamp() - created:.2f} s"]
    if attempts:
        parts.append(f"first attempt started after {attempts[0].started_at.timestamp() - ticket.iniciado_en.timestamp():.2f} s")
    for attempt in attempts:
        parts.append(f"attempt {attempt.number}: {attempt.total_seconds or 0:.2f} s (model {attempt.model_seconds or 0:.2f} s, "
                     f"tests {attempt.test_seconds or 0:.2f} s)")
    if attempts and attempts[-1].finished_at:
        parts.append(f"completed {ticket.completado_en.timestamp() - attempts[-1].finished_at.timestamp():.2f} s after it")
    return "; ".join(parts)


def run(tickets: int, root: Path) -> None:
    from django.conf import settings

    from agent.testruns.runner import DEFAULT_RUNNERS_DIR, runner_name
    from tests.fake_ollama import FakeOllama
    from tickets import services

    remote = make_remote(root)
    project = services.create_project(name="calc", repo_url=str(remote), test_command=TEST_COMMAND)
    runners = Path(os.environ.get("FACTORY_RUNNERS_DIR", DEFAULT_RUNNERS_DIR))
    api = _django.architect_client()
    with FakeOllama(answers=answer_from_prompt) as fake:
        env = {**os.environ, "Q_CLUSTER_NAME": "agent", "OLLAMA_HOST": fake.url, "FACTORY_DATA_DIR": str(root / "data"),
               "FACTORY_RUNNERS_DIR": str(runners), "DATABASE_URL": database_url(settings.DATABASES["default"])}
        cluster = subprocess.Popen([sys.executable, str(_django.ROOT / "manage.py"), "qcluster"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            ticket_seconds(api, project_name=project.name, index=0)  # clones, builds the runner, probes the model
            runner = runners / runner_name() / "bin" / "python"
            walls, floors, done = [], [], []
            for index in range(1, tickets + 1):
                floors.append(floor_seconds(remote=remote, scratch=root, index=index, runner=runner))
                wall, ticket = ticket_seconds(api, project_name=project.name, index=index)
                walls.append(wall)
                done.append(ticket)
                print(f"  ticket {index}: {wall:5.2f} s beside the floor's {floors[-1]:5.2f} s")
        finally:
            cluster.terminate()
            cluster.wait(timeout=30)
    p50, floor = _django.percentile(walls, 0.5), _django.percentile(floors, 0.5)
    print(f"POST -> completed, instant model        p50 {p50:5.2f} s beside the bare shell's {floor:5.2f} s: "
          f"{p50 / floor:4.2f}x (target <= {TARGET}x: {'met' if p50 <= TARGET * floor else 'MISSED'})")
    for index, ticket in enumerate(done, start=1):
        print(f"  ticket {index}: {phases(ticket)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        os.environ["FACTORY_DATA_DIR"] = str(root / "data")
        _django.setup()
        from django.conf import settings

        settings.FACTORY_DATA_DIR = root / "data"
        logging.getLogger("factory.tickets").setLevel(logging.WARNING)
        with _django.bench_database(BENCH_DB):
            run(args.tickets, root)


if __name__ == "__main__":
    main()
