import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.testruns.parsing import parse_test_output, summarize_failures

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

RESULT_KEYS = {"command", "exit_code", "passed", "failed", "errors", "skipped", "total",
               "duration_s", "timed_out", "success", "framework", "failures", "output_tail"}

PYTEST_PROJECT = '''
import pytest


def helper(value):
    assert value == 2, "value should be two"


def test_ok():
    assert True


def test_dict_mismatch():
    data = {"a": 1}
    assert data == {"a": 2}


def test_nested_helper():
    helper(3)


class TestKlass:
    def test_method(self):
        raise ValueError("bad value here")


@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")


def test_with_broken_fixture(broken):
    pass


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass


@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    print("captured output", n)
    assert n == 1
'''

DEEP_TRACEBACK_TEST = '''
def level(n):
    if n == 0:
        assert "expected" == "actual", "deep failure"
    level(n - 1)


def test_deep():
    level(30)
'''


def run(command: list[str], cwd: Path) -> tuple[str, int, float]:
    started = time.monotonic()
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    return completed.stdout + completed.stderr, completed.returncode, time.monotonic() - started


def run_pytest(tmp_path: Path, files: dict[str, str], *args: str) -> dict:
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:django", *args]
    output, code, duration = run(command, tmp_path)
    return parse_test_output(output=output, exit_code=code, command=" ".join(command), duration_s=duration)


# --------------------------------------------------------------------------- pytest (real runs)


def test_pytest_real_run_counts_and_failures(tmp_path):
    result = run_pytest(tmp_path, {"test_project.py": PYTEST_PROJECT})
    assert set(result) == RESULT_KEYS
    assert result["framework"] == "pytest" and not result["success"]
    assert (result["passed"], result["failed"], result["errors"], result["skipped"]) == (2, 4, 1, 1)
    assert result["total"] == 8 and result["exit_code"] == 1
    by_name = {item["name"]: item for item in result["failures"]}
    assert set(by_name) == {
        "test_project.py::test_dict_mismatch", "test_project.py::test_nested_helper",
        "test_project.py::TestKlass::test_method", "test_project.py::test_param[2]",
        "test_project.py::test_with_broken_fixture",
    }
    assert by_name["test_project.py::TestKlass::test_method"]["message"] == "ValueError: bad value here"
    assert "fixture exploded" in by_name["test_project.py::test_with_broken_fixture"]["message"]
    assert "E       assert 3 == 2" in by_name["test_project.py::test_nested_helper"]["details"]


def test_pytest_quiet_form(tmp_path):
    result = run_pytest(tmp_path, {"test_project.py": PYTEST_PROJECT}, "-q")
    assert (result["passed"], result["failed"], result["errors"], result["skipped"]) == (2, 4, 1, 1)
    assert len(result["failures"]) == 5


def test_pytest_all_passing(tmp_path):
    result = run_pytest(tmp_path, {"test_ok.py": "def test_a():\n    assert 1\n\ndef test_b():\n    pass\n"})
    assert result["success"] and result["passed"] == 2 and result["failed"] == 0
    assert result["failures"] == []
    assert summarize_failures(result).startswith("All tests passed")


def test_pytest_collection_error(tmp_path):
    result = run_pytest(tmp_path, {"test_broken.py": "import module_that_does_not_exist\n"})
    assert result["errors"] == 1 and not result["success"]
    assert result["failures"][0]["name"] == "test_broken.py"
    assert "module_that_does_not_exist" in result["failures"][0]["details"]


def test_pytest_no_tests_collected(tmp_path):
    result = run_pytest(tmp_path, {"test_empty.py": "X = 1\n"})
    assert result["total"] == 0 and result["exit_code"] == 5 and not result["success"]
    assert result["framework"] == "pytest"


PYTEST_SUBTESTS = '''
import warnings

import pytest


def test_all_cases(subtests):
    for number in range(3):
        with subtests.test(number=number):
            assert number >= 0


class TestCases:
    def test_some_cases(self, subtests):
        for number in range(3):
            with subtests.test(msg="case", number=number):
                assert number == 0, f"bad {number}"


@pytest.mark.xfail
def test_expected_failure():
    assert 0


@pytest.mark.xfail
def test_unexpected_pass():
    pass


def test_warns():
    warnings.warn("careful")
'''


