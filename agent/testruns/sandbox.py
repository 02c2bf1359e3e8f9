"""The wall around model-written code: a bubblewrap sandbox that holds even when the worker runs as root.

Every test run and every setup command runs in new user, mount, PID, IPC, UTS
and cgroup namespaces with no capabilities at all (so it cannot unmount,
remount, or reach the host through them), as an unprivileged user id, and sees
only what a test run needs:

- the system folders read-only (/usr, /bin, /lib*, a short list from /etc);
- the factory's base Python installation read-only, never its virtualenv (the
  minimal runner of agent.testruns.runner is made from it), and any toolchain
  folders named in FACTORY_SANDBOX_READONLY;
- the worktree, writable, always at PROJECT_DIR (/work/project), for setup and
  test runs alike: what a setup installed in editable mode (`pip install -e .`,
  `uv sync`, `poetry install`) points there, so a test run imports the
  attempt's code; its `.git` link read-only (so code under test cannot point
  the factory's later git commands at a repository it controls);
- the dependencies installed for the base commit, read-only (agent.testruns.deps);
- a private /tmp and HOME that vanish with the run, of at most FACTORY_SANDBOX_TMP_MB.

A folder is bound into the sandbox by its real path, and only when that path
stays inside the tree it comes from and is a folder or a regular file: bwrap
follows a link on the host, so a link a setup step or a test left where a bind
source is looked for (`home/etc -> /etc`, a `.git` link swapped for a link to a
secret) would otherwise show the host's file inside. Links *within* a bound
folder are harmless: the kernel resolves them inside the sandbox's own view.
The run's kernel caps (memory, processes, file size) are agent.testruns.confine's.

Nothing else of the disk exists inside: no home folders, no /opt, no
FACTORY_DATA_DIR (secrets, other worktrees, the cached clones and their
configuration), no /run or /var/run (so no PostgreSQL socket). Test runs get no
network at all; setup commands keep the host's network to download packages,
which is why they only ever run the base commit's manifests (agent.testruns.deps).
"""
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from agent.errors import ProjectProblem
from agent.testruns.confine import MB, Caps

# Where HOME points inside the sandbox (under the private /tmp).
SANDBOX_HOME = "/tmp/home"
# Where the worktree (or the setup's export of the base commit) appears inside the sandbox.
PROJECT_DIR = "/work/project"
# Unprivileged ids inside the sandbox (nobody/nogroup on Debian).
SANDBOX_UID = 65534
SANDBOX_GID = 65534
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# What programs commonly read from /etc; nothing with secrets or credentials (no shadow, no gitconfig).
ETC_ENTRIES = (
    "passwd", "group", "nsswitch.conf", "hosts", "host.conf", "ld.so.cache", "ld.so.conf", "ld.so.conf.d",
    "alternatives", "ssl", "ca-certificates", "ca-certificates.conf", "localtime", "timezone", "mime.types",
    "protocols", "services", "gai.conf", "os-release", "debian_version", "python3", "pip.conf", "xdg/pip",
    "npmrc", "nodejs", "java-17-openjdk", "java-21-openjdk", "maven", "fonts",
)
# Only runs with the network need to resolve names.
NETWORK_ETC_ENTRIES = ("resolv.conf",)


class SandboxUnavailable(ProjectProblem):
    """No sandbox can be made here, and running unsandboxed is not allowed; the message says what to do."""


@dataclass(frozen=True)
class Mounts:
    """What a sandboxed command sees beyond the system: its worktree and read-only extras."""

    worktree: Path
    # (source on the host, destination inside), read-only; e.g. the base commit's node_modules.
    readonly: tuple[tuple[Path, Path], ...] = ()
    # (source on the host, destination inside), writable; e.g. the setup's dependency folder.
    writable: tuple[tuple[Path, Path], ...] = ()
    # Folders inside a read-only mount that get an empty private tmpfs (capped like /tmp): a tool's cache there.
    scratch: tuple[Path, ...] = ()


@dataclass(frozen=True)
class SandboxPolicy:
    """FACTORY_SANDBOX: `on` (also `auto`) requires a working sandbox; `off` runs unsandboxed, by choice.

    `readonly` are extra host folders shown read-only (FACTORY_SANDBOX_READONLY: toolchains, their caches);
    `data_dir` is FACTORY_DATA_DIR, whose secrets must not be readable when the sandbox is off;
    `caps` what each run may use (agent.testruns.confine), held with the sandbox off too;
    `runners_dir` where the minimal runner is built (FACTORY_RUNNERS_DIR; None: the user's cache folder).
    """

    mode: str
    readonly: tuple[Path, ...] = ()
    data_dir: Path | None = None
    caps: Caps = Caps()
    runners_dir: Path | None = None

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    def bwrap(self) -> str:
        """The bwrap binary to use; raises SandboxUnavailable when the sandbox is on and cannot work here."""
        found, problem = bwrap_status()
        if found is None:
            raise SandboxUnavailable(
                f"the test sandbox cannot start: {problem}. Model-written code never runs unsandboxed unless "
                "FACTORY_SANDBOX=off is set on the worker (unsafe: it then runs with the worker's rights).")
        return found

    @staticmethod
    def bwrap_available() -> bool:
        return bwrap_status()[0] is not None

    def describe(self) -> str:
        if not self.enabled:
            return "off (FACTORY_SANDBOX=off): model-written tests run with the worker's own rights"
        found, problem = bwrap_status()
        return "bubblewrap (no capabilities, no network, only the worktree writable)" if found else (
            f"unavailable ({problem}): tickets fail until it works or FACTORY_SANDBOX=off is set")


