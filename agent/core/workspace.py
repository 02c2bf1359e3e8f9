"""The agent's view of a ticket's git worktree: read, edit, check, test, diff, commit."""
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, Self

from agent.core.codemap import build_context_map
from agent.core.content import SizeLimits, refuse_unfit
from agent.core.edits import ApplyResult, EditFailure, apply_edits
from agent.core.syntax import check_syntax
from agent.testruns.baserun import BaseRun
from agent.testruns.required import RequiredTests, changed_tests, read_required
from agent.testruns.suite import CONFTEST, TestSetup, is_test_file, run_for_verdict
from agent.testruns.verdict import Judging, idle_tests
from lib import diffsource, gitrepo, gittrees
from lib.changerecord import FileStat
from lib.paths import resolved_inside
from lib.testschema import Failure, RequiredChange, SuiteResult, VerdictRecord

TREE_MAX_LINES = 150


class Workspace(Protocol):
    """What the implementer loop needs from a place to work: exactly the calls it makes."""

    def read(self, path: str) -> str | None: ...
    def line_count(self, path: str) -> int: ...
    def tree(self) -> str: ...
    def context_map(self, paths: list[str]) -> str: ...
    def apply(self, answer: str) -> ApplyResult: ...
    def check_syntax(self, paths: list[str]) -> list[EditFailure]: ...
    def run_tests(self, *, cancel: threading.Event | None = None) -> SuiteResult: ...
    def diff(self) -> str: ...
    def fork(self, count: int) -> AbstractContextManager[list[Self]]: ...
    def adopt(self, other: Self) -> None: ...


@dataclass(frozen=True)
class Baseline:
    """What the tests did on the base commit: test id -> outcome (None without a per-test report)."""

    commit: str
    branch: str
    outcomes: dict[str, str] | None
    traces: dict[str, list[str]] = field(default_factory=dict)  # failing test -> "path:line" its failure ran through


