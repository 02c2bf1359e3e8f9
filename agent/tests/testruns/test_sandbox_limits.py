"""Hostile resources and links, as root through the real sandbox and the real worker (issue 20, items 1 to 3).

A setup step that leaves links to the host in its HOME or its tree, a test that
swaps the worktree's `.git` for a link to a secret, a test that allocates 3 GB,
forks 1,000 processes, writes 1 GB of output or prints NUL and invalid UTF-8:
each is stopped by the kernel or made harmless, and the model is told in plain
words. The caps are enforced by the cgroups of agent.testruns.confine where the host
allows them (this machine: cgroup v1 as root), else rlimits.
"""
import json
import os
import resource
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from agent.errors import ProjectProblem
from agent.testruns import confine, deps
from agent.testruns.command import run_command
from agent.testruns.confine import Caps
from agent.testruns.sandbox import Mounts, SandboxPolicy, SandboxUnavailable, bwrap_argv
from agent.worker.runner import run_ticket
from tests.fake_ollama import FakeOllama
from tests.support import CALC, CALC_TESTS, make_remote_repo
from tickets import services

requires_sandbox = pytest.mark.skipif(
    not SandboxPolicy("on").bwrap_available() and os.environ.get("FACTORY_REQUIRE_SANDBOX") != "1",
    reason="bubblewrap cannot sandbox here")
requires_cgroups = pytest.mark.skipif(confine.hierarchy() is None,
                                      reason="no cgroup can be made here: memory and processes are held by rlimits only")
SECRET = "HOST-SECRET-DECOY"


@pytest.fixture
def host_secret():
    """A folder of the host, outside /tmp (the sandbox has its own /tmp), holding a secret."""
    folder = Path(tempfile.mkdtemp(prefix=".factory-host-secret-", dir=Path.home()))
    (folder / "secret.txt").write_text(SECRET)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def worktree(tmp_path: Path) -> Path:
    tree = tmp_path / "data" / "worktrees" / "t1"
    tree.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=tree, check=True)
    return tree


def clone_with(tmp_path: Path, files: dict[str, str]) -> tuple[Path, str]:
    clone = tmp_path / "clone"
    clone.mkdir()
    for name, text in files.items():
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        (clone / name).write_text(text)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=clone, check=True)
    subprocess.run(["git", "add", "-A"], cwd=clone, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base"], cwd=clone,
                   check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True).stdout.strip()
    return clone, commit


@requires_sandbox
def test_links_a_setup_leaves_to_the_host_are_never_followed(tmp_path, host_secret):
    clone, commit = clone_with(tmp_path, {"src/app.py": "x = 1\n", "requirements.txt": ""})
    setup = (f"mkdir -p $HOME/.local && echo kept > $HOME/.local/kept; ln -s {host_secret} $HOME/data; "
             f"ln -s /etc $HOME/etc; ln -s {host_secret}/secret.txt $HOME/.netrc; mkfifo $HOME/fifo; "
             f"ln -s {host_secret} node_modules; mkdir -p vendor && echo ok > vendor/ok; "
             f"rm -rf src && ln -s {host_secret} src")
    with deps.prepared(clone=clone, commit=commit, setup_command=setup, cache_dir=tmp_path / "deps",
                       sandbox=SandboxPolicy("on"), timeout=60) as installed:
        meta = json.loads((installed.folder / deps.READY).read_text())
        assert sorted(meta["refused_home_entries"]) == [".netrc", "data", "etc", "fifo"]
        assert meta["outputs"] == ["vendor"]  # node_modules and src are links: never a folder to bind
        probe = ("cat $HOME/.local/kept vendor/ok; ls -la $HOME; "
                 f"for f in $HOME/data/secret.txt $HOME/.netrc $HOME/etc/hostname {host_secret}/secret.txt "
                 f"{installed.tree}/node_modules/secret.txt {installed.tree}/src/secret.txt; "
                 "do cat $f 2>/dev/null || echo \"unreadable $f\"; done")
        result = run_command(command=probe, cwd=worktree(tmp_path), timeout=60, sandbox=SandboxPolicy("on"),
                             readonly=installed.mounts())
    out = result["output_tail"]
    assert SECRET not in out, out
    assert "kept\nok\n" in out and out.count("unreadable") == 6, out


@requires_sandbox
def test_a_git_link_swapped_for_a_link_to_a_secret_is_not_followed(tmp_path, host_secret):
    tree = worktree(tmp_path)
    # A test run cannot swap it (.git is read-only inside), so the worst case is set up here: a link left
    # where the sandbox looks for git's own file.
    shutil.rmtree(tree / ".git")
    (tree / ".git").symlink_to(host_secret / "secret.txt")
    result = run_command(command="cat .git 2>&1 || echo unreadable", cwd=tree, timeout=30, sandbox=SandboxPolicy("on"))
    assert SECRET not in result["output_tail"] and "unreadable" in result["output_tail"]


