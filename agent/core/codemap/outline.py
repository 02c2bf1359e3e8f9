"""The definitions of one file with their line spans: the outline a file too big for the model's
context is sent as (agent.core.windows), and where a name the ticket mentions is defined.

Python is read with `ast`; any other file (or Python that does not parse) by a line pattern that
knows `def`, `class`, `function` and `const x = (...) =>`. Never fails: a file with no definitions
has an empty outline.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from agent.core.codemap.python import class_signature, function_signature
from agent.core.codemap.repo import one_line

MAX_SIGNATURE_CHARS = 160
DEFINITION_LINE = re.compile(
    r"^(?P<indent>\s*)(?:export\s+(?:default\s+)?)?(?:async\s+)?"
    r"(?:(?P<kind>def|class|function\*?)\s+(?P<name>[A-Za-z_$][\w$]*)"
    r"|(?:const|let|var)\s+(?P<binding>[A-Za-z_$][\w$]*)\s*=\s*(?:async\s+)?(?:function\b|\([^)]*\)\s*=>|\w+\s*=>))"
)


@dataclass(frozen=True)
class Definition:
    name: str
    line: int  # 1-based, the definition's first line (decorators excluded)
    end: int  # its last line
    depth: int  # 0 at module level, 1 for a class's members, ...
    signature: str


@lru_cache(maxsize=16)  # each attempt's prompt may try several levels on the same big file
def definitions(path: str, text: str) -> tuple[Definition, ...]:
    """Every function and class of `text`, nested ones included, in line order."""
    if path.endswith((".py", ".pyi")):
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            tree = None
        if tree is not None:
            return tuple(sorted(python_definitions(tree.body, depth=0), key=lambda item: item.line))
    return tuple(pattern_definitions(text))


def python_definitions(body: list[ast.stmt], *, depth: int) -> list[Definition]:
    found: list[Definition] = []
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            signature = function_signature(node)
        elif isinstance(node, ast.ClassDef):
            signature = class_signature(node).split("\n", 1)[0]
            found += python_definitions(node.body, depth=depth + 1)
        else:
            continue
        found.append(Definition(name=node.name, line=node.lineno, end=node.end_lineno or node.lineno,
                                depth=depth, signature=one_line(signature, limit=MAX_SIGNATURE_CHARS)))
    return found


def pattern_definitions(text: str) -> list[Definition]:
    """Definitions found line by line; each ends where the next one at its indent or less starts."""
    lines = text.split("\n")
    starts: list[tuple[int, int, str, str]] = []  # (line, indent, name, signature)
    for number, line in enumerate(lines, start=1):
        match = DEFINITION_LINE.match(line)
        if match:
            name = match["name"] or match["binding"]
            starts.append((number, len(match["indent"].expandtabs()), name,
                           one_line(line.strip(), limit=MAX_SIGNATURE_CHARS)))
    indents = sorted({indent for _, indent, _, _ in starts})
    found = []
    for position, (number, indent, name, signature) in enumerate(starts):
        end = next((later - 1 for later, other, _, _ in starts[position + 1:] if other <= indent), len(lines))
        found.append(Definition(name=name, line=number, end=max(end, number), depth=indents.index(indent),
                                signature=signature))
    return found


def render_outline(found: Sequence[Definition], *, detail: str) -> str:
    """One line per definition: "full" with signatures, "names" with names only, "top" module level only."""
    rows = []
    for item in found:
        if detail == "top" and item.depth:
            continue
        shown = item.signature if detail == "full" else item.name
        rows.append(f"{item.line}: {'    ' * item.depth}{shown}")
    return "\n".join(rows)
