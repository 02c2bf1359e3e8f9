"""Kernel caps on one run of model-written code: memory, processes, the size of any file, the sandbox's /tmp.

A test may allocate, fork or write without end, and the worker's host pays. Each
run (setup, baseline, every attempt's test runs) gets its own cgroup when the
host lets the worker make one: cgroup v2 with the memory and pids controllers
delegated, else the v1 memory and pids hierarchies (writable as root). Where
neither works, rlimits stand in: RLIMIT_DATA for memory (per process, and
unlike RLIMIT_AS it does not count the address space V8 and the JVM reserve
without using) and RLIMIT_NPROC for processes (per user id; root is never held
by it, which describe() says). RLIMIT_FSIZE caps any single file everywhere.

The command joins its cgroup and takes its rlimits in a tiny wrapper that then
execs it (WRAPPER), so nothing runs in the worker between fork and exec. At
the end the run's cgroup says which cap was hit (an OOM kill, pids.max refused
a fork), everything still in it is killed (double-forked daemons included) and
the cgroup is removed.
"""
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CGROUP_V2, CGROUP_V1, RLIMITS = "cgroup v2", "cgroup v1", "rlimits"
CONTROLLERS = ("memory", "pids")
MB = 1024 * 1024
RUN_PREFIX = "factory-run-"
CLEANUP_S = 5.0


def machine_memory_mb() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // MB


