"""Turn a test command's output into counts and failures, and trim it for a model's retry.

Recognized: pytest, Jest, Vitest, Node's test runner (TAP and spec reporters), Mocha and a
plain "N passed, N failed" line. Output from several runners (e.g. `pytest && npm test`) is
added up; anything unrecognized falls back to the exit code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

OUTPUT_TAIL_CHARS = 4000
SECTION_TAIL_LINES = 25
DETAIL_MAX_LINES = 25
SUMMARY_MAX_DETAILED_FAILURES = 10

# Stack frames of the runtime or of dependencies say nothing about the code under test.
NOISE_FRAME = re.compile(r"^\s*at .*(?:\(node:|\bnode:internal|node_modules/|\(<anonymous>\))")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


@dataclass
class RunnerCounts:
    framework: str
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    total: int | None = None
    failures: list[dict] = field(default_factory=list)

    @property
    def counted_total(self) -> int:
        if self.total is not None:
            return self.total
        return self.passed + self.failed + self.errors + self.skipped


def parse_test_output(*, output: str, exit_code: int, command: str, duration_s: float,
                      timed_out: bool = False) -> dict:
    text = clean_output(output)
    runs = [run for parser in RUNNER_PARSERS if (run := parser(text))]
    if not runs:
        plain = parse_plain(text)
        runs = [plain] if plain else []
    failed = sum(run.failed for run in runs)
    errors = sum(run.errors for run in runs)
    return {
        "command": command,
        "exit_code": exit_code,
        "passed": sum(run.passed for run in runs),
        "failed": failed,
        "errors": errors,
        "skipped": sum(run.skipped for run in runs),
        "total": sum(run.counted_total for run in runs),
        "duration_s": round(float(duration_s), 3),
        "timed_out": timed_out,
        "success": exit_code == 0 and not timed_out and failed == 0 and errors == 0,
        "framework": runs[0].framework if runs else "unknown",
        "failures": [item for run in runs for item in run.failures],
        "output_tail": text[-OUTPUT_TAIL_CHARS:],
    }


def clean_output(output: str) -> str:
    return ANSI_ESCAPE.sub("", output).replace("\r\n", "\n").replace("\r", "\n")


def failure(name: str, message: str, details: str = "") -> dict:
    # "details": the trimmed traceback/section, used by summarize_failures.
    return {"name": name.strip(), "message": message.strip(), "details": details.rstrip()}


def count_items(text: str) -> dict[str, int]:
    """{"failed": 3, "passed": 10} from "3 failed, 10 passed" (any separators)."""
    counts: dict[str, int] = {}
    for number, word in re.findall(r"(\d+) ([a-z]+)", text):
        counts[word] = counts.get(word, 0) + int(number)
    return counts


def first_text_line(lines: list[str]) -> str:
    return next((line.strip() for line in lines if line.strip()), "")


def short_message(lines: list[str]) -> str:
    """The first text line, and the next one when the first only introduces it ("...equal:")."""
    texts = [line.strip() for line in lines if line.strip()]
    if len(texts) > 1 and texts[0].endswith(":"):
        return f"{texts[0]}\n{texts[1]}"
    return texts[0] if texts else ""


def head_lines(lines: list[str], limit: int = DETAIL_MAX_LINES) -> str:
    lines = [line for line in lines if not NOISE_FRAME.search(line)]
    while lines and not lines[0].strip():
        lines = lines[1:]
    kept = lines[:limit]
    indent = min((len(line) - len(line.lstrip()) for line in kept if line.strip()), default=0)
    text = "\n".join(line[indent:] for line in kept).rstrip()
    return text + ("\n..." if len(lines) > limit else "")


# --------------------------------------------------------------------------- pytest

PYTEST_SUMMARY = re.compile(
    r"^=*\s*(?P<body>\d+ [a-z]+(?:, \d+ [a-z]+)*|no tests ran) in [\d.]+s(?: \([\d:.]+\))?\s*=*\s*$",
    re.MULTILINE,
)
PYTEST_WORDS = {"failed", "passed", "skipped", "deselected", "xfailed", "xpassed", "warning",
                "warnings", "error", "errors", "rerun", "reruns"}
PYTEST_RESULT_LINE = re.compile(r"^(?P<kind>FAILED|ERROR) (?P<name>.+?)(?: - (?P<message>.*))?$",
                                re.MULTILINE)
PYTEST_BLOCK_HEADER = re.compile(r"^=+ (?P<title>.+?) =+$")
PYTEST_SECTION_HEADER = re.compile(r"^_{3,} (?P<title>.+?) _{3,}$")


def parse_pytest(text: str) -> RunnerCounts | None:
    summaries = [match for match in PYTEST_SUMMARY.finditer(text)
                 if match["body"] == "no tests ran" or set(count_items(match["body"])) <= PYTEST_WORDS]
    if not summaries:
        return None
    counts = count_items(summaries[-1]["body"])
    run = RunnerCounts(
        framework="pytest",
        passed=counts.get("passed", 0) + counts.get("xpassed", 0),
        failed=counts.get("failed", 0),
        errors=counts.get("error", 0) + counts.get("errors", 0),
        skipped=counts.get("skipped", 0) + counts.get("xfailed", 0),
    )
    run.failures = pytest_failures(text)
    return run


def pytest_failures(text: str) -> list[dict]:
    sections = pytest_sections(text)
    results = list(PYTEST_RESULT_LINE.finditer(text))
    if not results:
        return [failure(title, first_error_line(body), trim_section(body))
                for title, body in sections]
    failures = []
    for result in results:
        body = pop_matching_section(sections, result["name"], kind=result["kind"])
        message = result["message"] or first_error_line(body)
        failures.append(failure(result["name"], message, trim_section(body)))
    return failures


def pytest_sections(text: str) -> list[tuple[str, list[str]]]:
    """(title, lines) of each "____ test_name ____" section in the FAILURES/ERRORS blocks."""
    sections: list[tuple[str, list[str]]] = []
    in_block = False
    for line in text.split("\n"):
        header = PYTEST_BLOCK_HEADER.match(line)
        if header:
            in_block = header["title"] in ("FAILURES", "ERRORS")
            continue
        section = PYTEST_SECTION_HEADER.match(line)
        if in_block and section:
            sections.append((section["title"], []))
        elif in_block and sections:
            sections[-1][1].append(line)
    return sections


def pop_matching_section(sections: list[tuple[str, list[str]]], node_id: str, *,
                         kind: str) -> list[str]:
    """Remove and return the section of `node_id`: an ERROR line prefers "ERROR at setup of
    ..." sections, a FAILED line the test's own section."""
    path, _, test = node_id.partition("::")
    names = {test.replace("::", "."), test.split("::")[-1]} if test else set()
    own = [index for index, (title, _) in enumerate(sections) if title in names]
    errors = [index for index, (title, _) in enumerate(sections)
              if any(title.endswith(f" of {name}") for name in names)
              or not test and title == f"ERROR collecting {path}"]
    candidates = errors + own if kind == "ERROR" else own + errors
    return sections.pop(candidates[0])[1] if candidates else []


