"""A ticket's named required tests (tests_requeridos `path::test`) against the worktree: which exist, what is locked.

A required test that exists when the run starts is the contract: the model may not change or remove it. A file
whose named tests all exist is locked whole ("fix the code instead"). A file that lacks some of them stays open so
the model can add them; in a Python file the tests that existed are compared by their syntax tree after each edit
(moving them or reformatting is fine, changing their body or decorators is not). A non-Python file is only ever
checked by a text search for the test's name, so it is either locked whole or open.

A file the ticket also lists in archivos_modificar is the architect's permission to evolve its tests (new cases,
updated assertions), as real projects do: it is neither locked nor guarded, but its named tests that exist must
still run and pass at the end (`must_run`), and each one the change touched is shown to the reviewer with its own
diff ("required test changed", `changed_tests`).
"""
import ast
import copy
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agent.testruns.verdict import looks_like_test_path
from lib.paths import resolved_inside
from lib.testschema import RequiredChange

Definitions = Mapping[str, str]  # pytest's name ("test_x", "TestX::test_y") -> ast.dump of its definition


@dataclass(frozen=True)
class RequiredTests:
    present: tuple[str, ...] = ()  # entries naming a test (or a test file) that exists
    to_write: tuple[str, ...] = ()  # entries naming a test, or a file of tests, that does not exist yet
    locked: frozenset[str] = frozenset()  # files whose named tests all exist: no edit may touch them
    guarded: Mapping[str, Definitions] = field(default_factory=dict)  # open files, with the tests to keep as they are
    changeable: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # file in archivos_modificar -> its
    #                                                                           named tests that exist ("": all)
    must_run: tuple[str, ...] = ()  # the entries naming those tests: changed or not, they must run and pass

    def refusal(self, path: str, text: str) -> str:
        """Why the new `text` of a guarded file is refused ("" when it keeps every test it must keep)."""
        kept = self.guarded.get(path)
        if not kept:
            return ""
        try:
            tree = ast.parse(text)
        except SyntaxError as exc:
            return (f"{path} does not parse after this edit (line {exc.lineno}: {exc.msg}), so its required tests "
                    "cannot be checked; the edit to it was undone")
        now = definitions(tree)
        changed = [name for name, dump in kept.items() if name in now and now[name] != dump]
        removed = [name for name in kept if name not in now]
        if not changed and not removed:
            return ""
        what = "; ".join(part for part in (f"changed: {', '.join(changed)}" if changed else "",
                                           f"removed: {', '.join(removed)}" if removed else "") if part)
        return (f"{path} holds required tests (tests_requeridos) that already exist and must stay exactly as they "
                f"are ({what}); the edit to {path} was undone. Add the required tests that are missing "
                f"({', '.join(self.to_write)}) next to them, and fix the code instead of the existing tests")


def read_required(*, root: Path, entries: Iterable[str], changeable: Iterable[str] = ()) -> RequiredTests:
    """Sort the ticket's entries by what the worktree at `root` holds now; prose entries are neither.

    `changeable`: the ticket's archivos_modificar; their required tests may change but not disappear."""
    entries = [entry.strip() for entry in entries]
    allowed = {existing for path in changeable if (existing := existing_file(root, path))}
    named: dict[str, dict[str, str]] = {}  # existing file -> entry -> the test it names ("": the whole file)
    to_write: list[str] = []
    present: list[str] = []
    for entry in entries:
        path, _, name = (part.strip() for part in entry.partition("::"))
        if path and (existing := existing_file(root, path)):
            named.setdefault(existing, {})[entry] = name
        elif looks_like_test_path(entry):
            to_write.append(entry)
    locked: set[str] = set()
    guarded: dict[str, Definitions] = {}
    changeable_tests: dict[str, tuple[str, ...]] = {}
    must_run: list[str] = []
    for path, names_by_entry in named.items():
        found = FileTests.read(root / path)
        for entry, name in names_by_entry.items():
            (present if found.has(name) else to_write).append(entry)
        names = list(names_by_entry.values())
        if path in allowed:
            changeable_tests[path] = tuple(name for name in names if found.has(name))
            must_run += [entry for entry, name in names_by_entry.items() if found.has(name)]
        elif all(found.has(name) for name in names):
            locked.add(path)
        elif kept := found.kept(names):
            guarded[path] = kept
    in_ticket_order = entries.index
    return RequiredTests(present=tuple(sorted(present, key=in_ticket_order)),
                         to_write=tuple(sorted(to_write, key=in_ticket_order)), locked=frozenset(locked),
                         guarded=guarded, changeable=changeable_tests,
                         must_run=tuple(sorted(must_run, key=in_ticket_order)))