@dataclass
class GitWorkspace:
    """A real worktree on the ticket's branch; `base` is the commit the diff is taken against."""

    root: Path
    base: str
    tests: TestSetup
    baseline: Baseline
    # The ticket's archivos_modificar: a path with a wrong folder but a matching file name edits one of these.
    files_to_modify: tuple[str, ...] = ()
    # The ticket's tests_requeridos: judged by the verdict (agent.testruns.verdict).
    required_tests: tuple[str, ...] = ()
    # archivos_modificar, archivos_referencia and bare tests_requeridos paths: their failing tests are the ticket's.
    ticket_files: tuple[str, ...] = ()
    # Whether a test the attempt adds or changes must fail on the base commit's code (not for tickets of tipo
    # "test" or "refactor", whose tests pass there by design); idle tests are shown either way.
    tests_must_bite: bool = True
    # The architect's acceptance tests (tests_codigo), path -> content: placed on the base, never edited by the model.
    architect_tests: dict[str, str] = field(default_factory=dict)
    # Those of them that exist now, and what edits may do to their files (read again on reset).
    required: RequiredTests = field(default_factory=RequiredTests)
    # A detached checkout of a commit for as long as a block runs (ProjectRepo.scratch_worktree): for candidates.
    scratch: Callable[[str], AbstractContextManager[Path]] | None = None
    # FACTORY_MAX_FILE_KB / FACTORY_MAX_CHANGE_KB, and FACTORY_STORED_DIFF_KB for the diff this returns.
    limits: SizeLimits = field(default_factory=SizeLimits)
    diff_limit: int = 256 * 1024
    # Paths the agent wrote since HEAD: the worktree's tree is HEAD's with these (lib.gittrees), so no diff,
    # verdict or commit scans the whole checkout. Files written by test runs are not the agent's work.
    written: set[str] = field(default_factory=set)
    # current_tree() until the worktree may have changed (an edit, a reset, a candidate adopted, a test run that
    # touched a written file), and the written files' (mtime, size) when it was made.
    _tree: str | None = field(default=None, repr=False)
    _stamp: tuple[Any, ...] = field(default=(), repr=False)

    def read(self, path: str) -> str | None:
        target = resolved_inside(self.root, path)  # never show the model anything from outside the worktree
        if target is None or not target.is_file():
            return None
        return target.read_text(encoding="utf-8", errors="replace")

    def line_count(self, path: str) -> int:
        text = self.read(path)
        return 0 if text is None else text.count("\n") + 1

    def tree(self) -> str:
        return compact_tree(checkout_files(self.root, written=self.written), max_lines=TREE_MAX_LINES)

    def context_map(self, paths: list[str]) -> str:
        return build_context_map(root=self.root, paths=paths, written=self.written)

    def apply(self, answer: str) -> ApplyResult:
        self._tree = None
        before = {path: (self.root / path).read_bytes() for path in self.required.guarded
                  if (self.root / path).is_file()}
        result = apply_edits(root=self.root, answer=answer, files_to_modify=self.files_to_modify)
        self.written.update(result.applied)
        result = self._undo_on_architect_tests(result)
        result = self._undo_on_required_tests(result, before=before)
        for failure in refuse_unfit(root=self.root, paths=self.written, limits=self.limits,
                                    answer=list(result.applied)):
            if failure.path in result.applied:
                result.applied.remove(failure.path)
            result.failed.append(failure)
        return result

    def place_architect_tests(self) -> None:
        """Write the architect's tests into the worktree as the agent's own work (committed with the change)."""
        for path, content in self.architect_tests.items():
            target = resolved_inside(self.root, path)
            if target is None:
                continue  # validated on the ticket; a link the base made must not lead the write elsewhere
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            self.written.add(path)
        self._tree = None

    def _undo_on_architect_tests(self, result: ApplyResult) -> ApplyResult:
        """The acceptance tests are the architect's: an edit to one is put back and refused."""
        for path in [path for path in result.applied if path in self.architect_tests]:
            self.place_architect_tests()
            result.applied.remove(path)
            result.failed.append(EditFailure(path=path, reason=(
                f"{path} holds the acceptance tests the architect wrote (tests_codigo) and must not be changed; "
                "make them pass by fixing the code")))
        return result

    def _undo_on_required_tests(self, result: ApplyResult, *, before: dict[str, bytes]) -> ApplyResult:
        """Required tests that already exist are the contract: edits that change them are undone and refused."""
        for path in list(result.applied):
            if path in self.required.locked:
                subprocess.run(["git", "checkout", "HEAD", "--", path], cwd=self.root, check=False,
                               capture_output=True)
                reason = f"{path} holds required tests (tests_requeridos) and must not be changed; fix the code instead"
            elif reason := self.required.refusal(path, self.read(path) or ""):
                (self.root / path).write_bytes(before[path])  # this answer's edit only: earlier attempts' stay
            else:
                continue
            result.applied.remove(path)
            result.failed.append(EditFailure(path=path, reason=reason))
        return result

    def check_syntax(self, paths: list[str]) -> list[EditFailure]:
        return check_syntax(root=self.root, paths=paths)

    def run_tests(self, *, cancel: threading.Event | None = None) -> SuiteResult:
        changed = self.changed_files()
        judging = Judging(base_outcomes=self.baseline.outcomes, base_commit=self.baseline.commit,
                          base_branch=self.baseline.branch, changed_files=frozenset(changed),
                          required=self.required_tests, ticket_files=frozenset(self.ticket_files),
                          changed_lines=base_lines_changed(self.root, self.base, self.current_tree()),
                          base_traces=self.baseline.traces, must_run=self.required.must_run,
                          architect_tests=self.architect_tests)
        early = self.start_base_run(changed)
        try:
            result = run_for_verdict(self.tests, cwd=self.root, judging=judging, cancel=cancel).as_result()
            touched = self.required_changes(changed)
            if touched:
                result["required_changed"] = touched  # first on the review page: the contract itself moved
            result = self.bite_check(result, changed=changed, early=early)
            return refused_after_tests(result, refuse_unfit(root=self.root, paths=self.written, limits=self.limits))
        finally:
            if early is not None:
                early.stop()
            self.notice_rewrites()

    def bite_files(self, changed: list[str]) -> tuple[list[str], list[str]]:
        """(the attempt's new and changed test files, the conftest.py files it wrote): what runs on the base."""
        test_files = [path for path in changed if is_test_file(path) and (self.root / path).is_file()
                      and path not in self.architect_tests]  # those were checked to fail on the base already
        helpers = [path for path in changed if CONFTEST.search(path) and (self.root / path).is_file()]
        return test_files, helpers

    def start_base_run(self, changed: list[str]) -> BaseRun | None:
        """The bite check's run on the base, started beside the attempt's own run instead of after it: the two
        sandboxes start up at once (most of a small suite's time). Stopped unused when the attempt fails."""
        test_files, helpers = self.bite_files(changed)
        if self.scratch is None or self.baseline.outcomes is None or not test_files:
            return None
        return BaseRun(scratch=self.scratch, base=self.base, tests=self.tests, worktree=self.root,
                       files=[*helpers, *test_files])

    def bite_check(self, result: SuiteResult, *, changed: list[str], early: BaseRun | None) -> SuiteResult:
        """A green attempt's new and changed tests, run on the base commit's code (by `early`, started with the
        attempt's run): those that pass there too do not test the change. Listed on the review page; when none
        of them fails there, the attempt fails and they are fed back."""
        verdict = result.get("verdict")
        if verdict is None or not result["success"] or verdict["basis"] != "baseline" or early is None:
            return result
        test_files, _ = self.bite_files(changed)
        wanted = self.new_and_changed_tests(verdict, test_files)
        if not wanted:
            return result
        outcomes = early.outcomes()
        if not early.unchanged_since():
            return refused_after_tests(result, [
                EditFailure(path=path, reason="this test file changed while the tests ran; a test must not rewrite "
                                              "the tests that judge it") for path in early.changed_files()])
        if outcomes is None:
            return {**result, "notes": [*result.get("notes", []), "the new tests could not be run on the base "
                                        "commit alone (this runner cannot run single files), so whether they test "
                                        "the change is unknown"]}
        idle = idle_tests(wanted, outcomes)
        # Guard cases next to a biting test (a boundary's other side) are how real fixes are tested: shown only.
        return with_idle(result, idle=idle, blocking=self.tests_must_bite and set(idle) == wanted)

    def new_and_changed_tests(self, verdict: VerdictRecord, test_files: list[str]) -> set[str]:
        """By name without parameters: the tests the attempt added, and the existing ones whose code it changed."""
        wanted = {test_id.split("[", 1)[0] for test_id in verdict.get("new") or []
                  if test_id.split("::", 1)[0] in test_files}
        for path in test_files:
            wanted |= {entry["test"] for entry in changed_tests(path=path, names=[""], after=self.read(path) or "",
                                                                before=text_at(self.root, self.base, path))
                       if "::" in entry["test"]}
        return wanted

    def required_changes(self, changed: list[str]) -> list[RequiredChange]:
        """The required tests the change touched in files the ticket lets it change, each with its diff."""
        found = []
        for path, names in self.required.changeable.items():
            if path in changed:
                found += changed_tests(path=path, names=names, before=text_at(self.root, self.base, path),
                                       after=self.read(path) or "")
        return found

    @contextmanager
    def fork(self, count: int) -> Iterator[list["GitWorkspace"]]:
        """`count` copies of this worktree as it is now (uncommitted work included), each in a scratch checkout."""
        if self.scratch is None:
            raise RuntimeError("this workspace cannot make copies (no scratch checkouts configured)")
        start = gittrees.commit_of(worktree=self.root, tree=self.current_tree(), message="factory snapshot")
        with ExitStack() as stack:
            roots = [stack.enter_context(self.scratch(start)) for _ in range(count)]
            yield [replace(self, root=root, written=set(), _tree=None, _stamp=()) for root in roots]

    def reset(self) -> None:
        """Back to the base commit, nothing else in the worktree (an escalated run starts clean)."""
        gitrepo.reset_to(worktree=self.root, commit=self.base)
        self.written.clear()
        self._tree = None
        self.place_architect_tests()
        named = [entry for entry in self.required_tests if entry not in self.architect_tests]  # those are locked here
        self.required = read_required(root=self.root, entries=named, changeable=self.files_to_modify)

    def adopt(self, other: "GitWorkspace") -> None:
        """Make this worktree hold what `other` (a copy made by fork) holds now."""
        changed = gittrees.apply_difference(worktree=self.root, start=self.current_tree(), end=other.current_tree())
        self.written.update(changed)
        self._tree = None

    def current_tree(self) -> str:
        """The worktree's content as a tree: HEAD's, with the paths the agent wrote as they are now."""
        if self._tree is None:
            self._stamp = self.stamp()
            self._tree = gittrees.tree_with(worktree=self.root, paths=self.written)
        return self._tree

    def notice_rewrites(self) -> None:
        """After something else ran in the worktree (the tests): forget the tree if a written file changed."""
        if self.stamp() != self._stamp:
            self._tree = None

    def stamp(self) -> tuple[Any, ...]:
        stamps: list[tuple[str, int | None, int | None]] = []
        for path in sorted(self.written):
            try:
                info = (self.root / path).stat()
                stamps.append((path, info.st_mtime_ns, info.st_size))
            except OSError:
                stamps.append((path, None, None))
        return tuple(stamps)

    def changed_files(self) -> list[str]:
        return gittrees.changed_between(worktree=self.root, base=self.base, tree=self.current_tree())

    def diff(self) -> str:
        """The change as safe text, bounded (FACTORY_STORED_DIFF_KB): what an attempt stores."""
        return self.bounded_diff().text

    def bounded_diff(self) -> diffsource.Bounded:
        return diffsource.bounded(self.root, self.base, self.current_tree(), limit=self.diff_limit)

    def stats(self) -> list[FileStat]:
        """Every changed file with its line counts, size, and whether it is binary or a link."""
        return diffsource.files(self.root, self.base, self.current_tree())

    def commit(self, message: str) -> str | None:
        """Commit what the agent wrote on the worktree's branch; None when that is nothing."""
        commit = gittrees.commit_tree(worktree=self.root, tree=self.current_tree(), paths=self.written,
                                      message=message)
        self.written.clear()
        self._tree = None
        return commit


HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+")


def base_lines_changed(root: Path, base: str, tree: str) -> dict[str, tuple[tuple[int, int], ...]]:
    """Per changed file, the base commit's line ranges the change replaced or inserted next to (git diff -U0)."""
    output = subprocess.run(["git", "-c", "core.quotePath=false", "diff", "-U0", "--no-color", "--no-ext-diff",
                             "--no-renames", base, tree], cwd=root, capture_output=True, check=False).stdout
    ranges: dict[str, list[tuple[int, int]]] = {}
    path = ""
    for line in output.decode("utf-8", "replace").splitlines():
        if line.startswith("--- "):
            path = line[6:] if line.startswith("--- a/") else ""
        elif path and (hunk := HUNK.match(line)):
            start, count = int(hunk.group(1)), int(hunk.group(2) or 1)
            ranges.setdefault(path, []).append((start, start + count - 1) if count else (start, start + 1))
    return {name: tuple(found) for name, found in ranges.items()}


def text_at(root: Path, commit: str, path: str) -> str:
    """A file's text at `commit` ("" when it did not exist there)."""
    shown = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=root, capture_output=True, check=False)
    return shown.stdout.decode("utf-8", "replace") if shown.returncode == 0 else ""


IDLE_MESSAGE = ("does not test the change: it passes on the base commit's code too (your test file run without "
                "your other edits); make it assert what this ticket changes")