def first_error_line(body: list[str]) -> str:
    return next((line[1:].strip() for line in body if line.startswith("E ") and line[1:].strip()), "")


def trim_section(body: list[str]) -> str:
    """The last lines of a pytest section, plus every "E   " line before them."""
    while body and not body[-1].strip():
        body = body[:-1]
    tail_start = max(0, len(body) - SECTION_TAIL_LINES)
    kept: list[str] = []
    skipped = False
    for index, line in enumerate(body):
        if index >= tail_start or line.startswith("E "):
            if skipped:
                kept.append("...")
                skipped = False
            kept.append(line)
        else:
            skipped = True
    return "\n".join(kept).strip("\n")


# --------------------------------------------------------------------------- Jest

JEST_TESTS_LINE = re.compile(r"^Tests:\s+(?P<body>.*?)(?P<total>\d+) total\s*$", re.MULTILINE)
JEST_BULLET = re.compile(r"^\s*● (?P<name>.+?)\s*$")
JEST_FILE_LINE = re.compile(r"^\s*(?:FAIL|PASS)\s+(?P<file>\S+)")
JEST_SUITE_FAILED = "Test suite failed to run"


def parse_jest(text: str) -> RunnerCounts | None:
    lines_found = list(JEST_TESTS_LINE.finditer(text))
    if not lines_found:
        return None
    counts = count_items(lines_found[-1]["body"])
    failures = jest_failures(text)
    return RunnerCounts(
        framework="jest",
        passed=counts.get("passed", 0),
        failed=counts.get("failed", 0),
        skipped=counts.get("skipped", 0) + counts.get("todo", 0) + counts.get("pending", 0),
        errors=sum(1 for item in failures if item["name"].endswith(JEST_SUITE_FAILED)),
        total=int(lines_found[-1]["total"]),
        failures=failures,
    )