BASE_OPTIONS = ("--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL",
                "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID), "--hostname", "sandbox",
                "--die-with-parent", "--new-session")


@lru_cache(maxsize=1)
def bwrap_status() -> tuple[str | None, str]:
    """(path to a bwrap that can really build the sandbox here, or None; why not).

    Installed is not enough: containers often forbid user namespaces, so the probe
    uses the very options of a real run.
    """
    found = shutil.which("bwrap")
    if found is None:
        return None, "bubblewrap (bwrap) is not installed (Debian: apt-get install bubblewrap)"
    probe = subprocess.run([found, *BASE_OPTIONS, *system_mounts(network=False), "--", "/bin/true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return None, f"bubblewrap cannot create a sandbox here: {probe.stderr.strip()[:300]}"
    return found, ""


def system_mounts(*, network: bool, tmp_mb: int = Caps.tmp_mb) -> list[str]:
    args: list[str] = []
    for folder in SYSTEM_DIRS:
        args += mount_system_dir(Path(folder))
    for entry in (*ETC_ENTRIES, *(NETWORK_ETC_ENTRIES if network else ())):
        path = Path("/etc") / entry
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    args += ["--proc", "/proc", "--dev", "/dev"]
    for folder in ("/dev/shm", "/tmp", "/var/tmp"):
        args += ["--size", str(tmp_mb * MB), "--tmpfs", folder]
    return [*args, "--dir", SANDBOX_HOME]


def mount_system_dir(path: Path) -> list[str]:
    if path.is_symlink():  # merged /usr: /bin -> usr/bin
        return ["--symlink", os.readlink(path), str(path)]
    if path.is_dir():
        return ["--ro-bind", str(path), str(path)]
    return []


def toolchain_folders(extra: tuple[Path, ...]) -> list[Path]:
    """The factory's base interpreter (not its virtualenv: no Django, no plugins) and the policy's extra folders."""
    folders = {Path(sys.base_prefix).resolve(), *extra}
    return sorted(folder for folder in folders if folder.is_dir() and folder != Path("/"))


def bwrap_argv(command: list[str], *, bwrap: str, policy: SandboxPolicy, mounts: Mounts, network: bool) -> list[str]:
    args = [bwrap, *BASE_OPTIONS, *(("--share-net",) if network else ()),
            *system_mounts(network=network, tmp_mb=policy.caps.tmp_mb)]
    for folder in toolchain_folders(policy.readonly):
        args += ["--ro-bind", str(folder), str(folder)]
    worktree = bind_source(mounts.worktree, root=mounts.worktree)
    args += ["--bind", str(worktree), PROJECT_DIR]
    # Only git's own link file or folder: a link a test left in its place is shown as the link it is.
    git_link = real_entry(worktree / ".git", root=worktree)
    if git_link is not None:
        args += ["--ro-bind", str(git_link), f"{PROJECT_DIR}/.git"]
    for source, target in mounts.writable:
        args += ["--bind", str(bind_source(source)), str(target)]
    for source, target in mounts.readonly:
        args += ["--ro-bind", str(bind_source(source)), str(target)]
    for folder in mounts.scratch:
        args += ["--size", str(policy.caps.tmp_mb * MB), "--tmpfs", str(folder)]
    # The sandbox's own root (where bwrap made the mount points) read-only too:
    # only the worktree, /tmp, HOME and writable mounts take writes.
    return [*args, "--remount-ro", "/", "--chdir", PROJECT_DIR, "--", *command]


def real_entry(path: Path, *, root: Path) -> Path | None:
    """`path`'s real path when it is a folder or a regular file inside `root` itself; None otherwise
    (a link leading out, a FIFO, a device, a missing file). `root` must already be a real path."""
    try:
        real = Path(os.path.realpath(path, strict=True))
        mode = os.lstat(real).st_mode
    except (OSError, RuntimeError):
        return None
    if not real.is_relative_to(root) or not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        return None
    return real


def bind_source(path: Path, *, root: Path | None = None) -> Path:
    """The real path to bind for `path`, refusing any link out of `root` (by default `path`'s own folder) and
    anything but a folder or a regular file; the callers filter what a project made, so this is the last wall."""
    parent = Path(os.path.realpath(root if root is not None else path.parent))
    found = real_entry(path, root=parent)
    if found is None:
        raise SandboxUnavailable(f"refusing to show {path} in the test sandbox: it is a link leading out of {parent}, "
                                 "or not a folder or a regular file")
    return found


def readable_secrets(data_dir: Path) -> list[Path]:
    """The factory's secret files this process could hand to unsandboxed code."""
    names = ("secret-key", "postgres-password", "admin-login.txt")
    return [data_dir / name for name in names if (data_dir / name).is_file() and os.access(data_dir / name, os.R_OK)]


def check_unsandboxed_allowed(data_dir: Path) -> None:
    """FACTORY_SANDBOX=off: refuse while secrets sit where the code under test could read them."""
    secrets = readable_secrets(data_dir)
    if secrets:
        names = ", ".join(str(path) for path in secrets)
        raise SandboxUnavailable(
            f"FACTORY_SANDBOX=off, but model-written code would run with the worker's rights while {names} "
            "can be read by it. Set DJANGO_SECRET_KEY and DATABASE_URL in the worker's environment and delete "
            "those files, or turn the sandbox on.")
