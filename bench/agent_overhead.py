"""Agent orchestration overhead beside its git floors, candidates beside one answer, and queue pick-up delay.

    .venv/bin/python bench/agent_overhead.py [--files 20000] [--tickets 5] [--model-delay 3] [--skip-pickup]

On a generated repository of --files Python files (two commits on main), everything here runs the real agent
(run_ticket: claim, fetch, worktree, prompt, code map, apply, syntax check, the project's tests in the
sandbox, commit, push, bookkeeping). Overhead = wall time - model time - the project's own test time.
1. Fresh checkout (no warm worktree, FACTORY_WARM_WORKTREES=0) beside the floor: a bare `git worktree add`
   of the same commit, timed before each ticket. Target: overhead <= 1.5x the floor.
2. Warm checkout: the pool is refilled between tickets (what the default queue's worker does while a ticket
   runs) and main moves by one commit before each ticket, so the switch writes what a merge changed. Beside
   the floor: a bare `git checkout` between the same two commits. Target: p50 <= 0.5 s. Also printed: the
   code map's share (agent/codemap: one git grep over the files, its own benchmark is context_map.py).
3. Candidates: wall time per attempt with 3 candidates beside 1, against a fake Ollama server that answers
   requests in parallel after --model-delay seconds, as a GPU serving 3 requests at once. Target <= 1.5x.
4. Pick-up delay: a real django-q2 agent cluster (subprocess); time from the POST returning to the agent
   starting the ticket (iniciado_en). Target p50 <= 0.5 s.
Needs DATABASE_URL like the other benchmarks; uses its own database `factory_bench_agent`.
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

BENCH_DB = "factory_bench_agent"
FRESH_TARGET = 1.5  # overhead with a fresh checkout, times a bare `git worktree add`
WARM_TARGET_S = 0.5
CANDIDATES_TARGET = 1.5  # attempt wall time with 3 candidates, times 1 candidate
TEST_COMMAND = "python -c \"print('1 passed, 0 failed')\""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def generate_repo(root: Path, files: int) -> Path:
    work = root / "work"
    for index in range(files):
        path = work / f"pkg{index // 40:03d}" / f"module_{index:05d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'"""Module {index}."""\n\n\ndef value_{index}() -> int:\n    return {index}\n')
    git(work, "init", "-q", "-b", "main")
    git(work, "config", "user.email", "b@b")
    git(work, "config", "user.name", "b")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "generated")
    remote = root / "remote.git"
    git(root, "clone", "-q", "--bare", str(work), str(remote))
    git(work, "remote", "add", "origin", str(remote))
    advance_main(work, 0)
    return remote


def advance_main(work: Path, step: int) -> None:
    """One more commit on the remote's main changing one file, as a merged ticket would."""
    notes = work / "NOTES.md"
    notes.write_text(f"step {step}\n")
    git(work, "add", "NOTES.md")
    git(work, "commit", "-q", "-m", f"step {step}")
    git(work, "push", "-q", "origin", "main")


def module_path(index: int) -> str:
    return f"pkg{index // 40:03d}/module_{index:05d}.py"


def answer_for(index: int) -> str:
    return (f"{module_path(index)}\n```python\n\"\"\"Module {index}.\"\"\"\n\n\ndef value_{index}() -> int:\n"
            f"    return {index}\n\n\ndef doubled_{index}() -> int:\n    return 2 * value_{index}()\n```\n")


def ticket_fields(index: int) -> dict:
    return {"titulo": f"Add doubled_{index}", "descripcion": f"Add doubled_{index}() returning twice value_{index}().",
            "archivos_modificar": [module_path(index)], "tests_requeridos": ["doubled is twice value"]}


