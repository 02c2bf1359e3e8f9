"""Self-check of the nexo benchmark suite (stdlib only; needs node and npm, and the npm registry once).

On a scratch git repository seeded from repo/, after installing its dependencies once with the
suite's setup_command (`npm ci`, the only step that needs the network), for every ticket in order:
  1. the ticket's hidden tests must FAIL before its solution (they really test the ticket);
  2. for the known-wrong ticket, the wrong answer must pass the project tests but fail the
     hidden ones;
  3. the correct answer (solutions/<key>.md) must pass the project tests and the hidden tests,
     then it is committed so later tickets build on it.
Finally every hidden test of the suite must pass together on the final state, and node_modules
must be exactly as `npm ci` left it (the factory mounts it read-only for the test runs).
The flow is ../suitecheck.py's; this file says what is nexo's own (npm and Jest, node_modules, its data).

Usage: python verify.py [--keep]   (--keep leaves the scratch directory for inspection)
Exit status: 0 when every check holds, 1 otherwise.
"""

import os
import re
import shutil
import sys
from pathlib import Path

SUITE_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(SUITE_DIR.parent))

from suitecheck import SuiteCheck, TicketReport, main  # noqa: E402  (found through the line above)

TOOLS = ("node", "npm")


class NexoCheck(SuiteCheck):
    test_pattern = "*.test.js"
    min_tickets = 12
    suite_fields = (*SuiteCheck.suite_fields, "setup_command")
    non_empty_ticket_fields = ("tests_requeridos", "patrones_obligatorios")
    frozen_files = ("package.json", "package-lock.json")
    repo_ignore = ("node_modules", "coverage")
    installed_dirs = ("node_modules",)
    summary_line = re.compile(r"^Tests:\s+.*$", re.MULTILINE)
    setup_hint = " (is the npm registry reachable?)"
    installed: dict[str, tuple[int, int]]  # node_modules as the setup left it

    def command_env(self) -> dict[str, str]:
        return {**os.environ, "CI": "true", "FORCE_COLOR": "0", "NO_COLOR": "1"}

    def data_problems(self) -> list[str]:
        problems = missing_tools() + super().data_problems()
        if (self.suite_dir / "repo" / "node_modules").exists():
            problems.append("repo/node_modules exists: the starting repository must not carry installed packages")
        return problems

    def prepare(self, worktree: Path, report: TicketReport) -> bool:
        if missing_tools() or not super().prepare(worktree, report):
            return False
        self.installed = node_modules_fingerprint(worktree)
        return True

    def finish(self, worktree: Path, report: TicketReport) -> None:
        if node_modules_fingerprint(worktree) != self.installed:
            report.problems.append("node_modules changed while the tests ran: the factory mounts it read-only")


def missing_tools() -> list[str]:
    return [f"{tool} is not installed (apt-get install nodejs npm)" for tool in TOOLS if shutil.which(tool) is None]


def node_modules_fingerprint(worktree: Path) -> dict[str, tuple[int, int]]:
    fingerprint = {}
    for directory, _, files in os.walk(worktree / "node_modules"):
        for name in files:
            path = Path(directory) / name
            stat = path.lstat()
            fingerprint[str(path.relative_to(worktree))] = (stat.st_size, stat.st_mtime_ns)
    return fingerprint


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], check=NexoCheck, suite_dir=SUITE_DIR, description=__doc__.splitlines()[0]))