def test_a_bind_source_that_is_a_link_out_is_refused(tmp_path, host_secret):
    tree = worktree(tmp_path)
    (tmp_path / "installed").mkdir()
    (tmp_path / "installed" / "node_modules").symlink_to(host_secret)
    with pytest.raises(SandboxUnavailable, match="link leading out"):
        bwrap_argv(["true"], bwrap="bwrap", policy=SandboxPolicy("on"), network=False, mounts=Mounts(
            worktree=tree, readonly=((tmp_path / "installed" / "node_modules", tree / "node_modules"),)))


@requires_sandbox
@requires_cgroups
def test_three_gigabytes_under_a_1024_mb_cap_are_stopped_and_said(tmp_path):
    policy = SandboxPolicy("on", caps=Caps(memory_mb=1024))
    result = run_command(command="python3 -c \"x = b'x' * (3 << 30); print('allocated')\"", cwd=worktree(tmp_path),
                         timeout=60, sandbox=policy)
    message = "the tests used more than 1024 MB of memory (FACTORY_SANDBOX_MEMORY_MB)"
    assert "allocated" not in result["output_tail"] and not result["success"]
    assert any(message in limit for limit in result["limits"]) and message in result["output_tail"]


@requires_sandbox
@requires_cgroups
def test_a_thousand_processes_under_a_256_cap_are_stopped_and_said(tmp_path):
    fork_storm = ("python3 -c \"import os, time\nfor i in range(1000):\n    if os.fork() == 0:\n        time.sleep(30)"
                  "\n        os._exit(0)\nprint('forked 1000')\"")
    result = run_command(command=fork_storm, cwd=worktree(tmp_path), timeout=60,
                         sandbox=SandboxPolicy("on", caps=Caps(pids=256)))
    assert "forked 1000" not in result["output_tail"] and not result["success"]
    assert "more than 256 processes or threads at once (FACTORY_SANDBOX_PIDS)" in result["limits"][0]
    assert result["duration_s"] < 20  # every sleeping child was killed with the run


@requires_cgroups
def test_the_cap_holds_without_the_sandbox_too_and_the_cgroup_is_removed(tmp_path):
    result = run_command(command="python3 -c \"x = b'x' * (512 << 20)\"", cwd=worktree(tmp_path), timeout=60,
                         sandbox=SandboxPolicy("off", caps=Caps(memory_mb=128)))
    assert "more than 128 MB of memory" in result["limits"][0]
    for base in confine.hierarchy().bases:
        assert not [folder for folder in base.glob(f"{confine.RUN_PREFIX}{os.getpid()}-*")]


@requires_sandbox
def test_a_file_past_its_cap_and_tmp_past_its_size_are_refused(tmp_path):
    tree = worktree(tmp_path)
    result = run_command(command="head -c 20000000 /dev/zero > big; for i in 1 2 3 4; do head -c 6000000 /dev/zero "
                                 "> /tmp/part$i || echo \"tmp full at $i\"; done; du -sm /tmp; wc -c < big",
                         cwd=tree, timeout=30, sandbox=SandboxPolicy("on", caps=Caps(file_mb=8, tmp_mb=16)))
    assert (tree / "big").stat().st_size == 8 * 1024 * 1024
    assert "tmp full at 3" in result["output_tail"], result["output_tail"]


@requires_sandbox
def test_a_gigabyte_of_output_keeps_the_worker_small_and_the_disk_untouched(tmp_path):
    free_before = shutil.disk_usage(tempfile.gettempdir()).free
    lowest = [free_before]
    done = threading.Event()

    def watch_disk():
        while not done.wait(0.05):
            lowest[0] = min(lowest[0], shutil.disk_usage(tempfile.gettempdir()).free)

    watcher = threading.Thread(target=watch_disk)
    watcher.start()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    command = ("echo FIRST-LINE; python3 -c \"import sys\nb = b'y' * (1 << 20)\nfor i in range(1024): "
               "sys.stdout.buffer.write(b)\"; echo; echo LAST-LINE")
    try:
        result = run_command(command=command, cwd=worktree(tmp_path), timeout=120,
                             sandbox=SandboxPolicy("on", caps=Caps(output_mb=8)))
    finally:
        done.set()
        watcher.join()
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert grown_mb < 200, grown_mb
    assert free_before - lowest[0] < 200 * 1024 * 1024  # nothing of the output spooled to disk
    assert result["exit_code"] == 0 and not result["limits"]  # cut output is noted, not failed
    assert "the tests wrote 1024 MB of output, more than 8 MB (FACTORY_TEST_OUTPUT_MB)" in result["output_cut"]
    assert "LAST-LINE" in result["output_tail"] and "the middle was cut" in result["output_tail"]


def test_nul_and_invalid_utf8_in_output_become_safe_text(tmp_path):
    result = run_command(command="printf 'a\\000b\\377\\376c\\n'; printf 'FAILED t.py::test_\\000x - boom\\n'",
                         cwd=worktree(tmp_path), timeout=10, sandbox=SandboxPolicy("off"))
    assert "\x00" not in json.dumps(result) and "a\\x00b\ufffd\ufffdc" in result["output_tail"]