def with_idle(result: SuiteResult, *, idle: list[str], blocking: bool) -> SuiteResult:
    """The result with its idle tests listed; when they block, the attempt fails and each is fed back."""
    if not idle:
        return result
    verdict: VerdictRecord = {**result["verdict"], "idle": idle}
    if not blocking:
        return {**result, "verdict": verdict}
    branch = verdict["base_branch"] or "the base branch"
    verdict["green"] = False
    verdict["reason"] = (f"{len(idle)} test(s) you added or changed pass on {branch} without your change too: they do "
                         f"not test the change ({', '.join(idle[:5])})")
    failures = [Failure(name=name, message=IDLE_MESSAGE, details=f"({IDLE_MESSAGE})") for name in idle]
    return {**result, "success": False, "verdict": verdict, "failures": failures}


def refused_after_tests(result: SuiteResult, failures: list[EditFailure]) -> SuiteResult:
    """A test run that left files the change may not keep fails, whatever the tests said."""
    if not failures or result.get("cancelled"):
        return result
    return {**result, "success": False,
            "refused": [{"path": failure.path, "reason": failure.reason} for failure in failures]}


def checkout_files(root: Path, *, written: set[str]) -> list[str]:
    """The checkout's files for the prompt: git's, read from the index, with what the agent wrote or deleted.

    Not `--others`: listing untracked files walks every folder (50 ms on a 20,000-file checkout, per attempt),
    and the only untracked files worth showing are the agent's own new ones, which `written` holds.
    """
    output = subprocess.run(["git", "ls-files", "--cached", "-z"], cwd=root, capture_output=True,
                            check=False).stdout.decode("utf-8", "replace")  # a name that is not UTF-8 stays shown
    files = set(output.split("\0")[:-1]) if output else set()
    for path in written:
        if (root / path).is_file():
            files.add(path)
        else:
            files.discard(path)
    return sorted(files)


def compact_tree(files: list[str], *, max_lines: int) -> str:
    """Every file when few; otherwise folders with their file counts, to stay small on big repos."""
    if len(files) <= max_lines:
        return "\n".join(files)
    folders: dict[str, int] = {}
    for path in files:
        parts = path.split("/")
        key = "/".join(parts[:2]) + "/" if len(parts) > 2 else (parts[0] + "/" if len(parts) == 2 else path)
        folders[key] = folders.get(key, 0) + 1
    lines = [f"{name} ({count} files)" if name.endswith("/") else name for name, count in sorted(folders.items())]
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"... and {len(lines) - max_lines} more entries"]
    return "\n".join(lines)

