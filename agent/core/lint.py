"""Static checks of the Python files an edit touched, once they compile and before the tests run:
names used but never defined (ruff's pyflakes rules) and names imported from the repository's own
modules that those modules do not define. Each finding is file:line:col, rule, message.

Only what the edit introduced counts: a finding the file already had at HEAD is not the model's
doing and must not fail every attempt. Nothing here runs the project's code, so it runs outside
the sandbox; the project's ruff settings are read as plain data and only a few harmless ones
(extra builtins, target version, ignored rules) are passed on, never the files themselves.
"""
from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.core.codemap.python import missing_imported_names
from agent.core.codemap.repo import RepoFiles
from agent.core.edits import EditFailure

try:
    from ruff.__main__ import find_ruff_bin  # the factory's own ruff, pinned in requirements.txt
except ImportError:
    find_ruff_bin = None

log = logging.getLogger(__name__)

RUFF_RULES = ("F821", "F822", "F823")  # undefined name, undefined name in __all__, used before assignment
IMPORT_RULE = "no-name-in-module"
RUFF_TIMEOUT_S = 60
CONFIG_FILES = (".ruff.toml", "ruff.toml", "pyproject.toml")  # ruff's own order of precedence
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RULE_CODE = re.compile(r"^(?:ALL|[A-Z]{1,4}[0-9]{0,4})$")
SAFE_GLOB = re.compile(r"^[\w./*?\[\]!{},\- ]{1,200}$")
TARGET_VERSION = re.compile(r"^py3[0-9]{1,2}$")


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    column: int
    rule: str
    message: str

    def key(self) -> tuple[str, str, str]:
        return self.path, self.rule, self.message  # line numbers move when the edit adds lines


def lint_python(*, root: Path, paths: list[str]) -> list[EditFailure]:
    """Failures for the new findings in `paths` (relative to `root`, already known to compile)."""
    if not paths:
        return []
    root = Path(root).resolve()
    ruff = RuffRunner.for_project(root)
    current = {path: (root / path).read_text(encoding="utf-8", errors="replace") for path in paths}
    found = findings(root=root, texts=current, ruff=ruff)
    if not found:
        return []
    before = head_texts(root, [finding.path for finding in found])
    known = {finding.key() for finding in findings(root=root, texts=before, ruff=ruff)}
    fresh = [finding for finding in found if finding.key() not in known]
    return [EditFailure(path=path, reason=describe([item for item in fresh if item.path == path], current[path]))
            for path in paths if any(item.path == path for item in fresh)]


def findings(*, root: Path, texts: dict[str, str], ruff: RuffRunner) -> list[Finding]:
    found: list[Finding] = []
    for path, text in texts.items():
        found += ruff.check(path=path, text=text)
        repo = RepoFiles(root=root, overrides={path: text})
        found += [Finding(path, item.line, item.column, IMPORT_RULE, item.message)
                  for item in missing_imported_names(repo, path)]
    return sorted(found)


def head_texts(root: Path, paths: list[str]) -> dict[str, str]:
    """The files as committed at HEAD; a new file has no such version, so all its findings are new."""
    texts = {}
    for path in dict.fromkeys(paths):
        shown = subprocess.run(["git", "show", f"HEAD:{path}"], cwd=root, capture_output=True, check=False)
        if shown.returncode == 0:
            texts[path] = shown.stdout.decode("utf-8", "replace")
    return texts


def describe(found: list[Finding], text: str) -> str:
    lines = text.splitlines()
    parts = []
    for item in found:
        code = lines[item.line - 1].strip() if 0 < item.line <= len(lines) else ""
        parts.append(f"{item.path}:{item.line}:{item.column}: {item.rule} {item.message}"
                     + (f"\n    {code}" if code else ""))
    return "\n".join(parts)


# --------------------------------------------------------------------------- ruff


@dataclass(frozen=True)
class RuffRunner:
    binary: str | None
    rules: tuple[str, ...]
    overrides: tuple[str, ...]  # --config key=value pairs, built by us from checked values
    root: Path

    @classmethod
    def for_project(cls, root: Path) -> RuffRunner:
        settings = project_settings(root)
        ignored = ignored_rules(settings)
        rules = tuple(rule for rule in RUFF_RULES if not any(rule.startswith(code) for code in ignored))
        return cls(binary=ruff_binary(), rules=rules, overrides=tuple(config_overrides(settings)), root=root)

    def check(self, *, path: str, text: str) -> list[Finding]:
        if self.binary is None or not self.rules:
            return []
        command = [self.binary, "check", "--isolated", "--no-cache", "--exit-zero", "--output-format", "json",
                   "--select", ",".join(self.rules), *self.overrides, "--stdin-filename", path, "-"]
        try:
            completed = subprocess.run(command, cwd=self.root, input=text.encode("utf-8"), capture_output=True,
                                       timeout=RUFF_TIMEOUT_S, check=False)
            diagnostics = json.loads(completed.stdout or b"[]")
        except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as error:
            log.warning("ruff could not check %s: %s", path, error)  # only a shortcut: the tests still run
            return []
        return [Finding(path, item["location"]["row"], item["location"]["column"], item["code"], item["message"])
                for item in diagnostics if item.get("code") in self.rules]


def ruff_binary() -> str | None:
    if find_ruff_bin is not None:
        try:
            return str(find_ruff_bin())
        except FileNotFoundError:
            pass
    return shutil.which("ruff")


def project_settings(root: Path) -> dict[str, Any]:
    for name in CONFIG_FILES:
        target = root / name
        if not target.is_file() or not target.resolve().is_relative_to(root):
            continue
        try:
            data = tomllib.loads(target.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return {}
        if name != "pyproject.toml":
            return data
        ruff = data.get("tool", {}).get("ruff")
        if isinstance(ruff, dict):
            return ruff
    return {}


def lint_table(settings: dict[str, Any]) -> dict[str, Any]:
    table = settings.get("lint")
    return table if isinstance(table, dict) else {}


def string_list(value: object, pattern: re.Pattern[str]) -> list[str]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str) and pattern.match(item)]


def ignored_rules(settings: dict[str, Any]) -> set[str]:
    return set(string_list(settings.get("ignore"), RULE_CODE)) | set(string_list(lint_table(settings).get("ignore"),
                                                                                  RULE_CODE))


def config_overrides(settings: dict[str, Any]) -> list[str]:
    overrides = []
    builtins = string_list(settings.get("builtins"), IDENTIFIER)
    if builtins:
        overrides += ["--config", f"builtins = {json.dumps(builtins)}"]
    target = settings.get("target-version")
    if isinstance(target, str) and TARGET_VERSION.match(target):
        overrides += ["--config", f'target-version = "{target}"']
    per_file = lint_table(settings).get("per-file-ignores") or settings.get("per-file-ignores")
    if isinstance(per_file, dict):
        safe = {glob: codes for glob, value in sorted(per_file.items())
                if isinstance(glob, str) and SAFE_GLOB.match(glob) and (codes := string_list(value, RULE_CODE))}
        if safe:
            table = ", ".join(f"{json.dumps(glob)} = {json.dumps(codes)}" for glob, codes in safe.items())
            overrides += ["--config", f"lint.per-file-ignores = {{{table}}}"]
    return overrides
