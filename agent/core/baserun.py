"""The bite check's run on the base commit, in a thread of its own beside the attempt's run.

An attempt's new tests must fail on the base commit's code (agent.core.workspace.GitWorkspace.bite_check).
Run after the attempt's own tests, that second sandbox doubled a small project's test time per ticket; started
with them, the two start up at once. When the attempt fails its own tests, the base run is stopped unused.
"""
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from agent.testruns.suite import TestSetup, outcomes_on_base


class BaseRun:
    """outcomes_on_base of `files` (copied from `worktree`) on a scratch checkout of `base`, started at once."""

    def __init__(self, *, scratch: Callable[[str], AbstractContextManager[Path]], base: str, tests: TestSetup,
                 worktree: Path, files: list[str]) -> None:
        self.scratch, self.base, self.tests, self.worktree, self.files = scratch, base, tests, worktree, files
        self.cancel = threading.Event()
        self.found: dict[str, str] | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self.run, name="bite-check", daemon=True)
        self.thread.start()

    def run(self) -> None:
        try:
            with self.scratch(self.base) as base_tree:
                self.found = outcomes_on_base(self.tests, base_tree=base_tree, worktree=self.worktree,
                                              files=self.files, cancel=self.cancel)
        except BaseException as exc:  # raised again by outcomes(), in the caller's thread
            self.error = exc

    def outcomes(self) -> dict[str, str] | None:
        """The base run's outcomes (None: this runner cannot run single files); waits for it to end."""
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.found

    def stop(self) -> None:
        self.cancel.set()
        self.thread.join()
