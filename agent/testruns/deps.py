"""A project's dependencies for test runs, installed from the BASE commit's manifests only.

Model-written code must never run with the network. So the project's
setup_command (e.g. `npm ci`, `pip install --user -r requirements.txt`) runs on a
clean export of the base commit, with the network, inside the sandbox; the
folders it creates there (node_modules/, .venv/ ...) and in its HOME (.local/ ...)
are then shown read-only to every test run of every ticket on that base. An
attempt that edits package.json changes nothing that runs with the network: its
tests see the base's dependencies, and the review page says the manifests changed.

Setup runs at the same path inside the sandbox as every test run
(agent.testruns.sandbox.PROJECT_DIR), so what it installs in editable mode
imports the attempt's code at test time, and a virtualenv it makes keeps working.
The result is cached per project and per hash of the setup command and of every
dependency manifest at the base commit, so a new base that does not touch the
manifests reuses it. A per-key file lock keeps two workers from building the same
cache; the few most recently used caches are kept.

A file the setup's build generates among the tracked files (setuptools-scm's or
hatch-vcs's `_version.py`: the export has no .git, so setup runs get
SETUPTOOLS_SCM_PRETEND_VERSION) exists only in the export; when git ignores it,
it is copied into each test run's worktree where missing (Dependencies.seed),
so an editable install that imports it works on the attempt's code, and it is
never committed.

What the setup leaves is the project's, so never trusted as a path on the host:
an entry of its HOME that is a link leading out of HOME (`etc -> /etc`,
`data -> $FACTORY_DATA_DIR`), a FIFO or a device is removed after the setup and
named in the log, and every folder shown to a test run is bound by its real
path only when that stays inside the setup's own tree (agent.testruns.sandbox.real_entry).
"""
import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from agent.errors import ProjectProblem
from agent.testruns.command import run_command
from agent.testruns.sandbox import PROJECT_DIR, SANDBOX_HOME, SandboxPolicy, real_entry
from lib.paths import resolved_inside
from lib.testschema import SuiteResult

MANIFESTS = frozenset({
    "package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", ".npmrc",
    "requirements.txt", "requirements-dev.txt", "requirements-test.txt", "constraints.txt", "pyproject.toml",
    "poetry.lock", "uv.lock", "Pipfile", "Pipfile.lock", "setup.py", "setup.cfg", "go.mod", "go.sum",
    "Cargo.toml", "Cargo.lock", "Gemfile", "Gemfile.lock", "composer.json", "composer.lock", "pom.xml",
    "build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts",
})
# Download caches a setup leaves in HOME: not needed to run anything, and a
# read-only npm cache would make `npm test` complain.
HOME_CACHES = (".npm", ".cache", ".cargo/registry", ".yarn/berry/cache")
KEEP_CACHES = 3
# Caches tools write inside node_modules at test time (Vite bundles vitest.config.* into .vite-temp, Vitest and
# Vite keep results in .vite, babel and others use .cache): made empty after the setup, and each test run gets a
# private tmpfs there, as node_modules itself is read-only.
NODE_SCRATCH = (".vite-temp", ".vite", ".cache")
# Generated files copied into test worktrees: a version file or two, never a build's output.
MAX_GENERATED_FILES = 20
MAX_GENERATED_BYTES = 64 * 1024
READY = "ready.json"
# Part of every cache key: caches built before setup ran at PROJECT_DIR hold paths that lead nowhere now, and
# those built before NODE_SCRATCH lack its mount points.
LAYOUT = f"project-at:{PROJECT_DIR}+node-scratch"

log = logging.getLogger(__name__)


def is_manifest(path: str) -> bool:
    name = PurePosixPath(path).name
    return name in MANIFESTS or (name.startswith("requirements") and name.endswith(".txt"))


def changed_manifests(paths: list[str]) -> list[str]:
    """The dependency manifests among the paths an attempt changed (shown on the review page)."""
    return [path for path in paths if is_manifest(path)]


