"""The architect's acceptance tests (Ticket.tests_codigo): checked to fail on the base, then placed and locked.

The architect writes the tests, the implementer writes the code. Before the first model request the files are
written onto a checkout of the base commit and run once in the sandbox: a test that already passes there in every
variant cannot tell a right answer from no answer, so the ticket ends with "Fix the ticket:" naming it. Then the
files go into the ticket's worktree, where the workspace keeps them as written (agent.core.workspace) and the
verdict requires them to pass (new tests that fail block; they are the ticket's own).
"""
from collections.abc import Mapping
from pathlib import Path

from agent.errors import TicketProblem
from agent.testruns.suite import TestSetup, is_test_file, outcomes_on_base, scoped_command
from agent.testruns.verdict import idle_tests, test_file
from lib.paths import resolved_inside
from tickets.repos import ProjectRepo


def check_they_fail_on_base(*, repo: ProjectRepo, base: str, branch: str, setup: TestSetup,
                            files: Mapping[str, str]) -> None:
    """Raise TicketProblem unless every test of `files` fails (or cannot run) on the base commit's code."""
    with repo.scratch_worktree(commit=base) as tree:
        write_files(tree, files)
        runnable = [path for path in files if is_test_file(path)]
        if scoped_command(setup, cwd=tree, files=runnable) is None:
            raise TicketProblem("Fix the ticket: its tests_codigo cannot be run on their own with this project's "
                                "test command (name test files such as tests/test_x.py or x.test.js)")
        outcomes = outcomes_on_base(setup, base_tree=tree, worktree=tree, files=runnable)
    if outcomes is None:
        raise TicketProblem("Fix the ticket: its tests_codigo gave no per-test report on the base, so the factory "
                            "cannot check that each fails there before the change")
    mine = {test_id: status for test_id, status in outcomes.items() if test_file(test_id) in files}
    passing = idle_tests({test_id.split("[", 1)[0] for test_id in mine}, mine)
    if passing:
        raise TicketProblem(f"Fix the ticket: its acceptance tests (tests_codigo) must fail on {branch} before any "
                            f"change, but these already pass there: {', '.join(passing[:10])}. A test that passes "
                            "without the change cannot tell whether the change is right.")


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