def jest_failures(text: str) -> list[dict]:
    lines = text.split("\n")
    failures: dict[str, dict] = {}
    current_file = ""
    for index, line in enumerate(lines):
        file_line = JEST_FILE_LINE.match(line)
        if file_line:
            current_file = file_line["file"]
        bullet = JEST_BULLET.match(line)
        if not bullet or bullet["name"].startswith("Console"):
            continue
        name = bullet["name"]
        if name == JEST_SUITE_FAILED:
            name = f"{current_file} › {JEST_SUITE_FAILED}" if current_file else name
        body = jest_block(lines, index + 1)
        failures.setdefault(name, failure(name, jest_message(body), head_lines(body)))
    return list(failures.values())


def jest_block(lines: list[str], start: int) -> list[str]:
    body = []
    for line in lines[start:]:
        if JEST_BULLET.match(line) or JEST_FILE_LINE.match(line) or line.startswith(
                ("Test Suites:", "Summary of all failing tests")):
            break
        body.append(line)
    return body


def jest_message(body: list[str]) -> str:
    message = [first_text_line(body)]
    message += [line.strip() for line in body if line.strip().startswith(("Expected", "Received"))]
    return "\n".join(part for part in message if part)


# --------------------------------------------------------------------------- Vitest

VITEST_TESTS_LINE = re.compile(r"^\s*Tests\s{2,}(?P<body>.+?)\s*$", re.MULTILINE)
VITEST_FAILED_SUITES = re.compile(r"Failed Suites (\d+)")
VITEST_ERRORS_LINE = re.compile(r"^\s*Errors\s{2,}(\d+) errors?", re.MULTILINE)
VITEST_FAIL_LINE = re.compile(r"^\s*FAIL\s+(?P<name>.+?)\s*$")
VITEST_SEPARATOR = "⎯⎯⎯"


def parse_vitest(text: str) -> RunnerCounts | None:
    found = [match for match in VITEST_TESTS_LINE.finditer(text)
             if re.search(r"\(\d+\)$|no tests", match["body"])]
    if not found:
        return None
    body = found[-1]["body"]
    counts = count_items(body)
    total = re.search(r"\((\d+)\)$", body)
    errors = sum(int(n) for n in VITEST_FAILED_SUITES.findall(text))
    errors += sum(int(n) for n in VITEST_ERRORS_LINE.findall(text))
    return RunnerCounts(
        framework="vitest",
        passed=counts.get("passed", 0),
        failed=counts.get("failed", 0),
        skipped=counts.get("skipped", 0) + counts.get("todo", 0),
        errors=errors,
        total=int(total.group(1)) if total else 0,
        failures=vitest_failures(text),
    )


def vitest_failures(text: str) -> list[dict]:
    lines = text.split("\n")
    failures: dict[str, dict] = {}
    for index, line in enumerate(lines):
        match = VITEST_FAIL_LINE.match(line)
        if not match:
            continue
        name = re.sub(r"\s*\[.*\]$", "", match["name"])
        body = []
        for following in lines[index + 1:]:
            if VITEST_SEPARATOR in following or VITEST_FAIL_LINE.match(following):
                break
            body.append(following)
        failures.setdefault(name, failure(name, short_message(body), head_lines(body)))
    return list(failures.values())


# --------------------------------------------------------------------------- node --test

NODE_SUMMARY = re.compile(r"^(?:#|ℹ) (tests|pass|fail|cancelled|skipped|todo) (\d+)\s*$",
                          re.MULTILINE)
TAP_NOT_OK = re.compile(r"^(?P<indent>\s*)not ok \d+ - (?P<name>.+?)(?: # .*)?$")
SPEC_FAILED = re.compile(r"^(?P<indent>\s*)✖ (?P<name>.+?) \([\d.]+m?s\)(?: # .*)?$")


def parse_node(text: str) -> RunnerCounts | None:
    counts = {key: int(value) for key, value in NODE_SUMMARY.findall(text)}
    if "pass" not in counts or "fail" not in counts:
        return None
    failures = node_tap_failures(text) if "\nTAP version" in "\n" + text else node_spec_failures(text)
    return RunnerCounts(
        framework="node",
        passed=counts["pass"],
        failed=counts["fail"],
        errors=counts.get("cancelled", 0),
        skipped=counts.get("skipped", 0) + counts.get("todo", 0),
        total=counts.get("tests"),
        failures=failures,
    )


