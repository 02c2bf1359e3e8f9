"""Console parsers for the JavaScript runners: Jest, Vitest, Node's test runner (TAP and spec), Mocha."""

from __future__ import annotations

import re

from agent.testruns.parsing_base import (
    RunnerCounts,
    count_items,
    failure,
    first_text_line,
    head_lines,
    short_message,
)
from lib.testschema import Failure

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


def jest_failures(text: str) -> list[Failure]:
    lines = text.split("\n")
    failures: dict[str, Failure] = {}
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


def vitest_failures(text: str) -> list[Failure]:
    lines = text.split("\n")
    failures: dict[str, Failure] = {}
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


def node_tap_failures(text: str) -> list[Failure]:
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


def node_spec_failures(text: str) -> list[Failure]:
    lines = text.split("\n")
    marker = next((index for index, line in enumerate(lines) if line.strip() == "✖ failing tests:"), None)
    start = marker + 1 if marker is not None else 0
    failures: dict[str, Failure] = {}
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


def mocha_failures(text: str) -> list[Failure]:
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
    numbered = MOCHA_NUMBERED.match(lines[index])
    if numbered is None:  # callers only pass the index of a numbered line
        return [], index
    parts = [numbered.group(2).strip()]
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