@dataclass(frozen=True)
class Dependencies:
    """A built dependency folder: `tree` is where setup ran, `outputs` the folders it made there."""

    folder: Path
    commit: str
    outputs: tuple[str, ...]
    generated: tuple[str, ...] = ()  # git-ignored files the setup wrote among the tracked ones (a _version.py)

    @property
    def tree(self) -> Path:
        return self.folder / "tree"

    @property
    def home(self) -> Path:
        return self.folder / "home"

    def mounts(self) -> tuple[tuple[Path, Path], ...]:
        """Read-only mounts for a test run (host path, path inside the sandbox).

        The setup ran at PROJECT_DIR as the test runs do, so the absolute paths its tools keep (a venv's
        shebangs, an editable install's path to the code) lead to the attempt's worktree.
        """
        tree, home = Path(os.path.realpath(self.tree)), Path(os.path.realpath(self.home))
        binds = []
        for output in self.outputs:
            source = real_entry(tree / output, root=tree)
            if source is not None and source.is_dir():
                binds.append((source, Path(PROJECT_DIR) / output))
        for entry in sorted(self.home.iterdir()):
            source = real_entry(entry, root=home)
            if source is not None:
                binds.append((source, Path(SANDBOX_HOME) / entry.name))
        return tuple(binds)


    def scratch(self) -> tuple[Path, ...]:
        """The folders inside node_modules a test run may write into (each a private tmpfs), where setup made them."""
        tree = Path(os.path.realpath(self.tree))
        found = []
        for output in self.outputs:
            if PurePosixPath(output).name != "node_modules":
                continue
            found += [Path(PROJECT_DIR) / output / name for name in NODE_SCRATCH
                      if (entry := real_entry(tree / output / name, root=tree)) is not None and entry.is_dir()]
        return tuple(found)

    def seed(self, worktree: Path) -> list[str]:
        """Copy the generated files the worktree lacks into it (they are git-ignored there); their paths."""
        tree = Path(os.path.realpath(self.tree))
        copied = []
        for relative in self.generated:
            source = real_entry(tree / relative, root=tree)
            target = resolved_inside(worktree, relative)
            if source is None or target is None or os.path.lexists(worktree / relative) or not target.parent.is_dir():
                continue
            shutil.copyfile(source, target)
            copied.append(relative)
        return copied


def dependency_key(*, clone: Path, commit: str, setup_command: str) -> str:
    listing = git(clone, "ls-tree", "-r", "--full-tree", commit)
    manifests = sorted(line for line in listing.splitlines() if is_manifest(line.split("\t", 1)[-1]))
    digest = hashlib.sha256("\n".join([LAYOUT, setup_command.strip(), *manifests]).encode())
    return digest.hexdigest()[:24]


@contextmanager
def prepared(*, clone: Path, commit: str, setup_command: str, cache_dir: Path, sandbox: SandboxPolicy,
             timeout: float) -> Iterator[Dependencies | None]:
    """The dependencies for tests on `commit`, built once per manifest set; None when there is no setup.

    Held (a shared lock) while the block runs, so pruning never removes a cache a run is using.
    """
    if not setup_command.strip():
        yield None
        return
    folder = cache_dir / dependency_key(clone=clone, commit=commit, setup_command=setup_command)
    lock_path = folder.with_name(folder.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ready = load(folder) or build(clone=clone, commit=commit, setup_command=setup_command, folder=folder,
                                      sandbox=sandbox, timeout=timeout)
        os.utime(folder / READY)
        fcntl.flock(lock, fcntl.LOCK_SH)
        prune(cache_dir, keep=folder)
        try:
            yield ready
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def load(folder: Path) -> Dependencies | None:
    try:
        meta = json.loads((folder / READY).read_text())
    except (OSError, ValueError):
        return None
    return Dependencies(folder=folder, commit=meta["commit"], outputs=tuple(meta["outputs"]),
                        generated=tuple(meta.get("generated", ())))


def build(*, clone: Path, commit: str, setup_command: str, folder: Path, sandbox: SandboxPolicy,
          timeout: float) -> Dependencies:
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "tree").mkdir(parents=True)
    (folder / "home").mkdir()
    export(clone=clone, commit=commit, target=folder / "tree")
    started = time.monotonic()
    result = run_command(command=setup_command, cwd=folder / "tree", timeout=timeout, sandbox=sandbox,
                         network=True, home=folder / "home")
    if result["exit_code"] != 0 or result.get("timed_out") or result.get("limits"):
        shutil.rmtree(folder, ignore_errors=True)
        raise ProjectProblem(setup_failure(setup_command, commit, result, timeout))
    for cache in HOME_CACHES:
        shutil.rmtree(folder / "home" / cache, ignore_errors=True)
    refused = remove_links_out(folder / "home")
    folders = tracked_folders(clone=clone, commit=commit)
    outputs = untracked_folders(tree=folder / "tree", tracked=folders)
    make_scratch(tree=folder / "tree", outputs=outputs)
    generated = generated_files(clone=clone, commit=commit, tree=folder / "tree", folders={"", *folders})
    meta = {"commit": commit, "setup_command": setup_command, "outputs": outputs, "generated": generated,
            "refused_home_entries": refused, "seconds": round(time.monotonic() - started, 1)}
    (folder / READY).write_text(json.dumps(meta, indent=1))
    return Dependencies(folder=folder, commit=commit, outputs=tuple(outputs), generated=tuple(generated))


def make_scratch(*, tree: Path, outputs: list[str]) -> None:
    """Empty mount points for the test runs' caches in each node_modules the setup made (see NODE_SCRATCH)."""
    for output in outputs:
        if PurePosixPath(output).name != "node_modules":
            continue
        for name in NODE_SCRATCH:
            target = tree / output / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif os.path.lexists(target):
                target.unlink()
            target.mkdir()


