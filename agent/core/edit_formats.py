"""The two answer formats (whole files, SEARCH/REPLACE blocks): which one a ticket gets, and how it is taught."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import PurePosixPath
from typing import Literal

from agent.core.edit_parsing import parse_edits

EditFormat = Literal["whole", "diff"]

AUTO_WHOLE_MAX_LINES = 400


def choose_format(*, setting: str, line_counts: list[int]) -> EditFormat:
    normalized = setting.strip().lower()
    if normalized in ("whole", "diff"):
        return normalized  # type: ignore[return-value]
    if normalized != "auto":
        raise ValueError(f"Unknown edit format setting {setting!r}: use 'whole', 'diff' or 'auto'.")
    if all(count < AUTO_WHOLE_MAX_LINES for count in line_counts):
        return "whole"
    return "diff"


def format_label(*, setting: str, formats: Collection[str]) -> str:
    """An attempt's edit format as shown: "diff", "whole+diff", with " (auto)" when the setting let the agent choose.

    `formats` is the one asked for until the answer is in, then the ones the answer used (a model asked for
    whole files may answer with SEARCH/REPLACE blocks, which are applied too).
    """
    shown = "+".join(formats)
    return f"{shown} (auto)" if setting.strip().lower() == "auto" else shown


WHOLE_INSTRUCTIONS = """\
Answer with the complete new content of every file you change or create.
For each file write its path, relative to the repository root, alone on one line, then a fenced
code block holding the WHOLE file: every line, not only the changed ones. Never write "...",
"rest of the file unchanged" or similar placeholders. Put nothing else inside the fence and do
not repeat files you do not change.

Example:

app/greeting.py
```python
def greet(name: str) -> str:
    return f"Hello, {name}!"
```
"""

DIFF_INSTRUCTIONS = """\
Answer with SEARCH/REPLACE blocks. For each change write the file path, relative to the
repository root, alone on one line, then a fenced block like this:

app/greeting.py
```python
<<<<<<< SEARCH
def greet(name):
    return "Hello " + name
=======
def greet(name: str) -> str:
    return f"Hello, {name}!"
>>>>>>> REPLACE
```

Rules:
- The SEARCH lines must be copied exactly from the current file (same indentation, comments and
  blank lines) and must match one place only: add a few surrounding lines if needed.
- Keep each block small; several blocks for the same file may follow each other in one fence.
- To create a new file, leave the SEARCH section empty and put the whole content in REPLACE.
- To delete lines, leave the REPLACE section empty.
"""


def format_instructions(edit_format: EditFormat) -> str:
    if edit_format == "whole":
        return WHOLE_INSTRUCTIONS
    if edit_format == "diff":
        return DIFF_INSTRUCTIONS
    raise ValueError(f"Unknown edit format {edit_format!r}: use 'whole' or 'diff'.")




def whole_file_refusals(answer: str, *, windowed: Collection[str]) -> list[tuple[str, str]]:
    """(path, reason) for each whole-file block of `answer` on a file the prompt showed only in windows:
    the model never saw the rest of it, so its "whole file" would delete what it did not see."""
    if not windowed:
        return []
    shown = {str(PurePosixPath(path)) for path in windowed}
    refused: dict[str, str] = {}
    for block in parse_edits(answer, known_paths=windowed):
        path = str(PurePosixPath(block.path.strip().removeprefix("./")))
        if block.kind == "whole" and path in shown:
            refused[path] = (f"{path} was shown only as an outline and windows of its lines (it is too big for the "
                             "context), so a whole-file answer would drop the lines you did not see; nothing was "
                             "applied. Answer with SEARCH/REPLACE blocks whose SEARCH is copied from a window.")
    return list(refused.items())
