"""What every console parser shares: counts, failure records and a few text helpers (agent.testruns.parsing)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypeVar, cast

from lib.testschema import Failure

Shaped = TypeVar("Shaped")

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
    failures: list[Failure] = field(default_factory=list)

    @property
    def counted_total(self) -> int:
        if self.total is not None:
            return self.total
        return self.passed + self.failed + self.errors + self.skipped


def clean_output(output: str) -> str:
    return ANSI_ESCAPE.sub("", output).replace("\r\n", "\n").replace("\r", "\n")


def failure(name: str, message: str, details: str = "") -> Failure:
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


def safe_text(data: bytes | str) -> str:
    """Any bytes as text PostgreSQL and the pages take: invalid UTF-8 and lone surrogates replaced, NUL as \\x00."""
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    return data.decode("utf-8", "replace").replace("\x00", "\\x00")


def safe_strings(value: Shaped) -> Shaped:
    """`value` (a result: dicts, lists, strings) with every string, keys included, made safe_text; the same shape
    (a tuple comes back as a list, as JSON would have it)."""
    return cast(Shaped, _safe(value))


def _safe(value: object) -> object:
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {_safe(key): _safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_safe(item) for item in value]
    return value