def test_pytest9_subtests_summary_counts(tmp_path):
    # pytest 9's own subtests: "-q" ends with "N subtests passed", a label of two words.
    result = run_pytest(tmp_path, {"test_sub.py": PYTEST_SUBTESTS}, "-q")
    tail = result["output_tail"].strip().splitlines()[-1]
    assert "subtests passed" in tail and "xfailed" in tail and "warning" in tail
    # 3 failed = the parent and its 2 failed subtests; passed = 2 tests + 1 xpassed + 4 subtests.
    assert (result["passed"], result["failed"], result["errors"], result["skipped"]) == (7, 3, 0, 1)
    assert not result["success"] and result["framework"] == "pytest"
    names = [item["name"] for item in result["failures"]]
    assert names == ["test_sub.py::TestCases::test_some_cases [case] (number=1)",
                     "test_sub.py::TestCases::test_some_cases [case] (number=2)",
                     "test_sub.py::TestCases::test_some_cases"]
    assert result["failures"][0]["message"] == "AssertionError: bad 1"
    assert "bad 2" in result["failures"][1]["details"]


def test_pytest9_passing_subtests_are_a_success(tmp_path):
    files = {"test_sub.py": "def test_cases(subtests):\n    for n in range(4):\n"
                            "        with subtests.test(n=n):\n            assert n < 4\n"}
    result = run_pytest(tmp_path, files, "-q")
    assert "1 passed, 4 subtests passed in" in result["output_tail"]
    assert result["success"] and (result["passed"], result["failed"]) == (5, 0)


@pytest.mark.parametrize("line, counts", [
    ("= 1 failed, 2 passed, 3 deselected, 1 rerun, 2 warnings in 0.50s =", (2, 1, 0, 0)),
    ("2 passed, 1 error, 5 subtests passed, 1 subtests skipped in 1.00s", (7, 0, 1, 1)),
    ("==== 3 passed, 2 xpassed, 1 xfailed, 4 custom plugin things in 2.00s (0:00:02) ====",
     (5, 0, 0, 1)),
    ("=== 4 deselected in 0.01s ===", (0, 0, 0, 0)),
])
def test_pytest_summary_labels(line, counts):
    result = parse_test_output(output=f"collected 3 items\n\n{line}\n", exit_code=0, command="pytest",
                               duration_s=1)
    assert result["framework"] == "pytest"
    assert (result["passed"], result["failed"], result["errors"], result["skipped"]) == counts


def test_a_line_without_a_pytest_label_is_not_a_summary():
    result = parse_test_output(output="3 files copied in 0.20s\n", exit_code=0, command="cp",
                               duration_s=1)
    assert result["framework"] == "unknown"


def test_pytest_without_short_summary_uses_sections(tmp_path):
    result = run_pytest(tmp_path, {"test_project.py": PYTEST_PROJECT}, "-rN")
    names = {item["name"] for item in result["failures"]}
    assert "TestKlass.test_method" in names and "ERROR at setup of test_with_broken_fixture" in names
    method = next(item for item in result["failures"] if item["name"] == "TestKlass.test_method")
    assert method["message"] == "ValueError: bad value here"


def test_pytest_summary_keeps_e_lines_and_last_frames(tmp_path):
    result = run_pytest(tmp_path, {"test_deep.py": DEEP_TRACEBACK_TEST})
    details = result["failures"][0]["details"]
    assert any(line.startswith("E ") and "AssertionError: deep failure" in line for line in details.splitlines())
    assert "test_deep.py:5: in level" in details and details.startswith("...")
    assert "test_deep.py:4: AssertionError" in details
    assert len(details.splitlines()) <= 27  # ~25 tail lines, "..." and the E lines before them
    summary = summarize_failures(result, max_chars=800)
    assert len(summary) <= 800
    assert "test_deep.py::test_deep" in summary and "deep failure" in summary


def test_summarize_respects_budget_and_lists_every_failure(tmp_path):
    result = run_pytest(tmp_path, {"test_project.py": PYTEST_PROJECT})
    for limit in (400, 1200, 3000):
        summary = summarize_failures(result, max_chars=limit)
        assert len(summary) <= limit
    summary = summarize_failures(result, max_chars=3000)
    assert summary.startswith("Tests failed: 4 failed, 1 errors, 2 passed, 1 skipped (pytest")
    for item in result["failures"]:
        assert item["name"] in summary
    assert "E       ValueError: bad value here" in summary