# The worker end to end: a memory hog printing a NUL and invalid UTF-8, a fork storm, then an answer whose test prints NULs and invalid UTF-8.
HOG_TEST = ("import sys\n\n\ndef test_add():\n    sys.stdout.buffer.write(b'hog\\x00here \\xff\\xfe\\n')\n"
            "    sys.stdout.flush()\n    data = b'x' * (1 << 30)\n    assert len(data)\n")
STORM_TEST = ("import os, time\n\n\ndef test_add():\n    for _ in range(1000):\n        if os.fork() == 0:\n"
              "            time.sleep(30)\n            os._exit(0)\n")
BYTES_TEST = ("import sys\nfrom calc import add\n\n\ndef test_add():\n    sys.stdout.buffer.write(b'nul\\x00here \\xff\\xfe')"
              "\n    sys.stdout.flush()\n    assert add(2, 3) == 5\n")


def answer(test: str) -> str:
    return f"calc.py\n```python\n{CALC}```\n\ntests/test_calc.py\n```python\n{test}```\n"


@requires_sandbox
@requires_cgroups
@pytest.mark.django_db(transaction=True)
def test_the_worker_feeds_caps_back_and_stores_any_bytes(tmp_path, settings):
    settings.FACTORY_SANDBOX_MEMORY_MB, settings.FACTORY_SANDBOX_PIDS = 256, 128
    remote = make_remote_repo(tmp_path, {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS, "tests/__init__.py": "",
                                         "conftest.py": ""})
    project = services.create_project(name="calc", repo_url=str(remote), test_command="python -m pytest -q -s")
    with FakeOllama(answers=[answer(HOG_TEST), answer(STORM_TEST), answer(BYTES_TEST)]) as fake:
        settings.OLLAMA_HOST = fake.url
        ticket, _ = services.create_ticket(actor=None, project=project, fields={
            "titulo": "Caps", "descripcion": "d", "archivos_modificar": ["calc.py", "tests/test_calc.py"],
            "tipo": "test"})  # its tests probe the caps, not a change: they need not fail on the base
        done = run_ticket(str(ticket.pk))
        prompts = [request["messages"][1]["content"] for request in fake.requests]
    attempts = list(done.attempts.order_by("number"))
    assert done.estado == "completed", (done.error_mensaje, [a.feedback for a in attempts])
    assert [a.outcome for a in attempts] == ["tests_failed", "tests_failed", "passed"]
    assert "more than 256 MB of memory (FACTORY_SANDBOX_MEMORY_MB)" in attempts[0].feedback
    assert "hog\\x00here \ufffd\ufffd" in attempts[0].feedback  # NUL and invalid UTF-8: stored and fed back
    assert "more than 128 processes or threads at once (FACTORY_SANDBOX_PIDS)" in attempts[1].feedback
    assert "more than 256 MB of memory" in prompts[1] and "more than 128 processes" in prompts[2]
    stored = json.dumps(attempts[2].test_result)
    assert "nul\\\\x00here" in stored and "\\u0000" not in stored


def test_without_cgroups_rlimits_hold_memory_per_process(tmp_path, monkeypatch):
    monkeypatch.setattr(confine, "hierarchy", lambda: None)  # a host that lets the worker make no cgroup
    result = run_command(command="python3 -c \"x = b'x' * (512 << 20); print('allocated')\"", cwd=worktree(tmp_path),
                         timeout=30, sandbox=SandboxPolicy("off", caps=Caps(memory_mb=128)))
    assert "MemoryError" in result["output_tail"] and "allocated" not in result["output_tail"]
    assert confine.describe(Caps(memory_mb=128)).startswith("rlimits: memory 128 MB per process (RLIMIT_DATA)")


@pytest.mark.django_db
def test_the_admin_says_which_mechanism_holds_the_caps(settings, admin_client):
    settings.FACTORY_SANDBOX_MEMORY_MB, settings.FACTORY_SANDBOX_PIDS = 777, 99
    page = admin_client.get("/admin/tickets/ticket/")
    assert page.status_code == 200
    assert f"Caps on each test run: {confine.mechanism()}: memory 777 MB" in page.content.decode()
    assert "99 processes" in page.content.decode() or "processes NOT capped" in page.content.decode()


@requires_sandbox
@requires_cgroups
def test_a_setup_over_its_memory_cap_is_the_projects_problem_saying_which_cap(tmp_path):
    clone, commit = clone_with(tmp_path, {"requirements.txt": ""})
    with pytest.raises(ProjectProblem, match="went over the sandbox's caps.*more than 128 MB of memory"):
        with deps.prepared(clone=clone, commit=commit, setup_command="python3 -c \"x = b'x' * (512 << 20)\"",
                           cache_dir=tmp_path / "deps", sandbox=SandboxPolicy("on", caps=Caps(memory_mb=128)),
                           timeout=60):
            pass
