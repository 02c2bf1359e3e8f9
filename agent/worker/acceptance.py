"""The architect's acceptance tests (Ticket.tests_codigo): checked to fail on the base, then placed and locked.

The architect writes the tests, the implementer writes the code. Before the first model request the files are
written onto a checkout of the base commit and run once in the sandbox: tests that all pass there cannot tell a right answer from no answer, so the ticket
ends with "Fix the ticket:" naming them. A file that already exists on the base is a real project's test file:
only the tests the ticket adds or changes in it must bite (Python: compared test by test; other languages: the
whole file, whose tests already there pass on the base). As in real fixes, a guard case beside a biting test (a
boundary's other side) may pass on the base: the ticket is refused only when none of its new or changed tests
fails there. Then the files go into the ticket's worktree, where the workspace keeps them as written (agent.core.workspace) and the
verdict requires them to pass (new tests that fail block; they are the ticket's own).
"""
from collections.abc import Mapping
from pathlib import Path

from agent.errors import TicketProblem
from agent.testruns.required import segments
from agent.testruns.suite import TestSetup, is_test_file, outcomes_on_base, scoped_command
from agent.testruns.verdict import idle_tests, test_file
from lib.paths import resolved_inside
from tickets.repos import ProjectRepo


def check_they_fail_on_base(*, repo: ProjectRepo, base: str, branch: str, setup: TestSetup,
                            files: Mapping[str, str]) -> None:
    """Raise TicketProblem when none of the tests `files` adds or changes fails (or cannot run) on the base."""
    with repo.scratch_worktree(commit=base) as tree:
        before = {path: read_text(tree, path) for path in files}
        write_files(tree, files)
        runnable = [path for path in files if is_test_file(path)]
        if scoped_command(setup, cwd=tree, files=runnable) is None:
            raise TicketProblem("Fix the ticket: its tests_codigo cannot be run on their own with this project's "
                                "test command (name test files such as tests/test_x.py or x.test.js)")
        outcomes = outcomes_on_base(setup, base_tree=tree, worktree=tree, files=runnable)
    if outcomes is None:
        raise TicketProblem("Fix the ticket: its tests_codigo gave no per-test report on the base, so the factory "
                            "cannot check that each fails there before the change")
    mine = judged(outcomes, before=before, files=files)
    names = {test_id.split("[", 1)[0] for test_id in mine}
    passing = idle_tests(names, mine)
    if passing and set(passing) == names:
        raise TicketProblem(f"Fix the ticket: its acceptance tests (tests_codigo) must fail on {branch} before any "
                            f"change, but these already pass there: {', '.join(passing[:10])}. A test that passes "
                            "without the change cannot tell whether the change is right.")


def judged(outcomes: Mapping[str, str], *, before: Mapping[str, str | None],
           files: Mapping[str, str]) -> dict[str, str]:
    """The outcomes of the tests the ticket adds or changes; all of a file's when it changes none by name (a
    fixture or a helper of the file changed)."""
    mine = {test_id: status for test_id, status in outcomes.items() if test_file(test_id) in files}
    fresh = {test_id: status for test_id, status in mine.items()
             if is_new_or_changed(test_id, before=before, files=files)}
    untouched = {test_file(test_id) for test_id in mine} - {test_file(test_id) for test_id in fresh}
    return {**fresh, **{test_id: status for test_id, status in mine.items() if test_file(test_id) in untouched}}


def is_new_or_changed(test_id: str, *, before: Mapping[str, str | None], files: Mapping[str, str]) -> bool:
    """Whether the ticket adds or changes this test: always in a new file or one that is not Python that parses."""
    path = test_file(test_id)
    old_text = before.get(path)
    if old_text is None:
        return True
    old, new = segments(old_text, path), segments(files[path], path)
    if old is None or new is None:
        return True
    name = test_id.split("::", 1)[1].split("[", 1)[0] if "::" in test_id else ""
    return name not in old or old[name] != new.get(name)


def read_text(root: Path, path: str) -> str | None:
    """The base commit's version of a file, or None when it has none (or none that is a regular file)."""
    target = resolved_inside(root, path)
    if target is None or (root / path).is_symlink() or not target.is_file():
        return None
    return target.read_text(encoding="utf-8", errors="replace")


def write_files(root: Path, files: Mapping[str, str]) -> list[str]:
    """Write each file under `root` (never through a link), returning the paths written."""
    written = []
    for path, content in files.items():
        target = resolved_inside(root, path)
        if target is None:
            raise TicketProblem(f"Fix the ticket: tests_codigo path {path!r} leads outside the repository")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        target.write_text(content, encoding="utf-8")
        written.append(path)
    return written