def test_summarize_mentions_failures_beyond_the_detailed_ones():
    failures = [{"name": f"t.py::test_{n}", "message": f"boom {n}", "details": ""} for n in range(14)]
    result = {"success": False, "failed": 14, "errors": 0, "passed": 0, "skipped": 0,
              "framework": "pytest", "exit_code": 1, "command": "pytest", "failures": failures}
    summary = summarize_failures(result)
    assert "boom 9" in summary and "Also failing: t.py::test_10" in summary and "test_13" in summary


# --------------------------------------------------------------------------- Jest

JEST_OUTPUT = """
 FAIL  src/__tests__/cart.test.js
  Cart
    \u2713 adds items (3 ms)
    \u2715 computes total (5 ms)
    \u25cb skipped removes items

  \u25cf Cart \u203a computes total

    expect(received).toBe(expected) // Object.is equality

    Expected: 30
    Received: 25

      12 |     cart.add({ price: 10 }, 2);
      13 |     cart.add({ price: 5 });
    > 14 |     expect(cart.total()).toBe(30);
         |                          ^
      15 |   });

      at Object.toBe (src/__tests__/cart.test.js:14:26)

 FAIL  src/__tests__/broken.test.js
  \u25cf Test suite failed to run

    Cannot find module './missing' from 'src/__tests__/broken.test.js'

      at Resolver._throwModNotFoundError (node_modules/jest-resolve/build/resolver.js:427:11)

 PASS  src/__tests__/util.test.js

Test Suites: 2 failed, 1 passed, 3 total
Tests:       1 failed, 1 skipped, 4 passed, 6 total
Snapshots:   0 total
Time:        1.234 s
Ran all test suites.
"""


def test_jest_output():
    result = parse_test_output(output=JEST_OUTPUT, exit_code=1, command="npx jest", duration_s=2.5)
    assert result["framework"] == "jest"
    assert (result["passed"], result["failed"], result["skipped"], result["total"]) == (4, 1, 1, 6)
    assert result["errors"] == 1 and not result["success"]
    names = [item["name"] for item in result["failures"]]
    assert names == ["Cart \u203a computes total",
                     "src/__tests__/broken.test.js \u203a Test suite failed to run"]
    message = result["failures"][0]["message"]
    assert message.startswith("expect(received).toBe(expected)") and "Received: 25" in message
    assert "node_modules" not in result["failures"][1]["details"]


def test_jest_summary_keeps_the_test_frame_first():
    summary = summarize_failures(parse_test_output(output=JEST_OUTPUT, exit_code=1, command="npx jest",
                                                   duration_s=1), max_chars=700)
    assert "## Cart \u203a computes total" in summary and "Expected: 30" in summary
    assert len(summary) <= 700


def test_jest_all_passing_with_ansi_colors():
    output = "\x1b[1mTests:\x1b[22m       \x1b[1m\x1b[32m5 passed\x1b[39m\x1b[22m, 5 total\n"
    result = parse_test_output(output=output, exit_code=0, command="npm test", duration_s=1)
    assert result["success"] and result["passed"] == 5 and result["total"] == 5
    assert "\x1b" not in result["output_tail"]


# --------------------------------------------------------------------------- Vitest

VITEST_OUTPUT = """
 RUN  v1.6.0 /app

 \u276f src/cart.test.ts  (3 tests | 1 failed) 6ms
   \u276f src/cart.test.ts > Cart > computes total
     \u2192 expected 25 to be 30 // Object.is equality

\u23af\u23af\u23af\u23af\u23af\u23af\u23af Failed Tests 1 \u23af\u23af\u23af\u23af\u23af\u23af\u23af

 FAIL  src/cart.test.ts > Cart > computes total
AssertionError: expected 25 to be 30 // Object.is equality

- Expected
+ Received

- 30
+ 25

 \u276f src/cart.test.ts:14:26
     12|     cart.add({ price: 10 }, 2)
     14|     expect(cart.total()).toBe(30)
       |                          ^

\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af[1/1]\u23af

 Test Files  1 failed | 1 passed (2)
      Tests  1 failed | 3 passed | 1 skipped (5)
   Start at  12:00:01
   Duration  512ms (transform 40ms, setup 0ms, collect 60ms, tests 8ms)
"""

