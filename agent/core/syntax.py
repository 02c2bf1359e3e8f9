"""Cheap checks of the files an edit touched, run before the (slow) test suite: syntax (Python,
JavaScript through `node --check`, JSON), then for Python files that compile the static checks of
agent/core/lint.py (undefined names, names imported from the repository that do not exist)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path, PurePosixPath

from agent.core.edits import EditFailure
from agent.core.lint import lint_python

PYTHON_SUFFIXES = frozenset({".py", ".pyi"})
JAVASCRIPT_MODES = {".js": "auto", ".mjs": "module", ".cjs": "commonjs"}
NODE_TIMEOUT_S = 30
# Files named .json that their tools read as JSON-with-comments.
JSONC_NAME = re.compile(r"^(?:tsconfig.*|jsconfig.*|\.eslintrc|devcontainer|\.babelrc)\.json$")
JSONC_DIRS = frozenset({".vscode", ".devcontainer"})
ESM_ONLY_SYNTAX = re.compile(
    r"import statement|token 'export'|import\.meta|outside a module|await is only valid"
)


def check_syntax(*, root: Path, paths: list[str]) -> list[EditFailure]:
    root = Path(root).resolve()
    failures = []
    compiled_python = []
    for relative in paths:
        target = (root / relative).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            continue  # deleted, or not ours to check
        problem = check_file(target=target, relative=relative)
        if problem:
            failures.append(EditFailure(path=relative, reason=problem))
        elif target.suffix.lower() in PYTHON_SUFFIXES:
            compiled_python.append(relative)
    return failures + lint_python(root=root, paths=compiled_python)


def check_file(*, target: Path, relative: str) -> str | None:
    suffix = target.suffix.lower()
    if suffix in PYTHON_SUFFIXES:
        return python_error(target=target, relative=relative)
    if suffix in JAVASCRIPT_MODES:
        return javascript_error(target=target, relative=relative, mode=JAVASCRIPT_MODES[suffix])
    if suffix == ".json" and not is_json_with_comments(relative):
        return json_error(target=target, relative=relative)
    return None


def python_error(*, target: Path, relative: str) -> str | None:
    source = target.read_bytes()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings are not failures
            compile(source, relative, "exec", dont_inherit=True)
    except SyntaxError as error:
        return with_code_line(f"{relative}:{error.lineno}: {error.msg}", error.text)
    except ValueError as error:  # e.g. null bytes in the source
        return f"{relative}:1: {error}"
    return None


def json_error(*, target: Path, relative: str) -> str | None:
    try:
        json.loads(target.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        return f"{relative}:1: not valid UTF-8 text"
    except json.JSONDecodeError as error:
        return f"{relative}:{error.lineno}: {error.msg} (column {error.colno})"
    return None


def is_json_with_comments(relative: str) -> bool:
    path = PurePosixPath(relative.replace("\\", "/"))
    return bool(JSONC_NAME.match(path.name)) or any(part in JSONC_DIRS for part in path.parts)


def javascript_error(*, target: Path, relative: str, mode: str) -> str | None:
    node = shutil.which("node")
    if node is None:
        return None
    source = target.read_bytes()
    if mode != "auto":
        return node_check(node=node, source=source, input_type=mode, relative=relative)
    # A .js file may be CommonJS or an ES module (package.json "type", bundlers): either passes.
    as_commonjs = node_check(node=node, source=source, input_type="commonjs", relative=relative)
    if as_commonjs is None or not ESM_ONLY_SYNTAX.search(as_commonjs):
        return as_commonjs
    return node_check(node=node, source=source, input_type="module", relative=relative)


def node_check(*, node: str, source: bytes, input_type: str, relative: str) -> str | None:
    # Through stdin with an explicit --input-type: `node --check file.js` silently accepts
    # broken ES modules when it auto-detects the module type (seen on Node 20).
    try:
        completed = subprocess.run(
            [node, "--check", f"--input-type={input_type}"], input=source,
            capture_output=True, timeout=NODE_TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None  # the check is only a shortcut; the tests will still run
    if completed.returncode == 0:
        return None
    return node_message(completed.stderr.decode("utf-8", "replace"), relative)


def node_message(stderr: str, relative: str) -> str:
    lines = stderr.splitlines()
    location = re.match(r"^\[stdin\]:(\d+)", lines[0]) if lines else None
    line_number = location.group(1) if location else "1"
    message = next((line.strip() for line in lines if re.match(r"^\w*Error\b", line)),
                   stderr.strip() or "node --check failed")
    code = lines[1] if location and len(lines) > 1 else None
    return with_code_line(f"{relative}:{line_number}: {message}", code)


def with_code_line(message: str, code: str | None) -> str:
    if code and code.strip():
        return f"{message}\n    {code.strip()}"
    return message
