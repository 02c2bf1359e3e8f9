"""Judge a test file written by the model by running it against mutants of the project.

A ticket's hidden test supplies a pytest plugin that, when BENCH_MUTANT names one of its mutants,
replaces a function of the project with that subtly broken copy (no file of the project is touched).
Good tests pass on the real code and fail on every mutant. This file lives in hidden/_shared/ and is
copied along with every ticket's hidden tests; the test-writing tickets (T08, T15) use it.
"""

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CHILD_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class MutantsJudge:
    tests_under_review: str  # the test file the ticket asked for, relative to the project
    plugin_name: str  # module name of the mutants plugin
    plugin_source: str

    def run(self, tmp_path: Path, *, mutant: str) -> subprocess.CompletedProcess:
        """The tests under review in a child pytest, against the real code (mutant="") or one mutant."""
        plugin_dir = tmp_path / "plugin"
        plugin_dir.mkdir(exist_ok=True)
        (plugin_dir / f"{self.plugin_name}.py").write_text(self.plugin_source)
        env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
        env.update(
            PYTHONPATH=os.pathsep.join([str(plugin_dir), str(PROJECT_ROOT)]),
            PYTHONDONTWRITEBYTECODE="1",
            BENCH_MUTANT=mutant,
        )
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        command += ["-p", self.plugin_name, self.tests_under_review]
        return subprocess.run(
            command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS
        )

    def check_test_file_exists(self) -> None:
        path = PROJECT_ROOT / self.tests_under_review
        assert path.is_file(), f"{self.tests_under_review} was not created"

    def check_passes_on_the_real_code(self, tmp_path: Path, *, at_least: int) -> None:
        result = self.run(tmp_path, mutant="")
        assert result.returncode == 0, result.stdout + result.stderr
        passed = re.search(r"(\d+) passed", result.stdout)
        assert passed and int(passed.group(1)) >= at_least, result.stdout

    def check_catches(self, tmp_path: Path, *, mutant: str) -> None:
        result = self.run(tmp_path, mutant=mutant)
        assert result.returncode == 1 and re.search(r"\d+ failed", result.stdout), (
            f"the tests in {self.tests_under_review} did not detect mutant {mutant}:\n{result.stdout}"
        )
