"""Turn a test command's output into counts and failures, and trim it for a model's retry.

Recognized: pytest, Jest, Vitest, Node's test runner (TAP and spec reporters), Mocha and a
plain "N passed, N failed" line. Output from several runners (e.g. `pytest && npm test`) is
added up; anything unrecognized falls back to the exit code.
"""

from __future__ import annotations

import re

from agent.testruns.parsing_base import (
    OUTPUT_TAIL_CHARS,
    SECTION_TAIL_LINES,
    SUMMARY_MAX_DETAILED_FAILURES,
    RunnerCounts,
    clean_output,
    failure,
)
from agent.testruns.parsing_js import parse_jest, parse_mocha, parse_node, parse_vitest
from lib.testschema import Failure, SuiteResult


def parse_test_output(*, output: str, exit_code: int, command: str, duration_s: float,
                      timed_out: bool = False) -> SuiteResult:
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


# --------------------------------------------------------------------------- pytest

PYTEST_SUMMARY = re.compile(
    r"^=*\s*(?P<body>\d+ [a-z]+(?: [a-z]+)*(?:, \d+ [a-z]+(?: [a-z]+)*)*|no tests ran)"
    r" in [\d.]+s(?: \([\d:.]+\))?\s*=*\s*$",
    re.MULTILINE,
)
PYTEST_LABEL = re.compile(r"(\d+) ([a-z]+(?: [a-z]+)*)")
# Outcome words a summary's labels end with; other labels (a plugin's own) are read past.
PYTEST_WORDS = {"failed", "passed", "skipped", "deselected", "xfailed", "xpassed", "warning",
                "warnings", "error", "errors", "rerun", "reruns"}
PYTEST_RESULT_LINE = re.compile(
    r"^(?P<kind>FAILED|ERROR|SUBFAILED) (?P<name>.+?)(?: - (?P<message>.*))?$", re.MULTILINE)
PYTEST_BLOCK_HEADER = re.compile(r"^=+ (?P<title>.+?) =+$")
PYTEST_SECTION_HEADER = re.compile(r"^_{3,} (?P<title>.+?) _{3,}$")


def pytest_labels(body: str) -> dict[str, int]:
    """{"passed": 5, "failed": 2} from a summary's labels, "4 subtests passed" counted as its
    last word: pytest 9 counts a failed subtest in "failed", so a passed one belongs in "passed"."""
    counts: dict[str, int] = {}
    for number, label in PYTEST_LABEL.findall(body):
        word = label.split()[-1]
        counts[word] = counts.get(word, 0) + int(number)
    return counts


def is_pytest_summary(body: str) -> bool:
    return body == "no tests ran" or bool(set(pytest_labels(body)) & PYTEST_WORDS)


def parse_pytest(text: str) -> RunnerCounts | None:
    summaries = [match for match in PYTEST_SUMMARY.finditer(text) if is_pytest_summary(match["body"])]
    if not summaries:
        return None
    counts = pytest_labels(summaries[-1]["body"])
    run = RunnerCounts(
        framework="pytest",
        passed=counts.get("passed", 0) + counts.get("xpassed", 0),
        failed=counts.get("failed", 0),
        errors=counts.get("error", 0) + counts.get("errors", 0),
        skipped=counts.get("skipped", 0) + counts.get("xfailed", 0),
    )
    run.failures = pytest_failures(text)
    return run


def pytest_failures(text: str) -> list[Failure]:
    sections = pytest_sections(text)
    results = list(PYTEST_RESULT_LINE.finditer(text))
    if not results:
        return [failure(title, first_error_line(body), trim_section(body))
                for title, body in sections]
    failures = []
    for result in results:
        name = result["name"]
        if result["kind"] == "SUBFAILED":
            name, body = pop_subtest_section(sections, name)
        else:
            body = pop_matching_section(sections, name, kind=result["kind"])
        message = result["message"] or first_error_line(body)
        failures.append(failure(name, message, trim_section(body)))
    return failures


def pop_subtest_section(sections: list[tuple[str, list[str]]], node_id: str) -> tuple[str, list[str]]:
    """The first section of a subtest of `node_id` ("test_x [msg] (i=1)"), and the node id named
    with the subtest's part of the title: pytest's SUBFAILED lines all carry the bare test id."""
    test = node_id.partition("::")[2]
    names = {test.replace("::", "."), test.split("::")[-1]} if test else set()
    for index, (title, _) in enumerate(sections):
        name = next((name for name in names if title.startswith((f"{name} [", f"{name} ("))), None)
        if name:
            return f"{node_id}{title[len(name):]}", sections.pop(index)[1]
    return node_id, []


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


def summarize_failures(result: SuiteResult, *, max_chars: int = 3000, header: str = "") -> str:
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


def summary_header(result: SuiteResult) -> str:
    counts = (f"{result.get('failed', 0)} failed, {result.get('errors', 0)} errors, "
              f"{result.get('passed', 0)} passed, {result.get('skipped', 0)} skipped")
    if result.get("success"):
        return f"All tests passed ({counts}) with `{result.get('command', '')}`."
    lines = [f"Tests failed: {counts} ({result.get('framework', 'unknown')}, "
             f"exit code {result.get('exit_code')}) with `{result.get('command', '')}`."]
    if result.get("timed_out"):
        lines.append(f"The test command timed out after {result.get('duration_s', 0):.0f}s; "
                     "its output may be incomplete.")
    lines += [f"Over a limit: {limit}." for limit in result.get("limits") or ()]
    return "\n".join(lines)


def failure_lines(item: Failure) -> list[tuple[str, bool]]:
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


def hidden_failures_note(hidden: list[Failure]) -> str:
    if not hidden:
        return ""
    names = ", ".join(item.get("name", "") for item in hidden[:20])
    more = f" and {len(hidden) - 20} more" if len(hidden) > 20 else ""
    return f"Also failing: {names}{more}."