def node_tap_failures(text: str) -> list[dict]:
    lines = text.split("\n")
    failures = []
    for index, line in enumerate(lines):
        match = TAP_NOT_OK.match(line)
        if not match:
            continue
        yaml = tap_yaml_block(lines, index + 1)
        if "failureType: 'subtestsFailed'" in "\n".join(yaml):
            continue  # a suite that failed only because a test inside it did
        message = tap_error(yaml)
        location = next((line.strip() for line in yaml if line.strip().startswith("location:")), "")
        if location:
            message = f"{message}\n{location}"
        failures.append(failure(match["name"], short_message(message.split("\n")), message))
    return failures


def tap_yaml_block(lines: list[str], start: int) -> list[str]:
    if start >= len(lines) or lines[start].strip() != "---":
        return []
    block = []
    for line in lines[start + 1:]:
        if line.strip() == "...":
            break
        block.append(line)
    return block


def tap_error(yaml: list[str]) -> str:
    for index, line in enumerate(yaml):
        key = re.match(r"^(\s*)error: ?(.*)$", line)
        if not key:
            continue
        value = key.group(2)
        if value not in ("|-", "|", ">-", ">"):
            return value.strip("'\"")
        indent = len(key.group(1))
        block = []
        for following in yaml[index + 1:]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            block.append(following)
        return head_lines(block)
    return ""


def node_spec_failures(text: str) -> list[dict]:
    lines = text.split("\n")
    marker = next((index for index, line in enumerate(lines) if line.strip() == "✖ failing tests:"), None)
    start = marker + 1 if marker is not None else 0
    failures: dict[str, dict] = {}
    for index in range(start, len(lines)):
        match = SPEC_FAILED.match(lines[index])
        if not match:
            continue
        body = spec_error_block(lines, index + 1, indent=len(match["indent"]))
        if not body:
            continue  # a parent suite: its failing tests are listed on their own
        failures.setdefault(match["name"], failure(match["name"], short_message(body), head_lines(body)))
    return list(failures.values())


def spec_error_block(lines: list[str], start: int, *, indent: int) -> list[str]:
    body = []
    for line in lines[start:]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        body.append(line)
    return body if first_text_line(body) else []


# --------------------------------------------------------------------------- Mocha

MOCHA_COUNT = re.compile(r"^\s*(\d+) (passing|failing|pending)\b", re.MULTILINE)
MOCHA_NUMBERED = re.compile(r"^\s+(\d+)\) (.+)$")
MOCHA_MAX_TITLE_LINES = 8


def parse_mocha(text: str) -> RunnerCounts | None:
    counts = {word: int(number) for number, word in MOCHA_COUNT.findall(text)}
    if "passing" not in counts:
        return None
    return RunnerCounts(
        framework="mocha",
        passed=counts["passing"],
        failed=counts.get("failing", 0),
        skipped=counts.get("pending", 0),
        failures=mocha_failures(text),
    )


def mocha_failures(text: str) -> list[dict]:
    lines = text.split("\n")
    start = next((index for index, line in enumerate(lines)
                  if re.match(r"^\s*\d+ failing\b", line)), None)
    if start is None:
        return []
    failures = []
    index = start + 1
    while index < len(lines):
        numbered = MOCHA_NUMBERED.match(lines[index])
        if not numbered:
            index += 1
            continue
        name_parts, index = mocha_title(lines, index)
        body, index = mocha_body(lines, index)
        failures.append(failure(" ".join(name_parts), short_message(body), head_lines(body)))
    return failures


def mocha_title(lines: list[str], index: int) -> tuple[list[str], int]:
    """The title lines of a numbered failure: "1) Suite", "   nested", "     test name:"."""
    parts = [MOCHA_NUMBERED.match(lines[index]).group(2).strip()]
    while (not parts[-1].endswith(":") and len(parts) < MOCHA_MAX_TITLE_LINES
           and index + 1 < len(lines) and lines[index + 1].strip()):
        index += 1
        parts.append(lines[index].strip())
    parts[-1] = parts[-1].removesuffix(":")
    return parts, index + 1


