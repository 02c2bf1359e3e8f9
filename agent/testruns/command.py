"""Runs a project's command in a worktree: time limit, caps, clean environment, sandbox (agent.testruns.sandbox).

The code under test was written by a model, so it runs with none of the
factory's secrets in its environment, never with the factory's own virtualenv
(PATH holds the project's own environment first, then the minimal runner of
agent.testruns.runner, then the system's), under the kernel caps of agent.testruns.confine
and, unless FACTORY_SANDBOX=off, inside the sandbox. Its output is streamed
through a pipe read against the time limit: at most FACTORY_TEST_OUTPUT_MB is
kept (its head and its tail, the middle cut with a note), nothing on disk, and
any bytes become safe text (lib.safetext.replaced: invalid UTF-8 replaced, NUL
written as \\x00) before anything parses or stores them; that text is held to the
same cap in characters (NUL-heavy output would otherwise be four times it). At the limit, or when the command ends, the
whole process group and the run's cgroup are killed, daemons included; a daemon
still holding the pipe then is not waited for.
"""
import fcntl
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.testruns.confine import MB, RunGroup
from agent.testruns.parsing import parse_test_output
from agent.testruns.runner import DEFAULT_RUNNERS_DIR, python_runner
from agent.testruns.sandbox import (
    PROJECT_DIR,
    SANDBOX_HOME,
    Mounts,
    SandboxPolicy,
    SandboxUnavailable,
    bwrap_argv,
    check_unsandboxed_allowed,
)
from lib.safetext import replaced
from lib.testschema import SuiteResult

# Where a run's report folder appears inside the sandbox.
REPORT_DIR_INSIDE = "/factory-report"
# Variables a run may inherit; everything else (DATABASE_URL, tokens, secret keys) stays out.
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ", "NODE_PATH", "JAVA_HOME", "GOPATH",
                  "GOCACHE", "CARGO_HOME", "RUSTUP_HOME")
# Package registries' settings, for runs with the network (setup commands) only. The CA bundles the worker
# trusts go too: tools that bring their own roots (uv, pnpm) reach a registry behind a TLS-inspecting proxy
# only with them, as pip and npm do through their PIP_/npm_config_ settings.
REGISTRY_PREFIXES = ("PIP_", "NPM_CONFIG_", "npm_config_", "UV_", "POETRY_")
REGISTRY_NAMES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
                  *("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"))
CANCEL_POLL_S = 0.2
# Without a pidfd (Linux before 5.3) the exit is looked for this often.
EXIT_POLL_S = 0.05
# After the command ends, what is left in the pipe is read for at most this long.
DRAIN_S = 1.0
READ_CHUNK = 1024 * 1024
TIMED_OUT, CANCELLED = "timed out", "cancelled"
# Where a project's setup leaves its tools, relative to the project and to HOME: first on PATH.
PROJECT_BINS = (".venv/bin", "venv/bin", "node_modules/.bin")
HOME_BINS = (".local/bin",)


def clean_environment(*, home: str, project: str, runner: Path, network: bool,
                      extra: Mapping[str, str]) -> dict[str, str]:
    """The run's environment: no secrets, and on PATH the project's own tools, then the runner, then the system's."""
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    if network:
        env.update({name: value for name, value in os.environ.items()
                    if name.startswith(REGISTRY_PREFIXES) or name in REGISTRY_NAMES})
    own = [f"{project}/{folder}" for folder in PROJECT_BINS] + [f"{home}/{folder}" for folder in HOME_BINS]
    env["PATH"] = os.pathsep.join([*own, str(runner / "bin"), *system_path(env.get("PATH", "/usr/bin:/bin"))])
    env.update({"HOME": home, "CI": "true", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
                "TMPDIR": "/tmp"})
    if network:
        # An export of the base commit has no .git: setuptools-scm and hatch-vcs would refuse to build it.
        env.setdefault("SETUPTOOLS_SCM_PRETEND_VERSION", os.environ.get("SETUPTOOLS_SCM_PRETEND_VERSION", "0+factory"))
    env.update(extra)
    return env


def system_path(path: str) -> list[str]:
    """The host's PATH without the factory's own virtualenv (a worker started from an activated one has it)."""
    factory_bins = {Path(sys.prefix) / "bin", Path(sys.executable).parent}
    return [entry for entry in path.split(os.pathsep) if entry and Path(entry) not in factory_bins]