def run_one(project, index: int, *, scripted: bool = True) -> tuple[float, object]:
    """One ticket through the real agent, with a model answering at once (scripted) or the configured one
    (FACTORY_MODEL at OLLAMA_HOST): (overhead in seconds, the finished ticket)."""
    from agent.core.model import ScriptedModel
    from agent.worker.runner import run_ticket
    from tickets import services

    ticket, _ = services.create_ticket(actor=None, project=project, fields=ticket_fields(index))
    started = time.perf_counter()
    done = run_ticket(str(ticket.pk), model=ScriptedModel([answer_for(index)]) if scripted else None)
    wall = time.perf_counter() - started
    assert done.estado == "completed", done.error_mensaje
    model_s = sum(attempt.model_seconds or 0 for attempt in done.attempts.all())
    test_s = sum(attempt.test_seconds or 0 for attempt in done.attempts.all())
    return wall - model_s - test_s, done


def timed_git(cwd: Path, *args: str) -> float:
    started = time.perf_counter()
    git(cwd, *args)
    return time.perf_counter() - started


def measure_fresh(project, tickets: int, *, first_index: int) -> tuple[list[float], list[float]]:
    """No warm checkout: every ticket writes a whole new worktree. Floor: a bare `git worktree add`."""
    from django.conf import settings

    from tickets.repos import project_repo

    settings.FACTORY_WARM_WORKTREES = 0
    overheads, floors = [], []
    for index in range(first_index, first_index + tickets + 1):
        repo = project_repo(project)
        if index > first_index:  # the first run clones the repository: a one-time cost per project
            floor = repo.worktrees_dir / "floor-checkout"
            floors.append(timed_git(repo.path, "worktree", "add", "-q", "--detach", str(floor),
                                    f"origin/{project.default_branch}"))
            git(repo.path, "worktree", "remove", "--force", str(floor))
        overhead, done = run_one(project, index)
        if index > first_index:
            overheads.append(overhead)
        repo.recycle_worktree(done.branch_name)  # with no pool, the checkout is deleted
    return overheads, floors


class MapClock:
    """Seconds spent in the code map (GitWorkspace.context_map) while the block runs."""

    def __enter__(self):
        from agent.core.workspace import GitWorkspace

        self.seconds, self.original = 0.0, GitWorkspace.context_map

        def timed_map(workspace, paths):
            started = time.perf_counter()
            try:
                return self.original(workspace, paths)
            finally:
                self.seconds += time.perf_counter() - started

        GitWorkspace.context_map = timed_map
        return self

    def __exit__(self, *exc) -> None:
        from agent.core.workspace import GitWorkspace

        GitWorkspace.context_map = self.original


def measure_warm(project, work: Path, tickets: int, *, first_index: int) -> tuple[list[float], list[float], float]:
    """The pool refilled off the clock before each ticket, main one commit further. Floor: a bare checkout
    switch between the same two commits. Returns overheads, floors and the code map's seconds per ticket."""
    from django.conf import settings

    from agent.worker import baseline
    from tickets.repos import project_repo

    settings.FACTORY_WARM_WORKTREES = 2
    repo = project_repo(project)
    repo.keep_spares()
    floor = repo.worktrees_dir / "floor-checkout"
    git(repo.path, "worktree", "add", "-q", "--detach", str(floor), f"origin/{project.default_branch}")
    git(floor, "config", "feature.manyFiles", "true")
    overheads, floors = [], []
    with MapClock() as clock:
        for step, index in enumerate(range(first_index, first_index + tickets), start=1):
            repo.keep_spares()  # what the default queue's worker does while tickets run
            before = git(repo.path, "rev-parse", f"origin/{project.default_branch}").strip()
            advance_main(work, first_index + step)
            baseline.refresh(project_id=project.pk)  # the default queue's worker does it after a merge
            after = git(repo.path, "rev-parse", f"origin/{project.default_branch}").strip()
            git(floor, "checkout", "-q", "--force", "--detach", before)
            floors.append(timed_git(floor, "checkout", "-q", "--force", "--detach", after))
            overhead, done = run_one(project, index)
            overheads.append(overhead)
    git(repo.path, "worktree", "remove", "--force", str(floor))
    return overheads, floors, clock.seconds / tickets


