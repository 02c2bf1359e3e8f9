"""The bite check's run on the base commit, in a thread of its own beside the attempt's run.

An attempt's new tests must fail on the base commit's code (agent.core.workspace.GitWorkspace.bite_check).
Run after the attempt's own tests, that second sandbox doubled a small project's test time per ticket; started
with them, the two start up at once. When the attempt fails its own tests, the base run is stopped unused.
The files are read before the attempt's run starts: that run may rewrite them (a hostile test can), and what
runs on the base must be what is judged and committed (`unchanged_since` tells the caller).
"""
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from agent.testruns.suite import TestSetup, outcomes_on_base, read_files


class BaseRun:
    """outcomes_on_base of `files` (copied from `worktree`) on a scratch checkout of `base`, started at once."""

    def __init__(self, *, scratch: Callable[[str], AbstractContextManager[Path]], base: str, tests: TestSetup,
                 worktree: Path, files: list[str]) -> None:
        self.scratch, self.base, self.tests, self.worktree, self.files = scratch, base, tests, worktree, files
        self.contents = read_files(worktree, files)
        self.cancel = threading.Event()
        self.found: dict[str, str] | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self.run, name="bite-check", daemon=True)
        self.thread.start()

    def run(self) -> None:
        try:
            with self.scratch(self.base) as base_tree:
                self.found = outcomes_on_base(self.tests, base_tree=base_tree, worktree=self.worktree,
                                              files=self.files, cancel=self.cancel, contents=self.contents)
        except BaseException as exc:  # raised again by outcomes(), in the caller's thread
            self.error = exc

    def outcomes(self) -> dict[str, str] | None:
        """The base run's outcomes (None: this runner cannot run single files); waits for it to end."""
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.found

    def unchanged_since(self) -> bool:
        """Whether the files are still what was read before the attempt's run (and run on the base)."""
        return not self.changed_files()

    def changed_files(self) -> list[str]:
        now = read_files(self.worktree, self.files)
        return sorted(path for path in {*now, *self.contents} if now.get(path) != self.contents.get(path))

    def stop(self) -> None:
        self.cancel.set()
        self.thread.join()