def run_command(*, command: str, cwd: Path, timeout: float, sandbox: SandboxPolicy,
                readonly: tuple[tuple[Path, Path], ...] = (), writable: tuple[tuple[Path, Path], ...] = (),
                scratch: tuple[Path, ...] = (), network: bool = False, env: Mapping[str, str] | None = None,
                home: Path | None = None, report_dir: Path | None = None,
                cancel: threading.Event | None = None) -> SuiteResult:
    """Run a shell command; returns the parsed result (see agent.testruns.parsing).

    network=True is for setup commands, which download dependencies; `readonly`
    and `writable` are extra (host path, path inside) folders for the sandbox, `scratch` folders
    inside a read-only one that get an empty private tmpfs (sandboxed runs only);
    `home` is a host folder kept as HOME (a setup's installs), else HOME is private;
    `report_dir` is a host folder the command may write reports into: "{report_dir}" in `env`
    values becomes its path as the command sees it; `cancel` set stops the command early
    (the result then says "cancelled"). A cap the run went over is in the result's "limits",
    in plain words, and at the end of its output.
    Raises agent.testruns.sandbox.SandboxUnavailable when the command may not run here.
    """
    argv = ["/bin/sh", "-c", command]
    private_home = None
    report_path = str(report_dir) if report_dir else ""
    runner = python_runner(sandbox.runners_dir or DEFAULT_RUNNERS_DIR)
    project = str(cwd)
    if sandbox.enabled:
        project = PROJECT_DIR
        readonly = (*readonly, (runner, runner))
        writable = (*writable, *(((home, Path(SANDBOX_HOME)),) if home else ()))
        if report_dir:
            writable, report_path = (*writable, (report_dir, Path(REPORT_DIR_INSIDE))), REPORT_DIR_INSIDE
        argv = bwrap_argv(argv, bwrap=sandbox.bwrap(), policy=sandbox, network=network,
                          mounts=Mounts(worktree=cwd, readonly=tuple(readonly), writable=tuple(writable),
                                        scratch=scratch))
        home_inside = SANDBOX_HOME
    else:
        if sandbox.data_dir is not None:
            check_unsandboxed_allowed(sandbox.data_dir)
        private_home = None if home else tempfile.mkdtemp(prefix="factory-home-")
        home_inside = str(home or private_home)
    extra = {name: value.replace("{report_dir}", report_path) for name, value in (env or {}).items()}
    try:
        done = execute(argv, cwd=cwd, timeout=timeout, cancel=cancel, sandbox=sandbox,
                       env=clean_environment(home=home_inside, project=project, runner=runner, network=network,
                                             extra=extra))
    finally:
        if private_home:
            shutil.rmtree(private_home, ignore_errors=True)
    return result_of(done, command=command, timeout=timeout)


@dataclass
class Execution:
    """What one run of a process group left: its output (already safe text), exit code, why it stopped."""

    text: str
    exit_code: int
    stopped: str  # "" / TIMED_OUT / CANCELLED
    seconds: float
    limits: list[str]  # caps it went over, in plain words: the run failed
    output_cut: str = ""  # the output went over its cap: the middle was cut, nothing failed


def result_of(done: Execution, *, command: str, timeout: float) -> SuiteResult:
    timed_out = done.stopped == TIMED_OUT
    notes = [f"[factory] {limit}" for limit in (*done.limits, *([done.output_cut] if done.output_cut else []))]
    if timed_out:
        notes.append(f"[factory] killed after the {timeout:.0f} s limit (FACTORY_TEST_TIMEOUT={timeout:.0f})")
    text = done.text + "".join(f"\n{note}\n" for note in notes)
    result = parse_test_output(output=text, exit_code=done.exit_code, command=replaced(command),
                               duration_s=round(done.seconds, 3), timed_out=timed_out)
    result["timeout_s"] = timeout
    result["cancelled"] = done.stopped == CANCELLED
    result["limits"] = done.limits
    result["output_cut"] = done.output_cut
    if done.limits:
        result["success"] = False
    return result