def default_memory_mb() -> int:
    """Half the machine, at most 4 GB: room for the worker, the model's client and a second run."""
    return max(256, min(4096, machine_memory_mb() // 2))


@dataclass(frozen=True)
class Caps:
    """What one run may use (FACTORY_SANDBOX_MEMORY_MB, _PIDS, _TMP_MB, FACTORY_MAX_FILE_MB, FACTORY_TEST_OUTPUT_MB)."""

    memory_mb: int = default_memory_mb()
    pids: int = 512
    tmp_mb: int = 1024
    file_mb: int = 1024
    output_mb: int = 8

    def memory_message(self) -> str:
        return f"the tests used more than {self.memory_mb} MB of memory (FACTORY_SANDBOX_MEMORY_MB) and were killed"

    def pids_message(self) -> str:
        return (f"the tests started more than {self.pids} processes or threads at once (FACTORY_SANDBOX_PIDS); "
                "the ones past the limit could not start")


@dataclass(frozen=True)
class Hierarchy:
    """Where this worker may make a run's cgroups: one folder (v2) or one per controller (v1)."""

    kind: str
    bases: tuple[Path, ...]


@lru_cache(maxsize=1)
def hierarchy() -> Hierarchy | None:
    """The cgroups this process may create per run, or None (then rlimits); probed once."""
    own, mounts = own_cgroups(), cgroup_mounts()
    found = cgroup_v2(own, mounts) or cgroup_v1(own, mounts)
    if found is not None:
        for base in found.bases:
            remove_stale(base)
    return found


def mechanism() -> str:
    found = hierarchy()
    return found.kind if found else RLIMITS


def describe(caps: Caps) -> str:
    """Which caps hold and how, for the admin and the benchmark's report."""
    kind = mechanism()
    common = (f"each file at most {caps.file_mb} MB (RLIMIT_FSIZE), /tmp at most {caps.tmp_mb} MB, output kept "
              f"to {caps.output_mb} MB")
    if kind != RLIMITS:
        return f"{kind}: memory {caps.memory_mb} MB, {caps.pids} processes; {common}"
    pids = (f"{caps.pids} processes (RLIMIT_NPROC)" if os.geteuid() != 0 else
            "processes NOT capped (the worker runs as root, which RLIMIT_NPROC does not hold, and no cgroup "
            "can be made)")
    return f"rlimits: memory {caps.memory_mb} MB per process (RLIMIT_DATA), {pids}; {common}"


def own_cgroups() -> dict[str, str]:
    """{controller: path} of this process; "" is the v2 hierarchy."""
    found: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            found[controller] = path
    return found


def cgroup_mounts() -> list[tuple[str, str, str, set[str]]]:
    """(mount point, root inside the hierarchy, type, super options) of every cgroup file system."""
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, tail = line.partition(" - ")
        parts, extra = fields.split(), tail.split()
        if len(extra) >= 3 and extra[0] in ("cgroup", "cgroup2"):
            mounts.append((unescape(parts[4]), unescape(parts[3]), extra[0], set(extra[2].split(","))))
    return mounts


def unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def folder_of(mount_point: str, mount_root: str, path: str) -> Path:
    relative = path[len(mount_root):] if mount_root != "/" and path.startswith(mount_root) else path
    return Path(mount_point) / relative.lstrip("/")


def cgroup_v2(own: dict[str, str], mounts: list) -> Hierarchy | None:
    """Our own cgroup, or its parent, when it hands memory and pids to new children we may make."""
    if "" not in own:
        return None
    for mount_point, root, kind, _ in mounts:
        if kind != "cgroup2":
            continue
        base = folder_of(mount_point, root, own[""])
        for candidate in (base, base.parent):
            if delegates(candidate) and can_make_children(candidate):
                return Hierarchy(CGROUP_V2, (candidate,))
    return None


def delegates(folder: Path) -> bool:
    try:
        enabled = set((folder / "cgroup.subtree_control").read_text().split())
        if not enabled.issuperset(CONTROLLERS):
            (folder / "cgroup.subtree_control").write_text(" ".join(f"+{name}" for name in CONTROLLERS))
            enabled = set((folder / "cgroup.subtree_control").read_text().split())
    except OSError:
        return False
    return enabled.issuperset(CONTROLLERS)


def cgroup_v1(own: dict[str, str], mounts: list) -> Hierarchy | None:
    bases = []
    for controller in CONTROLLERS:
        found = [folder_of(point, root, own[controller]) for point, root, kind, options in mounts
                 if kind == "cgroup" and controller in options and controller in own]
        if not found or not can_make_children(found[0]):
            return None
        bases.append(found[0])
    return Hierarchy(CGROUP_V1, tuple(bases))


def can_make_children(folder: Path) -> bool:
    probe = folder / f"{RUN_PREFIX}probe-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError:
        return False
    return True


def remove_stale(base: Path) -> None:
    """Empty run cgroups left by a worker that died (their pid is in the name and no longer alive)."""
    for folder in base.glob(f"{RUN_PREFIX}*"):
        pid = folder.name.removeprefix(RUN_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            kill_members(folder)
            try:
                folder.rmdir()
            except OSError:
                pass


# Runs in a fresh interpreter between the worker and the command: joins the run's cgroups,
# sets the rlimits, and execs the command. argv: cgroup.procs files (newline-separated),
# rlimits (NAME=value,...), then the command.
WRAPPER = """
import os, resource, sys
procs, limits, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
try:
    for path in filter(None, procs.split("\\n")):
        with open(path, "w") as handle:
            handle.write(str(os.getpid()))
    for item in filter(None, limits.split(",")):
        name, value = item.split("=")
        resource.setrlimit(getattr(resource, "RLIMIT_" + name), (int(value), int(value)))
except OSError as exc:
    sys.stderr.write("[factory] the run's resource caps could not be set: %s\\n" % exc)
    sys.exit(126)
os.execvp(argv[0], argv)
"""


class RunGroup:
    """The caps of one run: wrap() its command, then hits() and close() once it is over."""

    def __init__(self, caps: Caps):
        self.caps = caps
        self.found = hierarchy()
        self.folders: list[Path] = []
        if self.found is not None:
            name = f"{RUN_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
            self.folders = [base / name for base in self.found.bases]
            try:
                self.create()
            except OSError:
                self.close()
                raise

    def create(self) -> None:
        memory, pids = self.caps.memory_mb * MB, self.caps.pids
        for folder in self.folders:
            folder.mkdir()
        if self.found is not None and self.found.kind == CGROUP_V2:
            folder = self.folders[0]
            write(folder / "memory.max", memory)
            write(folder / "memory.swap.max", 0, optional=True)
            write(folder / "pids.max", pids)
        else:
            memory_folder, pids_folder = self.folders
            write(memory_folder / "memory.limit_in_bytes", memory)
            write(memory_folder / "memory.memsw.limit_in_bytes", memory, optional=True)
            write(pids_folder / "pids.max", pids)

    def rlimits(self) -> dict[str, int]:
        limits = {"FSIZE": self.caps.file_mb * MB, "CORE": 0}
        if self.found is None:
            limits["DATA"] = self.caps.memory_mb * MB
            if os.geteuid() != 0:
                limits["NPROC"] = self.caps.pids
        return limits

    def wrap(self, argv: list[str]) -> list[str]:
        procs = "\n".join(str(folder / "cgroup.procs") for folder in self.folders)
        limits = ",".join(f"{name}={value}" for name, value in self.rlimits().items())
        return [sys.executable, "-I", "-S", "-c", WRAPPER, procs, limits, *argv]

    def hits(self) -> list[str]:
        """The caps the run went over, in plain words for the model."""
        if self.found is None:
            return []
        found = []
        if self.oom_killed():
            found.append(self.caps.memory_message())
        if self.pids_refused():
            found.append(self.caps.pids_message())
        return found

    def oom_killed(self) -> bool:
        if self.found is not None and self.found.kind == CGROUP_V2:
            return counter(self.folders[0] / "memory.events", "oom_kill") > 0
        return counter(self.folders[0] / "memory.oom_control", "oom_kill") > 0

    def pids_refused(self) -> bool:
        return counter(self.folders[-1] / "pids.events", "max") > 0

    def kill(self) -> None:
        for folder in self.folders:
            kill_members(folder)

    def close(self) -> None:
        """Kill whatever is still in the run's cgroups and remove them."""
        for folder in self.folders:
            if folder.exists():
                kill_members(folder)
                remove(folder)


def kill_members(folder: Path) -> None:
    """SIGKILL every process of a cgroup: cgroup.kill where the kernel has it, else each pid until none is left."""
    if (folder / "cgroup.kill").exists():
        write(folder / "cgroup.kill", 1, optional=True)
    deadline = time.monotonic() + CLEANUP_S
    while time.monotonic() < deadline:
        pids = members(folder)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)


def members(folder: Path) -> list[int]:
    try:
        return [int(line) for line in (folder / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def remove(folder: Path) -> None:
    # The killed processes leave the cgroup a moment after they die.
    deadline = time.monotonic() + CLEANUP_S
    while True:
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() >= deadline:
                return
            kill_members(folder)
            time.sleep(0.01)


def write(path: Path, value: int, *, optional: bool = False) -> None:
    try:
        path.write_text(str(value))
    except OSError:
        if not optional:
            raise


def counter(path: Path, name: str) -> int:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        key, _, value = line.partition(" ")
        if key == name and value.strip().isdigit():
            return int(value)
    return 0
