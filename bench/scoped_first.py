"""Time to the first verdict with scoped-first test runs, against running the whole suite.

Builds a throw-away git repository whose suite has --tests tests in files of 10, each test doing a
little work (--work-ms), then changes one test file (5 of its tests related to the change, one of
them now failing) and times, through the factory's own runner (agent.testruns.suite, in the sandbox when
bubblewrap works here):

- scoped first: the related tests only, which already give the (red) verdict;
- the floor of the comparison: the whole suite, what every attempt cost before.

    .venv/bin/python bench/scoped_first.py [--tests 500] [--work-ms 10] [--runs 5]
"""
import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.testruns.sandbox import SandboxPolicy  # noqa: E402
from agent.testruns.suite import TestSetup, run_for_verdict, run_once  # noqa: E402
from agent.testruns.verdict import Judging  # noqa: E402

TARGET_RATIO = 0.2
# The generated project needs pytest alone: without the autoloaded plugins of the factory's own virtualenv
# (schemathesis, hypothesis, pytest-django ...), whose imports cost about 4 s per run here and which a project's
# environment would not have, both sides measure the project's tests rather than the factory's interpreter.
COMMAND = f"env PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 {sys.executable} -m pytest -q -p no:cacheprovider"


def test_file(number: int, *, work_ms: int, count: int = 10, broken: bool = False) -> str:
    body = [f"import time\n\n\ndef work():\n    time.sleep({work_ms / 1000})\n"]
    for test in range(count):
        expected = "3" if broken and test == 0 else "1 + 1"
        body.append(f"\n\ndef test_{number}_{test}():\n    work()\n    assert 1 + 1 == {expected}\n")
    return "".join(body)


def make_repo(root: Path, *, tests: int, work_ms: int) -> None:
    (root / "tests").mkdir()
    # The first file holds the 5 tests related to the change; the others hold the rest, 10 a file.
    (root / "tests" / "test_mod_000.py").write_text(test_file(0, work_ms=work_ms, count=5))
    for number in range(1, (tests - 5) // 10 + 1):
        (root / "tests" / f"test_mod_{number:03}.py").write_text(test_file(number, work_ms=work_ms))
    (root / "conftest.py").write_text("")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "base")


def change(root: Path, *, work_ms: int) -> None:
    # The change touches the related tests' file; one of its 5 tests now fails.
    (root / "tests" / "test_mod_000.py").write_text(test_file(0, work_ms=work_ms, count=5, broken=True))


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=500)
    parser.add_argument("--work-ms", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sandbox = SandboxPolicy("on" if SandboxPolicy("on").bwrap_available() else "off")
    setup = TestSetup(command=COMMAND, timeout=600, sandbox=sandbox)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        make_repo(root, tests=args.tests, work_ms=args.work_ms)
        base = run_once(setup, cwd=root, command=COMMAND)
        judging = Judging(base_outcomes=base.report.outcomes(), base_commit="base", base_branch="main",
                          changed_files=frozenset({"tests/test_mod_000.py"}))
        change(root, work_ms=args.work_ms)
        scoped, full = [], []
        for _ in range(args.runs):  # interleaved, so the machine's load hits both alike
            started = time.perf_counter()
            outcome = run_for_verdict(setup, cwd=root, judging=judging)
            scoped.append(time.perf_counter() - started)
            assert not outcome.verdict.green and outcome.full is None, "the scoped run must decide alone"
            started = time.perf_counter()
            run_once(setup, cwd=root, command=COMMAND)
            full.append(time.perf_counter() - started)
    first, whole = statistics.median(scoped), statistics.median(full)
    print(f"suite: {args.tests} tests of ~{args.work_ms} ms, 5 related to the change; sandbox: {sandbox.mode}")
    print(f"scoped first, time to the first verdict: p50 {first:.2f} s (runs: {', '.join(f'{v:.2f}' for v in scoped)})")
    print(f"full suite (the floor it is compared with): p50 {whole:.2f} s")
    ratio = first / whole
    print(f"ratio {ratio:.2f}x (target <= {TARGET_RATIO}x): {'met' if ratio <= TARGET_RATIO else 'missed'}")


if __name__ == "__main__":
    main()