def execute(argv: list[str], *, cwd: Path, timeout: float, env: dict[str, str], sandbox: SandboxPolicy,
            cancel: threading.Event | None = None) -> Execution:
    """Run one process group under the policy's caps and return what it left."""
    started = time.monotonic()
    caps = sandbox.caps
    try:
        group = RunGroup(caps)
    except OSError as exc:
        raise SandboxUnavailable(f"the run's cgroup (memory and process caps) cannot be made: {exc}") from exc
    output = CappedOutput(limit=caps.output_mb * MB)
    try:
        read_end, write_end = os.pipe()
        try:
            widen(write_end)
            process = subprocess.Popen(group.wrap(argv), cwd=cwd, env=env, stdout=write_end,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        try:
            stopped = pump(process, read_end, output, deadline=started + timeout, cancel=cancel)
            kill_group(process)  # also whatever the command left running in its group
            group.kill()  # and in its cgroup, wherever it went
            process.wait()
            limits = group.hits()
            drain(read_end, output, until=time.monotonic() + DRAIN_S)
        finally:
            os.close(read_end)
    finally:
        group.close()
    text = output.text()
    return Execution(text=text, exit_code=process.returncode, stopped=stopped,
                     seconds=time.monotonic() - started, limits=limits,
                     output_cut=output.cut_message(caps.output_mb) if output.omitted or output.text_cut else "")


class CappedOutput:
    """At most `limit` bytes of a stream: its first half and its last half, and how much was cut between.

    As text it stays within `limit` characters too: a NUL byte becomes the four characters \\x00, so the text of
    NUL-heavy output would be up to four times the cap (and every parser would read all of it). text() cuts it
    the same way, keeping the head and the tail.
    """

    def __init__(self, *, limit: int):
        self.half = max(1, limit // 2)
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.total = 0
        self.text_cut = 0  # characters text() left out beyond the omitted bytes

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail.append(chunk)
        self.tail_size += len(chunk)
        while self.tail_size - len(self.tail[0]) >= self.half:
            self.tail_size -= len(self.tail.popleft())

    def tail_bytes(self) -> bytes:
        return b"".join(self.tail)[-self.half:]

    @property
    def omitted(self) -> int:
        return self.total - len(self.head) - len(self.tail_bytes())

    def cut_message(self, limit_mb: int) -> str:
        if self.omitted:
            return (f"the tests wrote {self.total / MB:.0f} MB of output, more than {limit_mb} MB "
                    f"(FACTORY_TEST_OUTPUT_MB); the middle was cut")
        return (f"the tests' output, with each NUL byte written as \\x00, came to more than {limit_mb} MB of text "
                f"(FACTORY_TEST_OUTPUT_MB); the middle was cut")

    def text(self) -> str:
        """The kept bytes as safe text, within the cap; sets text_cut (read by cut_message's caller)."""
        head, tail = replaced(bytes(self.head)), replaced(self.tail_bytes())
        if not self.omitted:
            head = tail = head + tail  # the whole stream: only its text can be over the cap
            if len(head) <= 2 * self.half:
                self.text_cut = 0
                return head
            self.text_cut = len(head) - 2 * self.half
        else:
            self.text_cut = max(0, len(head) - self.half) + max(0, len(tail) - self.half)
        return f"{head[:self.half]}\n[factory] {self.omission()}\n{tail[-self.half:]}"

    def omission(self) -> str:
        parts = [f"{self.omitted} bytes of output omitted"] if self.omitted else []
        if self.text_cut:
            parts.append(f"{self.text_cut} characters of its text omitted (NUL bytes written as \\x00 made it "
                         "longer than the cap)")
        return "; ".join(parts)


def widen(pipe_end: int) -> None:
    """A 1 MB pipe: fewer wake-ups while a test floods its output."""
    try:
        fcntl.fcntl(pipe_end, fcntl.F_SETPIPE_SZ, READ_CHUNK)
    except (AttributeError, OSError):
        pass


def pump(process: subprocess.Popen, read_end: int, output: CappedOutput, *, deadline: float,
         cancel: threading.Event | None) -> str:
    """Read the output until the process exits ("" returned), the deadline (TIMED_OUT) or `cancel` (CANCELLED).

    The exit is noticed the moment it happens through a pidfd (without one, Linux before 5.3, every
    EXIT_POLL_S); poll, not select, which refuses descriptors past 1023, which a busy worker reaches.
    """
    pidfd = open_pidfd(process)
    watch = select.poll()
    watch.register(read_end, select.POLLIN)
    if pidfd is not None:
        watch.register(pidfd, select.POLLIN)
    step = min(CANCEL_POLL_S if cancel is not None else float("inf"), EXIT_POLL_S if pidfd is None else float("inf"))
    try:
        while True:
            if pidfd is None and process.poll() is not None:
                return ""
            if cancel is not None and cancel.is_set():
                return CANCELLED
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return TIMED_OUT
            for descriptor, _ in watch.poll(min(remaining, step) * 1000):
                if descriptor == pidfd:
                    return ""
                if not read_into(read_end, output):
                    watch.unregister(read_end)  # the command closed its output; wait for its exit alone
    finally:
        if pidfd is not None:
            os.close(pidfd)


def open_pidfd(process: subprocess.Popen) -> int | None:
    try:
        return os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        return None


def read_into(read_end: int, output: CappedOutput) -> bool:
    """One read of what the pipe holds; False at its end."""
    chunk = os.read(read_end, READ_CHUNK)
    if chunk:
        output.add(chunk)
    return bool(chunk)


def drain(read_end: int, output: CappedOutput, *, until: float) -> None:
    """What is still in the pipe once the command is over, never waiting past `until` for a writer left alive."""
    watch = select.poll()
    watch.register(read_end, select.POLLIN)
    while (remaining := until - time.monotonic()) > 0:
        if not watch.poll(remaining * 1000) or not read_into(read_end, output):
            return


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
