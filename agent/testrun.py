"""Runs a project's test command in a worktree: time limit, clean environment, sandbox.

The code under test was written by a model, so it runs with none of the
factory's secrets in its environment, and (when bubblewrap is present) with a
read-only system, no network, and only the worktree writable.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from agent.testparse import parse_test_output

# Variables a test run may inherit; everything else (DATABASE_URL, tokens,
# secret keys) stays out.
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ", "NODE_PATH", "JAVA_HOME", "GOPATH",
                  "GOCACHE", "CARGO_HOME", "RUSTUP_HOME", "NPM_CONFIG_CACHE", "PIP_INDEX_URL")
MAX_OUTPUT_CHARS = 400_000


@dataclass
class SandboxPolicy:
    mode: str  # "auto", "on" or "off"

    def bwrap(self) -> str | None:
        if self.mode == "off":
            return None
        found, problem = bwrap_status()
        if found is None and self.mode == "on":
            raise RuntimeError(f"FACTORY_SANDBOX=on but {problem}")
        return found

    @staticmethod
    def bwrap_available() -> bool:
        return bwrap_status()[0] is not None

    def describe(self) -> str:
        if self.mode == "off":
            return "off (FACTORY_SANDBOX=off): tests run without a sandbox"
        found, problem = bwrap_status()
        return "bubblewrap" if found else f"unavailable ({problem}): tests run unsandboxed"


@lru_cache(maxsize=1)
def bwrap_status() -> tuple[str | None, str]:
    """(path to a working bwrap, or None; why not). Installed is not enough: some containers forbid namespaces."""
    found = shutil.which("bwrap")
    if found is None:
        return None, "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    probe = subprocess.run([found, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-net",
                            "--unshare-pid", "--die-with-parent", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return None, f"bubblewrap cannot create a sandbox here: {probe.stderr.strip()[:200]}"
    return found, ""


def clean_environment(*, home: Path) -> dict[str, str]:
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    # The factory's interpreter first, so `python -m pytest` works in a plain Debian image.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "/usr/bin:/bin")])
    env.update({"HOME": str(home), "CI": "true", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"})
    return env


def sandboxed(command: list[str], *, bwrap: str, worktree: Path, hidden: list[Path], readable: list[Path],
              network: bool) -> list[str]:
    """Read-only system; `hidden` folders (the factory's data: secrets, other worktrees, the database) replaced
    by empty ones; `readable` folders shown read-only again; the worktree writable but its .git link read-only,
    so code under test cannot point the factory's own git commands at a repository it controls."""
    args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for path in hidden:
        args += ["--tmpfs", str(path)]
    for path in readable:
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(worktree), str(worktree)]
    if (worktree / ".git").exists():
        args += ["--ro-bind", str(worktree / ".git"), str(worktree / ".git")]
    if not network:
        args.append("--unshare-net")
    args += ["--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session", "--chdir", str(worktree), "--"]
    return args + command


def run_command(*, command: str, cwd: Path, timeout: float, sandbox: SandboxPolicy, hidden: list[Path] = (),
                readable: list[Path] = (), network: bool = False) -> dict:
    """Run a shell command (in the sandbox unless it is off); returns the parsed result (see agent.testparse).

    network=True is for a project's setup command, which may need to download dependencies.
    """
    home = cwd / ".factory-home"
    home.mkdir(exist_ok=True)
    argv = ["/bin/sh", "-c", command]
    bwrap = sandbox.bwrap()
    if bwrap:
        argv = sandboxed(argv, bwrap=bwrap, worktree=cwd, hidden=[p for p in hidden if p.exists()],
                         readable=list(readable), network=network)
    started = time.monotonic()
    with tempfile.TemporaryFile() as output:
        # A file, not a pipe: a daemon the command leaves behind keeps a pipe
        # open forever, and the time limit must hold anyway.
        process = subprocess.Popen(argv, cwd=cwd, env=clean_environment(home=home), stdout=output,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        timed_out = False
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        kill_group(process)  # also whatever the command left running in its group
        process.wait()
        output.seek(0)
        text = output.read().decode("utf-8", "replace")[-MAX_OUTPUT_CHARS:]
    if timed_out:
        text += f"\n[factory] killed after the {timeout:.0f} s limit (FACTORY_TEST_TIMEOUT)\n"
    shutil.rmtree(home, ignore_errors=True)
    return parse_test_output(output=text, exit_code=process.returncode, command=command,
                             duration_s=round(time.monotonic() - started, 3), timed_out=timed_out)


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
