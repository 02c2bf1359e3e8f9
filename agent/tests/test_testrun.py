"""The test sandbox: time limit, no secrets, no network, no way back into the factory's git or data."""
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from agent.testrun import SandboxPolicy, run_command

needs_bwrap = pytest.mark.skipif(not SandboxPolicy("auto").bwrap_available(), reason="bubblewrap cannot sandbox here")


def worktree(tmp_path: Path) -> Path:
    tree = tmp_path / "data" / "worktrees" / "t1"
    tree.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=tree, check=True)
    return tree


def test_time_limit_holds_even_when_the_command_leaves_a_daemon(tmp_path):
    started = time.monotonic()
    result = run_command(command="setsid sleep 30 & echo started", cwd=worktree(tmp_path), timeout=2,
                         sandbox=SandboxPolicy("off"))
    assert time.monotonic() - started < 10
    assert "started" in result["output_tail"]


def test_a_hanging_command_is_killed_at_the_limit(tmp_path):
    result = run_command(command="echo begin; sleep 30", cwd=worktree(tmp_path), timeout=1,
                         sandbox=SandboxPolicy("off"))
    assert result["timed_out"] and not result["success"]
    assert "killed after the 1 s limit" in result["output_tail"]


@needs_bwrap
def test_sandbox_hides_the_factory_data_and_keeps_git_read_only(tmp_path):
    data = tmp_path / "data"
    tree = worktree(tmp_path)
    (data / "secret-key").write_text("TOP-SECRET")
    command = ("cat ../../secret-key 2>/dev/null || echo 'no secret'; "
               "(echo x > .git/planted) 2>/dev/null || echo 'git read-only'; "
               "echo ok > written.txt; python -c \"import socket; s = socket.socket(); s.settimeout(1); "
               "print('network', s.connect_ex(('127.0.0.1', 9)) != 0)\"")
    result = run_command(command=command, cwd=tree, timeout=30, sandbox=SandboxPolicy("on"), hidden=[data])
    assert "TOP-SECRET" not in result["output_tail"] and "no secret" in result["output_tail"]
    assert "git read-only" in result["output_tail"] and not (tree / ".git" / "planted").exists()
    assert (tree / "written.txt").read_text() == "ok\n"
    assert "network True" in result["output_tail"]


@needs_bwrap
def test_setup_commands_get_the_network_but_not_the_data(tmp_path):
    data = tmp_path / "data"
    tree = worktree(tmp_path)
    (data / "secret-key").write_text("TOP-SECRET")
    result = run_command(command="cat ../../secret-key || echo hidden", cwd=tree, timeout=30,
                         sandbox=SandboxPolicy("on"), hidden=[data], network=True)
    assert "TOP-SECRET" not in result["output_tail"] and "hidden" in result["output_tail"]


def test_sandbox_on_without_bwrap_fails_clearly(monkeypatch, tmp_path):
    from agent import testrun

    testrun.bwrap_status.cache_clear()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    try:
        with pytest.raises(RuntimeError, match="FACTORY_SANDBOX=on but bubblewrap"):
            run_command(command="true", cwd=worktree(tmp_path), timeout=5, sandbox=SandboxPolicy("on"))
    finally:
        testrun.bwrap_status.cache_clear()