MAX_TEST_DIFF_CHARS = 20_000


def changed_tests(*, path: str, names: Iterable[str], before: str, after: str) -> list[RequiredChange]:
    """The named tests of `path` that the change touched, each with its own unified diff (bounded).

    A bare path ("") stands for every test of the file; a file that is not Python, or does not parse on either
    side, is one entry for the whole file."""
    names = list(names)
    if before == after:
        return []
    old, new = segments(before, path), segments(after, path)
    if old is None or new is None:
        return [{"test": path, "path": path, "diff": unified(before, after, path)}]
    wanted = sorted(old) if "" in names else [plain_name(name) for name in names]
    return [{"test": f"{path}::{name}", "path": path, "diff": unified(old[name], new.get(name, ""), f"{path}::{name}")}
            for name in wanted if name in old and old[name] != new.get(name)]


def segments(text: str, path: str) -> dict[str, str] | None:
    """Each test's source, decorators included, by pytest's name; None when it is not Python that parses."""
    if not path.endswith(".py"):
        return None
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    lines = text.splitlines(keepends=True)
    found: dict[str, str] = {}
    for node in tree.body:
        nodes = [(node.name, node)] if isinstance(node, FUNCTIONS) else []
        if isinstance(node, ast.ClassDef):
            nodes = [(f"{node.name}::{item.name}", item) for item in node.body if isinstance(item, FUNCTIONS)]
        for name, item in nodes:
            first = min([item.lineno, *(decorator.lineno for decorator in item.decorator_list)])
            found[name] = "".join(lines[first - 1:item.end_lineno])
    return found


def unified(before: str, after: str, label: str) -> str:
    diff = "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=f"a/{label}", tofile=f"b/{label}"))
    return diff if len(diff) <= MAX_TEST_DIFF_CHARS else diff[:MAX_TEST_DIFF_CHARS] + "\n... (diff cut)\n"


@dataclass(frozen=True)
class FileTests:
    """One existing file's tests: their trees when it is Python that parses, else its text to search."""

    text: str
    trees: Definitions | None

    @classmethod
    def read(cls, path: Path) -> "FileTests":
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix != ".py":
            return cls(text=text, trees=None)
        try:
            return cls(text=text, trees=definitions(ast.parse(text)))
        except SyntaxError:
            return cls(text=text, trees=None)

    def has(self, name: str) -> bool:
        if not name:
            return True  # a bare path names the file's tests, and the file exists
        if self.trees is None:
            return plain_name(name).rsplit("::", 1)[-1] in self.text
        return plain_name(name) in self.trees

    def kept(self, names: list[str]) -> Definitions:
        """The trees to keep: the named tests that exist, or every test when a bare path names the whole file."""
        trees = self.trees or {}
        if "" in names:
            return dict(trees)
        wanted = {plain_name(name) for name in names}
        return {key: dump for key, dump in trees.items()
                if key in wanted or key.split("::", 1)[0] in wanted}  # a class: its header and its methods


def plain_name(name: str) -> str:
    return name.split("[", 1)[0].strip()  # parameters ("test_x[1-2]") name the same function


FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def definitions(tree: ast.Module) -> dict[str, str]:
    """Every function and class at the top level and every method of a class, by pytest's `::` name.

    A class stands for its header (bases, decorators, fixtures, setup) without its test methods, so adding a test
    method to it does not change it."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, FUNCTIONS):
            found[node.name] = ast.dump(node)
        elif isinstance(node, ast.ClassDef):
            methods = {item.name: item for item in node.body
                       if isinstance(item, FUNCTIONS) and item.name.startswith("test")}
            header = copy.copy(node)
            header.body = [item for item in node.body if all(item is not method for method in methods.values())]
            found[node.name] = ast.dump(header)
            found.update({f"{node.name}::{name}": ast.dump(method) for name, method in methods.items()})
    return found


def existing_file(root: Path, path: str) -> str:
    """The path as the edits spell it ("./a.py" is "a.py") when it names a file of the worktree, else ""."""
    target = resolved_inside(root, path)
    if target is None or not target.is_file():
        return ""
    return target.relative_to(root.resolve()).as_posix()
