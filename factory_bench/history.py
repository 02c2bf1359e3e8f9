"""A repository's own commits as benchmark tickets: which ones can be replayed, and what each one changed.

A commit is replayable when it is not a merge, has a parent, and changes both code and tests: its test files
(after the commit) become the architect's acceptance tests, its other files the change the model must make.
Everything here reads a bare copy of the repository with git plumbing; nothing is checked out.
"""
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from agent.testruns.suite import is_test_file
from factory_bench.suite import BenchmarkError

TEST_DIRS = frozenset({"test", "tests", "__tests__", "spec", "specs", "testing"})
TEST_NAMES = frozenset({"conftest.py"})
# What does not count as code when choosing commits (a commit touching only these and tests is skipped).
DOC_SUFFIXES = frozenset({".md", ".rst", ".txt", ".adoc", ".rdoc"})
NON_CODE_DIRS = frozenset({"doc", "docs", ".github", ".circleci", ".gitlab", ".devcontainer", ".vscode"})
NON_CODE_STEMS = ("changelog", "changes", "history", "license", "licence", "authors", "contributors", "news",
                  "readme", "security", "code_of_conduct", "contributing", "codeowners", "funding")
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_AUTHOR_NAME": "factory replay", "GIT_AUTHOR_EMAIL": "replay@localhost",
           "GIT_COMMITTER_NAME": "factory replay", "GIT_COMMITTER_EMAIL": "replay@localhost"}


def git_bytes(cwd: Path, *args: str, env: dict[str, str] | None = None) -> bytes:
    completed = subprocess.run(["git", *args], cwd=cwd, capture_output=True,
                               env={**os.environ, **GIT_ENV, **(env or {})})
    if completed.returncode != 0:
        error = completed.stderr.decode("utf-8", "replace").strip()[-500:]
        raise BenchmarkError(f"git {' '.join(args[:2])} failed in {cwd}: {error}")
    return completed.stdout


