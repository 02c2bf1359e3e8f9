"""Running a project's commands: time limit, no secrets in the environment, and the sandbox's walls."""
import os
import subprocess
import time
from pathlib import Path

import pytest

from agent.testruns import sandbox
from agent.testruns.command import run_command
from agent.testruns.sandbox import PROJECT_DIR, SandboxPolicy, SandboxUnavailable

requires_sandbox = pytest.mark.skipif(
    not SandboxPolicy("on").bwrap_available() and os.environ.get("FACTORY_REQUIRE_SANDBOX") != "1",
    reason="bubblewrap cannot sandbox here")
ON = SandboxPolicy("on")


@pytest.fixture
def home_decoy():
    """A file in the worker's home folder, where a test once found something to steal."""
    decoy = Path.home() / f".factory-decoy-{os.getpid()}"
    decoy.write_text("DECOY")
    yield decoy
    decoy.unlink()


def worktree(tmp_path: Path) -> Path:
    tree = tmp_path / "data" / "worktrees" / "t1"
    tree.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=tree, check=True)
    return tree


@pytest.mark.parametrize("pidfds", [True, False], ids=["pidfd", "without pidfds"])
def test_a_run_is_seen_to_end_when_it_ends_and_not_before(monkeypatch, tmp_path, pidfds):
    if not pidfds:
        monkeypatch.delattr(os, "pidfd_open", raising=False)  # Linux before 5.3, or not Linux
    started = time.monotonic()
    result = run_command(command="echo begin; sleep 0.3; echo end", cwd=worktree(tmp_path), timeout=20,
                         sandbox=SandboxPolicy("off"))
    assert result["output_tail"] == "begin\nend\n" and result["exit_code"] == 0
    assert 0.3 <= result["duration_s"] and time.monotonic() - started < 5


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


def test_no_secret_reaches_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://factory:TOP-SECRET@db/factory")
    result = run_command(command="env", cwd=worktree(tmp_path), timeout=10, sandbox=SandboxPolicy("off"))
    assert "TOP-SECRET" not in result["output_tail"] and "HOME=" in result["output_tail"]


@requires_sandbox
def test_the_sandbox_has_no_capabilities_no_network_and_only_the_worktree(tmp_path, home_decoy):
    tree = worktree(tmp_path)
    (tmp_path / "data" / "secret-key").write_text("TOP-SECRET")
    command = ("grep CapEff /proc/self/status; id -u; "
               "cat ../../secret-key 2>/dev/null || echo 'no secret'; "
               "(echo x > .git) 2>/dev/null || echo 'git link read-only'; "
               "(umount /tmp) 2>/dev/null || echo 'umount refused'; "
               "(mount -o remount,rw /usr) 2>/dev/null || echo 'remount refused'; "
               "(echo x > /usr/planted) 2>/dev/null || echo 'system read-only'; "
               f"cat {home_decoy} 2>/dev/null || echo 'no decoy'; ls /opt /run 2>/dev/null | wc -l; "
               "echo ok > written.txt; python -c \"import socket; s = socket.socket(); s.settimeout(1); "
               "print('network', s.connect_ex(('127.0.0.1', 9)) != 0)\"")
    result = run_command(command=command, cwd=tree, timeout=30, sandbox=ON)
    out = result["output_tail"]
    assert "CapEff:\t0000000000000000" in out
    assert "TOP-SECRET" not in out and "no secret" in out
    assert "git link read-only" in out and (tree / ".git").is_dir()
    assert "umount refused" in out and "remount refused" in out and "system read-only" in out
    assert not Path("/usr/planted").exists()
    assert "DECOY" not in out and "no decoy" in out
    assert (tree / "written.txt").read_text() == "ok\n"
    assert "network True" in out


@requires_sandbox
def test_runs_as_an_unprivileged_user_even_for_root(tmp_path):
    result = run_command(command="id -u; id -g", cwd=worktree(tmp_path), timeout=30, sandbox=ON)
    assert result["output_tail"].split()[:2] == [str(sandbox.SANDBOX_UID), str(sandbox.SANDBOX_GID)]


@requires_sandbox
def test_home_and_tmp_are_private_and_gone_after_the_run(tmp_path):
    tree = worktree(tmp_path)
    marker = f"factory-test-{os.getpid()}"
    first = run_command(command=f"echo $HOME; touch $HOME/{marker} /tmp/{marker}; ls /tmp", cwd=tree, timeout=30,
                        sandbox=ON)
    assert first["exit_code"] == 0, first["output_tail"]
    assert not Path(f"/tmp/{marker}").exists()
    second = run_command(command=f"ls $HOME/{marker} /tmp/{marker} 2>&1 || echo gone", cwd=tree, timeout=30,
                         sandbox=ON)
    assert "gone" in second["output_tail"]


@requires_sandbox
def test_read_only_mounts_are_visible_but_not_writable(tmp_path):
    tree = worktree(tmp_path)
    installed = tmp_path / "deps" / "node_modules"
    installed.mkdir(parents=True)
    (installed / "left-pad.js").write_text("module.exports = 1;\n")
    result = run_command(command="cat node_modules/left-pad.js; (echo x > node_modules/evil.js) 2>/dev/null || "
                                 "echo 'read-only'", cwd=tree, timeout=30, sandbox=ON,
                         readonly=((installed, Path(PROJECT_DIR) / "node_modules"),))
    assert "module.exports = 1;" in result["output_tail"] and "read-only" in result["output_tail"]
    assert not (installed / "evil.js").exists()


@requires_sandbox
def test_setup_runs_get_the_network_namespace_but_still_not_the_data(tmp_path):
    tree = worktree(tmp_path)
    (tmp_path / "data" / "secret-key").write_text("TOP-SECRET")
    result = run_command(command="cat ../../secret-key || echo hidden; ls /etc/resolv.conf", cwd=tree, timeout=30,
                         sandbox=ON, network=True)
    assert "TOP-SECRET" not in result["output_tail"] and "hidden" in result["output_tail"]
    assert "/etc/resolv.conf" in result["output_tail"]


def test_sandbox_on_without_bwrap_fails_clearly(monkeypatch, tmp_path):
    sandbox.bwrap_status.cache_clear()
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    try:
        with pytest.raises(SandboxUnavailable, match="bubblewrap \\(bwrap\\) is not installed"):
            run_command(command="true", cwd=worktree(tmp_path), timeout=5, sandbox=ON)
    finally:
        sandbox.bwrap_status.cache_clear()


def test_unsandboxed_runs_are_refused_while_secrets_are_readable(tmp_path):
    data = tmp_path / "data"
    tree = worktree(tmp_path)
    (data / "postgres-password").write_text("pw")
    with pytest.raises(SandboxUnavailable, match="postgres-password"):
        run_command(command="true", cwd=tree, timeout=5, sandbox=SandboxPolicy("off", data_dir=data))
    (data / "postgres-password").unlink()
    result = run_command(command="true", cwd=tree, timeout=5, sandbox=SandboxPolicy("off", data_dir=data))
    assert result["exit_code"] == 0
