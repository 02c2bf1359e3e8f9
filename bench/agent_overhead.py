"""Agent orchestration overhead and queue pick-up delay, on a generated repository of 2,000 files.

    .venv/bin/python bench/agent_overhead.py [--files 2000] [--tickets 10]

1. Overhead per ticket: run_ticket() with a scripted model that answers at once;
   everything but model time and the project's own test time (claim, fetch,
   worktree, prompt, apply, syntax check, commit, push, diff, bookkeeping).
   Target p50 <= 1.0 s. Measured twice: with a fresh checkout per ticket (no
   ticket reviewed yet), and with reviews keeping up, where each new ticket
   reuses the checkout of one that was approved (only changed files are written).
2. Pick-up delay: a real django-q2 agent cluster (subprocess) and a real HTTP
   server speaking Ollama's API; time from the POST returning to the agent
   starting the ticket (iniciado_en). Target p50 <= 0.5 s.
Needs DATABASE_URL like the other benchmarks; uses its own database.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _django

BENCH_DB = "factory_bench_agent"
TEST_COMMAND = "python -c \"print('1 passed, 0 failed')\""


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def generate_repo(root: Path, files: int) -> Path:
    work = root / "work"
    for index in range(files):
        path = work / f"pkg{index // 40:02d}" / f"module_{index:04d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'"""Module {index}."""\n\n\ndef value_{index}() -> int:\n    return {index}\n')
    git(work, "init", "-q", "-b", "main")
    git(work, "-c", "user.email=b@b", "-c", "user.name=b", "add", "-A")
    git(work, "-c", "user.email=b@b", "-c", "user.name=b", "commit", "-q", "-m", "generated")
    remote = root / "remote.git"
    git(root, "clone", "-q", "--bare", str(work), str(remote))
    return remote


def answer_for(index: int) -> str:
    return (f"pkg00/module_{index:04d}.py\n```python\n\"\"\"Module {index}.\"\"\"\n\n\ndef value_{index}() -> int:\n"
            f"    return {index}\n\n\ndef doubled_{index}() -> int:\n    return 2 * value_{index}()\n```\n")


def ticket_fields(index: int) -> dict:
    return {"titulo": f"Add doubled_{index}", "descripcion": f"Add doubled_{index}() returning twice value_{index}().",
            "archivos_modificar": [f"pkg00/module_{index:04d}.py"], "tests_requeridos": ["doubled is twice value"]}


def measure_overhead(project, tickets: int, *, first_index: int, reviewed: bool) -> list[float]:
    """Per-ticket overhead. reviewed=True: each ticket is approved before the next starts, as in a factory
    whose reviews keep up, so the next ticket reuses its checkout (see ProjectRepo.recycle_worktree)."""
    from agent.llm import ScriptedModel
    from agent.runner import run_ticket
    from tickets import review, services

    overheads = []
    for index in range(first_index, first_index + tickets + 1):
        ticket, _ = services.create_ticket(actor=None, project=project, fields=ticket_fields(index))
        started = time.perf_counter()
        done = run_ticket(str(ticket.pk), model=ScriptedModel([answer_for(index)]))
        wall = time.perf_counter() - started
        assert done.estado == "completed", done.error_mensaje
        attempt = done.attempts.get()
        if index > first_index:  # the first run may clone the repository: a one-time cost per project
            overheads.append(wall - (attempt.model_seconds or 0) - (attempt.test_seconds or 0))
        if reviewed:
            review.project_repo(project).recycle_worktree(done.branch_name)
    return overheads


def answer_from_prompt(body: dict) -> str:
    return answer_for(int(re.search(r"doubled_(\d+)", body["messages"][1]["content"]).group(1)))


def measure_pickup(project, tickets: int, data_dir: Path) -> list[float]:
    from django.conf import settings

    from tests.fake_ollama import FakeOllama

    api = _django.architect_client()
    with FakeOllama(answers=answer_from_prompt) as fake:
        env = {**os.environ, "Q_CLUSTER_NAME": "agent", "OLLAMA_HOST": fake.url, "FACTORY_DATA_DIR": str(data_dir),
               "DATABASE_URL": database_url(settings.DATABASES["default"])}
        cluster = subprocess.Popen([sys.executable, str(_django.ROOT / "manage.py"), "qcluster"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            delays = []
            for index in range(100, 101 + tickets):
                response = api.post("/api/factory/tickets", {**ticket_fields(index), "project": project.name},
                                    format="json")
                posted = time.time()
                ticket_id = response.data["id"]
                ticket = wait_for(ticket_id, "iniciado_en")
                if index > 100:  # the first pick-up includes the cluster's start-up
                    delays.append(ticket.iniciado_en.timestamp() - posted)
                wait_for(ticket_id, "completado_en")
            return delays
        finally:
            cluster.terminate()
            cluster.wait(timeout=30)


def wait_for(ticket_id: str, field: str, timeout: float = 60.0):
    from tickets.models import Ticket

    deadline = time.time() + timeout
    while time.time() < deadline:
        ticket = Ticket.objects.get(pk=ticket_id)
        if getattr(ticket, field):
            return ticket
        time.sleep(0.02)
    raise TimeoutError(f"ticket never got {field}")


def database_url(db: dict) -> str:
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--tickets", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        os.environ["FACTORY_DATA_DIR"] = str(root / "data")
        _django.setup()
        from django.conf import settings

        settings.FACTORY_DATA_DIR = root / "data"
        with _django.bench_database(BENCH_DB):
            from tickets import services

            remote = generate_repo(root, args.files)
            project = services.create_project(name="generated", repo_url=str(remote), test_command=TEST_COMMAND)
            print(f"Repository: {args.files} files; sandbox: {settings.FACTORY_SANDBOX}")
            cold = measure_overhead(project, args.tickets, first_index=0, reviewed=False)
            _django.report("overhead per ticket, fresh checkout", cold, target=1.0, unit="s")
            warm = measure_overhead(project, args.tickets, first_index=50, reviewed=True)
            _django.report("overhead per ticket, reviews keep up", warm, target=1.0, unit="s")
            delays = measure_pickup(project, args.tickets, root / "data")
            _django.report("POST returned -> agent started", delays, target=0.5, unit="s")


if __name__ == "__main__":
    main()