VITEST_SUITE_ERROR = """
\u23af\u23af\u23af\u23af\u23af\u23af Failed Suites 1 \u23af\u23af\u23af\u23af\u23af\u23af\u23af

 FAIL  src/broken.test.ts [ src/broken.test.ts ]
Error: Failed to load url ./missing (resolved id: ./missing) in /app/src/broken.test.ts. Does the file exist?
 \u276f loadAndTransform node_modules/vite/dist/node/chunks/dep.js:1:1

\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af\u23af[1/1]\u23af

 Test Files  1 failed (1)
      Tests  no tests
   Start at  12:00:01
   Duration  300ms
"""


def test_vitest_output():
    result = parse_test_output(output=VITEST_OUTPUT, exit_code=1, command="npx vitest run", duration_s=1)
    assert result["framework"] == "vitest"
    assert (result["passed"], result["failed"], result["skipped"], result["total"]) == (3, 1, 1, 5)
    assert result["failures"] == [{
        "name": "src/cart.test.ts > Cart > computes total",
        "message": "AssertionError: expected 25 to be 30 // Object.is equality",
        "details": result["failures"][0]["details"],
    }]
    assert "expect(cart.total()).toBe(30)" in result["failures"][0]["details"]


def test_vitest_failed_suite_counts_as_error():
    result = parse_test_output(output=VITEST_SUITE_ERROR, exit_code=1, command="vitest", duration_s=1)
    assert result["framework"] == "vitest" and result["errors"] == 1 and result["total"] == 0
    assert result["failures"][0]["name"] == "src/broken.test.ts"
    assert "Failed to load url" in result["failures"][0]["message"]


# --------------------------------------------------------------------------- node --test

NODE_TEST_FILE = """
const test = require('node:test');
const assert = require('node:assert');
test('adds', () => { assert.strictEqual(1 + 1, 2); });
test('subtracts', () => { assert.strictEqual(3 - 1, 1); });
test.describe('suite', () => {
  test.it('inner ok', () => {});
  test.it('inner bad', () => { throw new Error('boom inner'); });
});
test('skipped one', { skip: true }, () => {});
"""


def run_node_tests(tmp_path: Path, reporter: str) -> dict:
    (tmp_path / "math.test.js").write_text(NODE_TEST_FILE)
    command = ["node", "--test", f"--test-reporter={reporter}", "math.test.js"]
    output, code, duration = run(command, tmp_path)
    return parse_test_output(output=output, exit_code=code, command=" ".join(command), duration_s=duration)


@needs_node
@pytest.mark.parametrize("reporter", ["tap", "spec"])
def test_node_test_runner_real_run(tmp_path, reporter):
    result = run_node_tests(tmp_path, reporter)
    assert result["framework"] == "node" and not result["success"]
    assert (result["passed"], result["failed"], result["skipped"], result["total"]) == (2, 2, 1, 5)
    by_name = {item["name"]: item for item in result["failures"]}
    assert set(by_name) == {"subtracts", "inner bad"}  # the suite is not a failure of its own
    assert "2 !== 1" in by_name["subtracts"]["message"]
    assert "boom inner" in by_name["inner bad"]["message"]
    assert "node:internal" not in by_name["inner bad"]["details"]


def test_node_spec_reporter_sample():
    output = (
        "\u2714 adds (0.5ms)\n\u2716 subtracts (1.2ms)\n  AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:\n"
        "  \n  2 !== 1\n  \n      at TestContext.<anonymous> (/app/math.test.js:4:34)\n"
        "\u2139 tests 2\n\u2139 suites 0\n\u2139 pass 1\n\u2139 fail 1\n\u2139 cancelled 0\n"
        "\u2139 skipped 0\n\u2139 todo 0\n\u2139 duration_ms 52\n"
    )
    result = parse_test_output(output=output, exit_code=1, command="node --test", duration_s=0.1)
    assert (result["framework"], result["passed"], result["failed"], result["total"]) == ("node", 1, 1, 2)
    assert result["failures"][0]["name"] == "subtracts"
    assert "/app/math.test.js:4:34" in result["failures"][0]["details"]


def test_node_tap_cancelled_counts_as_error():
    output = "TAP version 13\nnot ok 1 - slow\n  ---\n  error: 'test timed out after 100ms'\n  ...\n1..1\n# tests 1\n# pass 0\n# fail 0\n# cancelled 1\n"
    result = parse_test_output(output=output, exit_code=1, command="node --test", duration_s=1)
    assert result["errors"] == 1 and not result["success"]
    assert result["failures"][0] == {"name": "slow", "message": "test timed out after 100ms",
                                     "details": "test timed out after 100ms"}


