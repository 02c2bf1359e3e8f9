"""Self-check of the pyinventory benchmark suite (stdlib only).

For every ticket, in order, on a scratch git repository seeded from repo/:
  1. the ticket's hidden tests must FAIL before its solution (they really test the ticket);
  2. for the known-wrong ticket, the wrong answer must pass the project tests but fail
     the hidden ones;
  3. the correct answer (solutions/<key>.md) must pass the project tests and the hidden
     tests, then it is committed so later tickets build on it.
Finally every hidden test of the suite must pass together on the final state.
The flow is ../suitecheck.py's; this file says what is pyinventory's own (pytest, its data).

Usage: python verify.py [--keep]   (--keep leaves the scratch directory for inspection)
Exit status: 0 when every check holds, 1 otherwise.
"""

import os
import sys
from pathlib import Path

SUITE_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(SUITE_DIR.parent))

from suitecheck import SuiteCheck, main  # noqa: E402  (found through the line above)


class PyInventoryCheck(SuiteCheck):
    test_pattern = "test_*.py"
    min_tickets = 15
    repo_ignore = ("__pycache__", ".pytest_cache")

    def command_argv(self, command: str) -> list[str]:
        argv = super().command_argv(command)
        if argv[0] == "python":
            # The suite's commands say "python"; use this interpreter so pytest is available.
            argv[0] = sys.executable
        return argv

    def command_env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], check=PyInventoryCheck, suite_dir=SUITE_DIR, description=__doc__.splitlines()[0]))