def mocha_body(lines: list[str], index: int) -> tuple[list[str], int]:
    body = []
    while index < len(lines) and not MOCHA_NUMBERED.match(lines[index]):
        body.append(lines[index])
        index += 1
    return body, index


# --------------------------------------------------------------------------- plain

PLAIN_LINE = re.compile(
    r"^\s*(?:[A-Za-z]+:\s*)?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\s*$", re.MULTILINE
)


def parse_plain(text: str) -> RunnerCounts | None:
    found = list(PLAIN_LINE.finditer(text))
    if not found:
        return None
    passed, failed, skipped = found[-1].groups()
    return RunnerCounts(framework="plain", passed=int(passed), failed=int(failed),
                        skipped=int(skipped or 0))


RUNNER_PARSERS = (parse_pytest, parse_jest, parse_vitest, parse_node, parse_mocha)


# --------------------------------------------------------------------------- summary for the model


def summarize_failures(result: dict, *, max_chars: int = 3000, header: str = "") -> str:
    header = header or summary_header(result)
    if result.get("success"):
        return header[:max_chars]
    failures = result.get("failures") or []
    if not failures:
        tail_budget = max(0, max_chars - len(header) - 1)
        tail = (result.get("output_tail") or "").strip()
        if not tail or not tail_budget:
            return header[:max_chars]
        return f"{header}\n{tail[-tail_budget:]}"
    shown = failures[:SUMMARY_MAX_DETAILED_FAILURES]
    footer = hidden_failures_note(failures[SUMMARY_MAX_DETAILED_FAILURES:])
    budget = max(0, max_chars - len(header) - len(footer) - 2 * len(shown) - 1)
    blocks = []
    for position, item in enumerate(shown):
        share = max(0, budget // (len(shown) - position))
        block = fit_block(failure_lines(item), share,
                          keep_last=result.get("framework") == "pytest")
        blocks.append(block)
        budget -= len(block)
    text = "\n\n".join([header, *blocks]) + (f"\n{footer}" if footer else "")
    return text[:max_chars]


def summary_header(result: dict) -> str:
    counts = (f"{result.get('failed', 0)} failed, {result.get('errors', 0)} errors, "
              f"{result.get('passed', 0)} passed, {result.get('skipped', 0)} skipped")
    if result.get("success"):
        return f"All tests passed ({counts}) with `{result.get('command', '')}`."
    lines = [f"Tests failed: {counts} ({result.get('framework', 'unknown')}, "
             f"exit code {result.get('exit_code')}) with `{result.get('command', '')}`."]
    if result.get("timed_out"):
        lines.append(f"The test command timed out after {result.get('duration_s', 0):.0f}s; "
                     "its output may be incomplete.")
    return "\n".join(lines)


def failure_lines(item: dict) -> list[tuple[str, bool]]:
    """(line, must_keep) pairs: the name, the message and "E   " lines are always kept."""
    lines = [(f"## {item.get('name', '')}", True)]
    message = item.get("message", "")
    details = item.get("details", "")
    if message and " ".join(message.split()) not in " ".join(details.split()):
        lines += [(line, True) for line in message.split("\n")]
    lines += [(line, line.startswith("E ")) for line in details.split("\n") if details]
    return lines


def fit_block(lines: list[tuple[str, bool]], limit: int, *, keep_last: bool) -> str:
    """Keep every must-keep line, then as many other lines as fit: the last ones for Python
    tracebacks (innermost frames), the first ones for JavaScript (the test's own frames)."""
    used = sum(len(line) + 1 for line, keep in lines if keep)
    chosen = {index for index, (_, keep) in enumerate(lines) if keep}
    order = range(len(lines) - 1, -1, -1) if keep_last else range(len(lines))
    for index in order:
        if index in chosen:
            continue
        cost = len(lines[index][0]) + 1
        if used + cost + 4 > limit:
            break
        chosen.add(index)
        used += cost
    kept: list[str] = []
    for index, (line, _) in enumerate(lines):
        if index in chosen:
            kept.append(line)
        elif not kept or kept[-1] != "...":
            kept.append("...")
    return "\n".join(kept)[:max(limit, 0)]


def hidden_failures_note(hidden: list[dict]) -> str:
    if not hidden:
        return ""
    names = ", ".join(item.get("name", "") for item in hidden[:20])
    more = f" and {len(hidden) - 20} more" if len(hidden) > 20 else ""
    return f"Also failing: {names}{more}."