# --------------------------------------------------------------------------- Mocha

MOCHA_OUTPUT = """

  Cart
    \u2714 adds items
    1) computes total
    - removes items
  Api
    nested
      2) returns 404


  1 passing (12ms)
  1 pending
  2 failing

  1) Cart
       computes total:

      AssertionError [ERR_ASSERTION]: 25 == 30
      + expected - actual

      -25
      +30

      at Context.<anonymous> (test/cart.test.js:14:12)
      at process.processImmediate (node:internal/timers:478:21)

  2) Api
       nested
         returns 404:
     Error: expected 200 to equal 404
      at Context.<anonymous> (test/api.test.js:30:5)



"""


def test_mocha_output():
    result = parse_test_output(output=MOCHA_OUTPUT, exit_code=2, command="npx mocha", duration_s=1)
    assert result["framework"] == "mocha"
    assert (result["passed"], result["failed"], result["skipped"], result["total"]) == (1, 2, 1, 4)
    assert [(item["name"], item["message"]) for item in result["failures"]] == [
        ("Cart computes total", "AssertionError [ERR_ASSERTION]: 25 == 30"),
        ("Api nested returns 404", "Error: expected 200 to equal 404"),
    ]
    assert "test/cart.test.js:14:12" in result["failures"][0]["details"]
    assert "node:internal" not in result["failures"][0]["details"]


def test_mocha_all_passing():
    result = parse_test_output(output="\n  3 passing (4ms)\n\n", exit_code=0, command="mocha", duration_s=1)
    assert result["success"] and result["passed"] == 3 and result["framework"] == "mocha"


# --------------------------------------------------------------------------- plain, unknown, combined


@pytest.mark.parametrize("line, counts", [
    ("5 passed, 1 failed", (5, 1, 0)),
    ("Results: 5 passed, 0 failed, 2 skipped", (5, 0, 2)),
    ("  12 passed, 3 failed  ", (12, 3, 0)),
])
def test_plain_summary_line(line, counts):
    result = parse_test_output(output=f"running...\n{line}\n", exit_code=0, command="make test", duration_s=1)
    assert result["framework"] == "plain"
    assert (result["passed"], result["failed"], result["skipped"]) == counts
    assert result["success"] == (counts[1] == 0)


def test_unknown_output_falls_back_to_exit_code():
    ok = parse_test_output(output="all good\n", exit_code=0, command="./check.sh", duration_s=1)
    assert ok["framework"] == "unknown" and ok["success"] and ok["total"] == 0
    bad = parse_test_output(output="segfault\n", exit_code=139, command="./check.sh", duration_s=1)
    assert bad["framework"] == "unknown" and not bad["success"]
    summary = summarize_failures(bad)
    assert "exit code 139" in summary and summary.endswith("segfault")


def test_timed_out_is_never_success():
    result = parse_test_output(output="==== 3 passed in 0.10s ====\n", exit_code=0, command="pytest",
                               duration_s=300.0, timed_out=True)
    assert result["passed"] == 3 and not result["success"] and result["timed_out"]
    assert "timed out after 300s" in summarize_failures(result)


def test_nonzero_exit_with_passing_summary_is_failure():
    result = parse_test_output(output="= 3 passed in 0.10s =\n", exit_code=1, command="pytest", duration_s=1)
    assert not result["success"]


def test_output_from_two_runners_is_added_up():
    output = "===== 1 failed, 3 passed in 0.2s =====\n" + JEST_OUTPUT
    result = parse_test_output(output=output, exit_code=1, command="pytest && jest", duration_s=1)
    assert result["framework"] == "pytest"
    assert (result["passed"], result["failed"], result["total"]) == (7, 2, 10)


def test_output_tail_is_limited_and_crlf_normalized():
    output = ("x" * 10000) + "\r\n= 1 passed in 0.01s =\r\n"
    result = parse_test_output(output=output, exit_code=0, command="pytest", duration_s=0.123456)
    assert len(result["output_tail"]) == 4000 and "\r" not in result["output_tail"]
    assert result["passed"] == 1 and result["duration_s"] == 0.123