def generated_files(*, clone: Path, commit: str, tree: Path, folders: set[str]) -> list[str]:
    """Small regular files the setup wrote into tracked folders that the base's .gitignore ignores."""
    tracked = set(git(clone, "ls-tree", "-r", "--name-only", "--full-tree", commit).splitlines())
    found = []
    for parent in sorted(folders):
        for entry in sorted(os.scandir(tree / parent), key=lambda item: item.name):
            relative = f"{parent}/{entry.name}" if parent else entry.name
            if (relative not in tracked and entry.is_file(follow_symlinks=False)
                    and entry.stat(follow_symlinks=False).st_size <= MAX_GENERATED_BYTES):
                found.append(relative)
    return ignored_by(tree=tree, paths=found)[:MAX_GENERATED_FILES]


def ignored_by(*, tree: Path, paths: list[str]) -> list[str]:
    """Those of `paths` the export's own .gitignore files ignore (so a test worktree never commits them)."""
    if not paths:
        return []
    with tempfile.TemporaryDirectory(prefix="factory-ignore-") as scratch:
        # A repository of its own (the export has none) whose work tree is the export: only its .gitignore counts.
        subprocess.run(["git", "init", "-q", "--bare", scratch], check=True, capture_output=True)
        checked = subprocess.run(["git", f"--git-dir={scratch}", f"--work-tree={tree}", "-c",
                                  "core.excludesFile=/dev/null", "check-ignore", "--no-index", "--stdin", "-z"],
                                 input="\0".join(paths).encode(), capture_output=True)
    ignored = set(checked.stdout.decode(errors="replace").split("\0"))
    return [path for path in paths if path in ignored]


def remove_links_out(home: Path) -> list[str]:
    """Remove what the setup left in HOME that is no folder or file of HOME itself; their names."""
    real_home = Path(os.path.realpath(home))
    refused = [entry for entry in sorted(home.iterdir()) if real_entry(entry, root=real_home) is None]
    for entry in refused:
        entry.unlink()  # links and special files: unlink never follows them
    if refused:
        log.warning("setup_command left entries in HOME that lead out of it or are not files or folders; removed "
                    "(never shown to tests): %s", ", ".join(repr(entry.name) for entry in refused))
    return [entry.name for entry in refused]


def setup_failure(command: str, commit: str, result: SuiteResult, timeout: float) -> str:
    tail = (result.get("output_tail") or "")[-600:].strip()
    if result.get("limits"):
        return (f"setup_command `{command}` went over the sandbox's caps on the base commit {commit[:10]}: "
                f"{'; '.join(result['limits'])}. Make the setup lighter or raise the cap named: {tail}")
    if result.get("timed_out"):
        return (f"setup_command `{command}` did not finish within {timeout:.0f} s (FACTORY_TEST_TIMEOUT) on the "
                f"base commit {commit[:10]}: {tail}")
    return f"setup_command `{command}` failed (exit {result['exit_code']}) on the base commit {commit[:10]}: {tail}"


def export(*, clone: Path, commit: str, target: Path) -> None:
    """The commit's files, without any git metadata (setup never sees the clone or its configuration)."""
    archive = subprocess.Popen(["git", "-C", str(clone), "archive", "--format=tar", commit],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert archive.stdout is not None and archive.stderr is not None  # both piped above
    unpack = subprocess.run(["tar", "-x", "-C", str(target)], stdin=archive.stdout, capture_output=True)
    archive.stdout.close()
    error = archive.stderr.read().decode(errors="replace")
    if archive.wait() != 0 or unpack.returncode != 0:
        raise ProjectProblem(f"cannot export the base commit {commit[:10]} for setup_command: "
                             f"{error or unpack.stderr.decode(errors='replace')}".strip())


def tracked_folders(*, clone: Path, commit: str) -> set[str]:
    return set(git(clone, "ls-tree", "-r", "-d", "--name-only", "--full-tree", commit).splitlines())


def untracked_folders(*, tree: Path, tracked: set[str]) -> list[str]:
    """Folders the setup created: the topmost ones holding no tracked file (node_modules, not its insides)."""
    found, pending = [], [""]
    while pending:
        parent = pending.pop()
        for entry in sorted(os.scandir(tree / parent), key=lambda item: item.name):
            relative = f"{parent}/{entry.name}" if parent else entry.name
            if not entry.is_dir(follow_symlinks=False):
                continue
            if relative in tracked:
                pending.append(relative)
            else:
                found.append(relative)
    return sorted(found)


def prune(cache_dir: Path, *, keep: Path) -> None:
    """Remove all but the most recently used caches, skipping any that a run or a build holds."""
    ready = sorted((path for path in cache_dir.glob(f"*/{READY}")), key=lambda path: path.stat().st_mtime,
                   reverse=True)
    for marker in ready[KEEP_CACHES:]:
        folder = marker.parent
        if folder == keep:
            continue
        with unused(folder.with_name(folder.name + ".lock")) as free:
            if free:
                shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def unused(lock_path: Path) -> Iterator[bool]:
    """True inside when no run holds the cache (nobody else holds its lock); never waits."""
    with open(lock_path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def git(clone: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(clone), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise ProjectProblem(f"git {args[0]} failed in the project's clone: {result.stderr.strip()[-400:]}")
    return result.stdout
