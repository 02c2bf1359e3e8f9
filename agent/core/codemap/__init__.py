"""A bounded map of the code around the files to modify, as signatures only: what those files
import from the rest of the repository, and where other files call their functions.

Python is read with `ast`, JavaScript and TypeScript with tree-sitter's grammars. Cheap on a big
repository: no file is parsed unless an import names it or `git grep` finds in it a word that a
file to modify defines, and at most MAX_CALLER_FILES such files are parsed. Deterministic (every
list is sorted) and bounded (entries and characters are capped, and what is left out is said).
"""
from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import ModuleType

from agent.core.codemap import javascript, python
from agent.core.codemap.repo import CallSite, RepoFiles, Signature

MAX_SIGNATURES = 40
MAX_CALL_SITES = 30
MAX_SITES_PER_CALLER = 3  # a test file calling one function 40 times would fill the map alone
MAX_CALLER_FILES = 40
MAX_NAMES_PER_FILE = 200
MAX_MAP_CHARS = 6000
LANGUAGES: tuple[ModuleType, ...] = (python, javascript)


BY_SUFFIX = {suffix: language for language in LANGUAGES for suffix in language.SUFFIXES}


def language_of(path: str) -> ModuleType | None:
    return BY_SUFFIX.get(os.path.splitext(path)[1].lower())  # called for every grep hit: kept cheap


def known_language(path: str) -> ModuleType:
    """The language of a path already filtered by language_of."""
    language = language_of(path)
    if language is None:
        raise ValueError(f"no code map language for {path}")
    return language


def build_context_map(*, root: Path, paths: Sequence[str], written: Collection[str] = ()) -> str:
    """The map for the files to modify `paths` (relative to `root`), or "" when there is nothing to say.
    `written`: the files changed since the checkout's commit (the agent's), read from the worktree."""
    repo = RepoFiles(root=Path(root).resolve(), written=frozenset(written))
    targets = [path for path in dict.fromkeys(paths) if language_of(path) and repo.is_file(path)]
    if not targets:
        return ""
    shown = set(targets)  # the prompt holds these in full
    imported = {path: [signature for signature in known_language(path).imported_signatures(repo, path)
                       if signature.path not in shown] for path in targets}
    callers = find_callers(repo, targets=targets, shown=shown)
    return render(imported=imported, callers=callers.sites, unread=callers.unread)


@dataclass
class Callers:
    sites: dict[str, list[CallSite]]  # target -> call sites, one per line, sorted
    unread: int  # files that may call a target but were not parsed (over MAX_CALLER_FILES)


def find_callers(repo: RepoFiles, *, targets: list[str], shown: set[str]) -> Callers:
    names = {target: known_language(target).defined_names(repo, target)[:MAX_NAMES_PER_FILE] for target in targets}
    module_words = {target: module_word(target) for target in targets}
    globs = sorted({glob for target in targets for glob in known_language(target).GLOBS})
    hits = repo.grep_words([*{name for found in names.values() for name in found}, *module_words.values()],
                           globs=globs)
    found: dict[str, dict[tuple[str, int], CallSite]] = {}
    unread = 0
    for language in LANGUAGES:
        mine = [target for target in targets if language_of(target) is language and names[target]]
        words = {name for target in mine for name in names[target]}
        candidates = {path for path, matched in hits.items()
                      if path not in shown and language_of(path) is language and matched & words}
        # Files that also name a target module (`from app.calc import`, `require('./calc')`) first.
        likely = {path for path in candidates if hits[path] & {module_words[target] for target in mine}}
        ordered = sorted(likely) + sorted(candidates - likely)
        unread += max(0, len(ordered) - MAX_CALLER_FILES)
        for caller in ordered[:MAX_CALLER_FILES]:
            for target in mine:
                for site in language.call_sites(repo, caller=caller, target=target, names=names[target]):
                    found.setdefault(target, {}).setdefault((site.path, site.line), site)
    return Callers(sites={target: sorted(sites.values()) for target, sites in found.items() if sites},
                   unread=unread)


def module_word(path: str) -> str:
    """The word an import of `path` contains: calc for app/calc.py, app for app/__init__.py."""
    pure = PurePosixPath(path)
    stem = pure.name.split(".")[0]
    if stem in ("__init__", "index") and pure.parent.name:
        return pure.parent.name
    return stem


def render(*, imported: dict[str, list[Signature]], callers: dict[str, list[CallSite]], unread: int) -> str:
    lines: list[str] = []
    seen: set[tuple[str, int]] = set()
    room = MAX_SIGNATURES
    for path, signatures in imported.items():
        fresh = [item for item in sorted(set(signatures)) if (item.path, item.line) not in seen]
        seen.update((item.path, item.line) for item in fresh)
        if fresh:
            lines.append(f"Used by {path} (defined in other files):")
            lines += capped([f"- {item.path}:{item.line}: {indented(item.text)}" for item in fresh], room)
            room = max(0, room - len(fresh))
    room = MAX_CALL_SITES
    for path, sites in callers.items():
        lines.append(f"Calls into {path} from other files:")
        entries = call_entries(sites)
        lines += capped(entries, room)
        room = max(0, room - len(entries))
    if unread:
        lines.append(f"({unread} more files name these functions but were not read for calls.)")
    return cut_to_chars("\n".join(lines), limit=MAX_MAP_CHARS)


def call_entries(sites: list[CallSite]) -> list[str]:
    entries: list[str] = []
    by_caller: dict[str, list[CallSite]] = {}
    for site in sites:
        by_caller.setdefault(site.path, []).append(site)
    for caller, caller_sites in by_caller.items():
        entries += [f"- {site.path}:{site.line}: {site.code}" + (f"   (in {site.caller})" if site.caller else "")
                    for site in caller_sites[:MAX_SITES_PER_CALLER]]
        if len(caller_sites) > MAX_SITES_PER_CALLER:
            more = len(caller_sites) - MAX_SITES_PER_CALLER
            entries.append(f"- {caller}: {more} more call{'s' if more > 1 else ''}")
    return entries


def indented(text: str) -> str:
    return text.replace("\n", "\n  ")


def capped(entries: list[str], room: int) -> list[str]:
    if len(entries) <= room:
        return entries
    return entries[:room] + [f"- ... {len(entries) - room} more not shown"]


def cut_to_chars(text: str, *, limit: int) -> str:
    if len(text) <= limit:
        return text
    kept = text[:limit].rsplit("\n", 1)[0]
    return kept + f"\n[... {text.count(chr(10)) - kept.count(chr(10))} more lines of the code map cut ...]"