def git_text(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return git_bytes(cwd, *args, env=env).decode("utf-8", "replace")


# Which files are tests, which are code ----------------------------------------


def is_test_path(path: str) -> bool:
    """pytest's and Jest's own rules (test_x.py, x_test.py, x.test.js, __tests__/), a test folder anywhere in
    the path (tests/, test/, spec/: helpers and fixtures there go with the tests) and conftest.py."""
    parts = PurePosixPath(path).parts
    return is_test_file(path) or parts[-1] in TEST_NAMES or any(part in TEST_DIRS for part in parts[:-1])


def is_code_path(path: str) -> bool:
    """Not a test, not documentation, not CI or editor configuration, not a dotfile."""
    pure = PurePosixPath(path)
    if is_test_path(path) or pure.suffix.lower() in DOC_SUFFIXES or pure.parts[0] in NON_CODE_DIRS:
        return False
    return not pure.name.startswith(".") and not pure.name.lower().startswith(NON_CODE_STEMS)


# One commit ---------------------------------------------------------------------


@dataclass
class ReplayCommit:
    """A commit as a ticket: what to change (code files: before, after; None = absent) and the tests to pass."""

    sha: str
    parent: str
    subject: str
    body: str
    code: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    tests: dict[str, str] = field(default_factory=dict)  # test files as they are after the commit
    deleted_tests: list[str] = field(default_factory=list)  # removed from the base: they tested the old code
    problem: str = ""  # why this commit cannot be replayed; empty when it can

    @property
    def short(self) -> str:
        return self.sha[:10]


def changed_files(mirror: Path, sha: str, parent: str) -> list[tuple[str, str, bool]]:
    """(status A/M/D/T, path, binary) of each file the commit changes against its parent; renames as delete+add."""
    names = git_bytes(mirror, "diff-tree", "-r", "-z", "--no-renames", "--name-status", parent, sha).split(b"\0")
    statuses = {names[index + 1].decode("utf-8", "replace"): names[index].decode()[:1]
                for index in range(0, len(names) - 1, 2)}
    numbers = git_bytes(mirror, "diff-tree", "-r", "-z", "--no-renames", "--numstat", parent, sha).split(b"\0")
    binary = {entry.split(b"\t", 2)[2].decode("utf-8", "replace") for entry in numbers
              if entry.count(b"\t") >= 2 and entry.startswith(b"-\t-\t")}
    return [(status, path, path in binary) for path, status in statuses.items()]


def file_text(mirror: Path, commit: str, path: str) -> str | None:
    """The file's text at `commit`; None when it is not valid UTF-8 text."""
    data = git_bytes(mirror, "cat-file", "blob", f"{commit}:{path}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\0" in text else text


def parents_of(mirror: Path, sha: str) -> list[str]:
    return git_text(mirror, "rev-list", "--parents", "-n", "1", sha).split()[1:]


def read_commit(mirror: Path, sha: str) -> ReplayCommit:
    """Everything a replay ticket needs from one commit; `problem` says why it cannot be replayed, if so."""
    parents = parents_of(mirror, sha)
    subject, _, body = git_text(mirror, "log", "-1", "--format=%s%x00%b", sha).partition("\0")
    commit = ReplayCommit(sha=sha, parent=parents[0] if parents else "", subject=subject.strip(), body=body.strip())
    commit.problem = shape_problem(parents)
    if commit.problem:
        return commit
    files = changed_files(mirror, sha, commit.parent)
    commit.problem = selection_problem([path for _, path, _ in files]) or binary_problem(files)
    if commit.problem:
        return commit
    for status, path, _ in files:
        before = None if status == "A" else file_text(mirror, commit.parent, path)
        after = None if status == "D" else file_text(mirror, sha, path)
        if (before is None and status != "A") or (after is None and status != "D"):
            commit.problem = f"{path} is not UTF-8 text, which no answer or ticket can hold"
            return commit
        if not is_test_path(path):
            commit.code[path] = (before, after)
        elif after is None:
            commit.deleted_tests.append(path)
        else:
            commit.tests[path] = after
    if not commit.tests:
        commit.problem = "it only deletes test files: nothing would judge the change"
    return commit


def shape_problem(parents: list[str]) -> str:
    if not parents:
        return "the first commit: it has no parent to start from"
    if len(parents) > 1:
        return "a merge commit"
    return ""


def selection_problem(paths: list[str]) -> str:
    """Why a commit with these changed files is not a code-and-tests change, or ''."""
    tests = [path for path in paths if is_test_path(path)]
    code = [path for path in paths if is_code_path(path)]
    if not tests and not code:
        return "it changes only documentation, CI or configuration files"
    if not tests:
        return "it changes no test file"
    if not code:
        return "it changes only tests (and documentation or configuration)"
    return ""


def binary_problem(files: list[tuple[str, str, bool]]) -> str:
    binary = [path for status, path, is_binary in files if is_binary and status != "D"]
    return f"it changes binary files, which no answer can write: {', '.join(binary[:5])}" if binary else ""


# Choosing commits ---------------------------------------------------------------


def first_parent_walk(mirror: Path, *, branch: str) -> Iterator[tuple[str, str, str]]:
    """(sha, subject, why it cannot be replayed or '') of each commit on the first-parent history of `branch`,
    newest first, read lazily: `--last 20` on a long history reads only as far back as it needs."""
    with subprocess.Popen(["git", "rev-list", "--first-parent", "--parents", branch], cwd=mirror, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, **GIT_ENV}) as walk:
        try:
            for line in walk.stdout or ():
                sha, *parents = line.split()
                problem = shape_problem(parents)
                if not problem:
                    files = changed_files(mirror, sha, parents[0])
                    problem = selection_problem([path for _, path, _ in files]) or binary_problem(files)
                yield sha, git_text(mirror, "log", "-1", "--format=%s", sha).strip(), problem
        finally:
            walk.kill()


def resolve(mirror: Path, revision: str) -> str:
    try:
        return git_text(mirror, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}").strip()
    except BenchmarkError:
        raise BenchmarkError(f"No commit {revision!r} in the repository") from None


# The base a ticket starts from -------------------------------------------------


def mirror_repository(*, source: str, branch: str, target: Path) -> Path:
    """A bare copy of `source` (a path or URL) with `branch`; the source itself is never written to."""
    target.parent.mkdir(parents=True, exist_ok=True)
    git_text(target.parent, "clone", "-q", "--bare", "--single-branch", "--branch", branch, source, str(target))
    return target


def seed_base(*, mirror: Path, commit: ReplayCommit, remote: Path, branch: str) -> str:
    """Point the bare remote's `branch` (the remote is made on first use) at the commit's parent, with its history,
    less the test files the commit deletes (they tested code the change removes; the commit's own tests replace
    them). Returns the base commit."""
    base = commit.parent
    if commit.deleted_tests:
        # A throw-away index (and an empty folder as work tree, which update-index insists on but never reads).
        scratch = remote.parent / f"{remote.name}.scratch"
        scratch.mkdir(parents=True, exist_ok=True)
        env = {"GIT_INDEX_FILE": str(scratch / "index"), "GIT_WORK_TREE": str(scratch)}
        try:
            git_text(mirror, "read-tree", commit.parent, env=env)
            git_text(mirror, "update-index", "--force-remove", "--", *commit.deleted_tests, env=env)
            tree = git_text(mirror, "write-tree", env=env).strip()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        message = f"replay: remove the test files {commit.short} deletes\n\n" + "\n".join(commit.deleted_tests)
        base = git_text(mirror, "commit-tree", tree, "-p", commit.parent, "-m", message).strip()
    if not (remote / "HEAD").exists():
        remote.parent.mkdir(parents=True, exist_ok=True)
        git_text(remote.parent, "init", "-q", "--bare", str(remote))
    git_text(mirror, "push", "-q", "--force", str(remote), f"{base}:refs/heads/{branch}")
    return base
