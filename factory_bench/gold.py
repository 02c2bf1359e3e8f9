"""`--model gold`: an answer that is the commit's real change, written as the agent's applier reads it.

New files are whole-file blocks; changed files are SEARCH/REPLACE blocks (each widened with context until its
SEARCH text occurs once), which the agent applies to any file, windowed big ones included. Every answer is
checked against the applier itself before use: a file whose blocks do not reproduce the commit falls back to one
whole-file block, and what still cannot be written (a deleted file) is said in the notes.
"""
import difflib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agent.core.edits import apply_edits
from agent.core.model import Model, ScriptedModel

GOLD = "gold"
NEARBY_LINES = 3  # changes closer than this share one block
BACKTICKS = re.compile(r"`{3,}")


@dataclass(frozen=True)
class GoldAnswer:
    text: str
    notes: tuple[str, ...]  # what the answer cannot do (delete a file) or how it had to be written


def fence_for(text: str) -> str:
    """A fence longer than any run of backticks in the text, so a markdown file's own fences stay inside."""
    longest = max((len(match) for match in BACKTICKS.findall(text)), default=2)
    return "`" * max(3, longest + 1)


def ensure_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def whole_block(path: str, content: str) -> str:
    fence = fence_for(content)
    return f"{path}\n{fence}\n{ensure_newline(content)}{fence}\n"


def replace_block(path: str, pairs: list[tuple[str, str]]) -> str:
    fence = fence_for("".join(search + replace for search, replace in pairs))
    body = "".join(f"<<<<<<< SEARCH\n{ensure_newline(search)}=======\n{ensure_newline(replace)}>>>>>>> REPLACE\n"
                   for search, replace in pairs)
    return f"{path}\n{fence}\n{body}{fence}\n"


def hunks(old: list[str], new: list[str]) -> list[tuple[int, int, int, int]]:
    """Changed regions as (old start, old end, new start, new end), nearby ones joined."""
    regions: list[tuple[int, int, int, int]] = []
    opcodes = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            continue
        if regions and i1 - regions[-1][1] <= NEARBY_LINES:
            start_old, _, start_new, _ = regions[-1]
            regions[-1] = (start_old, i2, start_new, j2)
        else:
            regions.append((i1, i2, j1, j2))
    return regions


def replacements(before: str, after: str) -> list[tuple[str, str]] | None:
    """SEARCH/REPLACE pairs turning `before` into `after`, each SEARCH unique in `before` and clear of the
    others; None when some change cannot be given a unique, non-blank SEARCH."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    pairs: list[tuple[str, str]] = []
    floor = 0  # old lines before this belong to the previous block
    regions = hunks(old, new)
    for index, (i1, i2, j1, j2) in enumerate(regions):
        ceiling = regions[index + 1][0] if index + 1 < len(regions) else len(old)
        span = widen(old, start=i1, end=i2, floor=floor, ceiling=ceiling, text=before)
        if span is None:
            return None
        start, end = span
        pairs.append(("".join(old[start:end]), "".join([*old[start:i1], *new[j1:j2], *old[i2:end]])))
        floor = end
    return pairs


def widen(lines: list[str], *, start: int, end: int, floor: int, ceiling: int, text: str) -> tuple[int, int] | None:
    """Add context lines around [start, end) (never past floor and ceiling) until the block occurs once."""
    grow_before = True
    while True:
        search = "".join(lines[start:end])
        if search.strip() and text.count(search) == 1:
            return start, end
        if start <= floor and end >= ceiling:
            return None
        if (grow_before and start > floor) or end >= ceiling:
            start -= 1
        else:
            end += 1
        grow_before = not grow_before


def file_answer(path: str, before: str | None, after: str) -> str:
    if before is None or not before.strip():
        return whole_block(path, after)
    pairs = replacements(before, after)
    return replace_block(path, pairs) if pairs else whole_block(path, after)


def reproduces(path: str, before: str | None, after: str, answer: str) -> bool:
    """Does the agent's own applier turn `before` into `after` with this answer?"""
    with tempfile.TemporaryDirectory(prefix="factory-gold-") as directory:
        root = Path(directory)
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if before is not None:
            target.write_bytes(before.encode("utf-8"))
        result = apply_edits(root=root, answer=answer, files_to_modify=[path])
        return result.ok and target.is_file() and same_text(target.read_text(encoding="utf-8"), after)


def same_text(left: str, right: str) -> bool:
    return left.replace("\r\n", "\n").rstrip("\n") == right.replace("\r\n", "\n").rstrip("\n")


def gold_answer(code: dict[str, tuple[str | None, str | None]]) -> GoldAnswer:
    """The commit's change to its non-test files as one answer."""
    blocks, notes = [], []
    for path, (before, after) in sorted(code.items()):
        if after is None:
            notes.append(f"{path}: deleted by the commit; an answer cannot delete a file, so it stays")
            continue
        answer = file_answer(path, before, after)
        if not reproduces(path, before, after, answer):
            answer = whole_block(path, after)
            notes.append(f"{path}: written whole (its SEARCH/REPLACE blocks did not reproduce the commit)")
        blocks.append(answer)
    return GoldAnswer(text="\n".join(blocks), notes=tuple(notes))


def gold_model(answer: GoldAnswer) -> Model:
    """The same answer to every prompt: a commit has one real change."""
    return ScriptedModel(lambda system, user: answer.text, name=GOLD)
