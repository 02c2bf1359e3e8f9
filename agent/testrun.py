"""Runs a project's command in a worktree: time limit, clean environment, sandbox (agent.sandbox).

The code under test was written by a model, so it runs with none of the
factory's secrets in its environment and, unless FACTORY_SANDBOX=off, inside
the sandbox. The whole process group is killed at the time limit, daemons
included, and the output goes to a file, so nothing it leaves behind can hold
the run open.
"""
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from agent.sandbox import SANDBOX_HOME, Mounts, SandboxPolicy, bwrap_argv, check_unsandboxed_allowed

# Where a run's report folder appears inside the sandbox.
REPORT_DIR_INSIDE = "/factory-report"
from agent.testparse import parse_test_output

# Variables a run may inherit; everything else (DATABASE_URL, tokens, secret keys) stays out.
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ", "NODE_PATH", "JAVA_HOME", "GOPATH",
                  "GOCACHE", "CARGO_HOME", "RUSTUP_HOME")
# Package registries' settings, for runs with the network (setup commands) only.
REGISTRY_PREFIXES = ("PIP_", "NPM_CONFIG_", "npm_config_", "UV_", "POETRY_")
REGISTRY_NAMES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
MAX_OUTPUT_CHARS = 400_000
CANCEL_POLL_S = 0.2
TIMED_OUT, CANCELLED = "timed out", "cancelled"


def clean_environment(*, home: str, network: bool, extra: Mapping[str, str]) -> dict[str, str]:
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    if network:
        env.update({name: value for name, value in os.environ.items()
                    if name.startswith(REGISTRY_PREFIXES) or name in REGISTRY_NAMES})
    # The factory's interpreter first, so `python -m pytest` works in a plain Debian image.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "/usr/bin:/bin")])
    env.update({"HOME": home, "CI": "true", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
                "TMPDIR": "/tmp"})
    env.update(extra)
    return env


def run_command(*, command: str, cwd: Path, timeout: float, sandbox: SandboxPolicy,
                readonly: tuple[tuple[Path, Path], ...] = (), writable: tuple[tuple[Path, Path], ...] = (),
                network: bool = False, env: Mapping[str, str] | None = None, home: Path | None = None,
                report_dir: Path | None = None, cancel: threading.Event | None = None) -> dict:
    """Run a shell command; returns the parsed result (see agent.testparse).

    network=True is for setup commands, which download dependencies; `readonly`
    and `writable` are extra (host path, path inside) folders for the sandbox;
    `home` is a host folder kept as HOME (a setup's installs), else HOME is private;
    `report_dir` is a host folder the command may write reports into: "{report_dir}" in `env`
    values becomes its path as the command sees it; `cancel` set stops the command early
    (the result then says "cancelled").
    Raises agent.sandbox.SandboxUnavailable when the command may not run here.
    """
    argv = ["/bin/sh", "-c", command]
    private_home = None
    report_path = str(report_dir) if report_dir else ""
    if sandbox.enabled:
        writable = (*writable, *(((home, Path(SANDBOX_HOME)),) if home else ()))
        if report_dir:
            writable, report_path = (*writable, (report_dir, Path(REPORT_DIR_INSIDE))), REPORT_DIR_INSIDE
        argv = bwrap_argv(argv, bwrap=sandbox.bwrap(), policy=sandbox, network=network,
                          mounts=Mounts(worktree=cwd, readonly=tuple(readonly), writable=tuple(writable)))
        home_inside = SANDBOX_HOME
    else:
        if sandbox.data_dir is not None:
            check_unsandboxed_allowed(sandbox.data_dir)
        private_home = None if home else tempfile.mkdtemp(prefix="factory-home-")
        home_inside = str(home or private_home)
    extra = {name: value.replace("{report_dir}", report_path) for name, value in (env or {}).items()}
    try:
        text, exit_code, stopped, seconds = execute(argv, cwd=cwd, timeout=timeout, cancel=cancel,
                                                    env=clean_environment(home=home_inside, network=network,
                                                                          extra=extra))
    finally:
        if private_home:
            shutil.rmtree(private_home, ignore_errors=True)
    timed_out = stopped == TIMED_OUT
    if timed_out:
        text += f"\n[factory] killed after the {timeout:.0f} s limit (FACTORY_TEST_TIMEOUT={timeout:.0f})\n"
    result = parse_test_output(output=text, exit_code=exit_code, command=command, duration_s=round(seconds, 3),
                               timed_out=timed_out)
    result["timeout_s"] = timeout
    result["cancelled"] = stopped == CANCELLED
    return result


def execute(argv: list[str], *, cwd: Path, timeout: float, env: dict[str, str],
            cancel: threading.Event | None = None) -> tuple[str, int, str, float]:
    """(output, exit code, why it was stopped: "" / TIMED_OUT / CANCELLED, seconds) of one process group."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as output:
        # A file, not a pipe: a daemon the command leaves behind keeps a pipe
        # open forever, and the time limit must hold anyway.
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        stopped = wait(process, deadline=started + timeout, cancel=cancel)
        kill_group(process)  # also whatever the command left running in its group
        process.wait()
        output.seek(0)
        text = output.read().decode("utf-8", "replace")[-MAX_OUTPUT_CHARS:]
    return text, process.returncode, stopped, time.monotonic() - started


def wait(process: subprocess.Popen, *, deadline: float, cancel: threading.Event | None) -> str:
    """"" once the process has exited, TIMED_OUT at the deadline, CANCELLED once `cancel` is set."""
    with exit_notice(process) as exited_within:
        while True:
            remaining = deadline - time.monotonic()
            step = min(CANCEL_POLL_S, remaining) if cancel is not None else remaining
            if exited_within(max(0.0, step)):
                return ""
            if cancel is not None and cancel.is_set():
                return CANCELLED
            if time.monotonic() >= deadline:
                return TIMED_OUT


@contextmanager
def exit_notice(process: subprocess.Popen) -> Iterator[Callable[[float], bool]]:
    """A wait for the process's exit that returns the moment it exits: a pidfd woken by the kernel. Popen.wait
    with a timeout sleeps in steps growing to 50 ms, so a run was noticed up to 50 ms after it ended (half of
    a 100 ms test run). Without pidfds (before Linux 5.3), Popen.wait it is."""
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        pidfd = None

    watch = select.poll()  # not select.select: it refuses descriptors past 1023, which a busy worker reaches
    if pidfd is not None:
        watch.register(pidfd, select.POLLIN)

    def exited_within(seconds: float) -> bool:
        if pidfd is None:
            try:
                process.wait(timeout=seconds)
                return True
            except subprocess.TimeoutExpired:
                return False
        return bool(watch.poll(seconds * 1000))

    try:
        yield exited_within
    finally:
        if pidfd is not None:
            os.close(pidfd)


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
