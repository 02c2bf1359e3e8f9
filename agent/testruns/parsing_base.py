"""What every console parser shares: counts, failure records and a few text helpers (agent.testruns.parsing)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lib.testschema import Failure

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