def measure_candidates(project, tickets: int, *, first_index: int, delay: float) -> tuple[list[float], list[float]]:
    """Wall time of each attempt with 1 and with 3 candidates, interleaved; the fake model answers in parallel."""
    from django.conf import settings

    from tests.fake_ollama import FakeOllama
    from tickets.repos import project_repo

    settings.FACTORY_WARM_WORKTREES = 4  # the ticket's checkout and three copies for the candidates
    settings.FACTORY_OLLAMA_NUM_PARALLEL = {"": 3}  # the fake server answers the three at once: three places
    one, three = [], []
    with FakeOllama(answers=answer_from_prompt, delay_s=delay) as fake:
        settings.OLLAMA_HOST = fake.url
        for index in range(first_index, first_index + 2 * tickets):
            project.candidates = 1 if index % 2 == 0 else 3
            project.save(update_fields=["candidates"])
            project_repo(project).keep_spares()
            _, done = run_one(project, index, scripted=False)
            attempt = done.attempts.get()
            (one if project.candidates == 1 else three).append(attempt.total_seconds)
    project.candidates = None
    project.save(update_fields=["candidates"])
    return one, three


def ratio_line(label: str, samples: list[float], floors: list[float], *, target: float | None) -> None:
    p50, floor = _django.percentile(samples, 0.5), _django.percentile(floors, 0.5)
    verdict = "" if target is None else f"target <= {target:g}x {'met' if p50 / floor <= target else 'MISSED'}"
    print(f"{label:<52} p50 {p50:6.2f} s  p95 {_django.percentile(samples, 0.95):6.2f} s | floor p50 {floor:6.2f} s | "
          f"{p50 / floor:5.2f}x  {verdict}")


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
            for index in range(200, 201 + tickets):
                response = api.post("/api/factory/tickets", {**ticket_fields(index), "project": project.name},
                                    format="json")
                posted = time.time()
                ticket_id = response.data["id"]
                ticket = wait_for(ticket_id, "iniciado_en")
                if index > 200:  # the first pick-up includes the cluster's start-up
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
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--tickets", type=int, default=5)
    parser.add_argument("--model-delay", type=float, default=3.0, help="seconds the fake model takes to answer")
    parser.add_argument("--skip-pickup", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        os.environ["FACTORY_DATA_DIR"] = str(root / "data")
        _django.setup()
        from django.conf import settings

        settings.FACTORY_DATA_DIR = root / "data"
        for noisy in ("factory.tickets", "django-q"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        with _django.bench_database(BENCH_DB):
            from tickets import services

            started = time.perf_counter()
            remote = generate_repo(root, args.files)
            project = services.create_project(name="generated", repo_url=str(remote), test_command=TEST_COMMAND)
            print(f"Repository: {args.files} files, generated in {time.perf_counter() - started:.0f} s; sandbox: "
                  f"{settings.FACTORY_SANDBOX}; {args.tickets} tickets per figure")
            cold, add_floor = measure_fresh(project, args.tickets, first_index=0)
            ratio_line("overhead per ticket, fresh checkout", cold, add_floor, target=FRESH_TARGET)
            warm, switch_floor, map_s = measure_warm(project, root / "work", args.tickets, first_index=50)
            ratio_line("overhead per ticket, warm checkout", warm, switch_floor, target=None)
            p50 = _django.percentile(warm, 0.5)
            print(f"{'':<52} p50 {p50:.2f} s, target <= {WARM_TARGET_S} s: {'met' if p50 <= WARM_TARGET_S else 'MISSED'}; "
                  f"of which the code map {map_s:.2f} s per ticket")
            one, three = measure_candidates(project, args.tickets, first_index=100, delay=args.model_delay)
            ratio_line(f"attempt wall, 3 candidates (model {args.model_delay:g} s)", three, one,
                       target=CANDIDATES_TARGET)
            if not args.skip_pickup:
                settings.FACTORY_WARM_WORKTREES = 2
                delays = measure_pickup(project, args.tickets, root / "data")
                _django.report("POST returned -> agent started", delays, target=0.5, unit="s")


if __name__ == "__main__":
    main()
