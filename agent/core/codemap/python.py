"""Python through `ast`: what a file imports from the repository, who calls its functions, and
whether the names it imports from the repository's own modules exist."""
from __future__ import annotations

import ast
import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from agent.core.codemap.repo import CallSite, RepoFiles, Signature, one_line

SUFFIXES = frozenset({".py", ".pyi"})
GLOBS = ["*.py", "*.pyi"]
SOURCE_ROOTS = ("", "src")  # where absolute imports start: the repository root, or a src/ layout
MAX_CLASS_MEMBERS = 15
MAX_REEXPORT_DEPTH = 3
KEPT_DUNDERS = frozenset({"__init__", "__call__", "__enter__", "__exit__", "__iter__"})
DYNAMIC_CALLS = frozenset({"globals", "vars", "exec"})
Scope = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def parse(repo: RepoFiles, relative: str) -> ast.Module | None:
    key = ("python", relative)
    if key not in repo.parsed:
        source = repo.read(relative)
        try:
            repo.parsed[key] = None if source is None else ast.parse(source, filename=relative)
        except (SyntaxError, ValueError, RecursionError):
            repo.parsed[key] = None
    return repo.parsed[key]  # type: ignore[return-value]


def module_file(repo: RepoFiles, *, module: str, importer: str, level: int) -> str | None:
    """The repository file a (relative) module name points to, or None when it is not ours."""
    parts = [part for part in module.split(".") if part]
    if level:
        folder = PurePosixPath(importer).parent
        for _ in range(level - 1):
            folder = folder.parent
        bases = ["" if str(folder) == "." else folder.as_posix()]
    else:
        bases = list(SOURCE_ROOTS)
    for base in bases:
        stem = "/".join(part for part in [base, *parts] if part)
        if not parts and not level:
            continue
        candidates = ([f"{stem}.py"] if parts else []) + [f"{stem}/__init__.py".lstrip("/")]
        candidates += [f"{stem}.pyi"] if parts else []
        for candidate in candidates:
            if repo.is_file(candidate):
                return candidate
    return None


def module_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements run at module level, inside if/try/with/for blocks too (not in functions)."""
    for node in body:
        yield node
        if isinstance(node, (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith)):
            yield from module_statements(node.body)
            yield from module_statements(getattr(node, "orelse", []))
        elif isinstance(node, (ast.Try, ast.TryStar)):
            for block in (node.body, node.orelse, node.finalbody, *(handler.body for handler in node.handlers)):
                yield from module_statements(block)
        elif isinstance(node, ast.Match):
            for case in node.cases:
                yield from module_statements(case.body)


# --------------------------------------------------------------------------- signatures


def function_signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    decorators = "".join(f"@{ast.unparse(item)} " for item in node.decorator_list
                         if ast.unparse(item) in ("property", "staticmethod", "classmethod"))
    return one_line(f"{decorators}{prefix} {node.name}({ast.unparse(node.args)}){returns}")


def class_signature(node: ast.ClassDef) -> str:
    bases = [ast.unparse(base) for base in node.bases] + [ast.unparse(keyword) for keyword in node.keywords]
    head = f"class {node.name}({', '.join(bases)})" if bases else f"class {node.name}"
    members = [member for item in node.body if (member := class_member(item))]
    if len(members) > MAX_CLASS_MEMBERS:
        members = members[:MAX_CLASS_MEMBERS] + [f"... {len(members) - MAX_CLASS_MEMBERS} more members"]
    return one_line(head) + "".join(f"\n    {member}" for member in members)


def class_member(item: ast.stmt) -> str | None:
    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
        public = not item.name.startswith("_") or item.name in KEPT_DUNDERS
        return function_signature(item) if public else None
    if isinstance(item, (ast.Assign, ast.AnnAssign)):
        text = assignment_signature(item)
        return text if text and not text.startswith("_") else None
    return None


def assigned_name(node: ast.Assign | ast.AnnAssign) -> str | None:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return targets[0].id if len(targets) == 1 and isinstance(targets[0], ast.Name) else None


def assignment_signature(node: ast.Assign | ast.AnnAssign) -> str | None:
    name = assigned_name(node)
    if name is None:
        return None
    annotation = f": {ast.unparse(node.annotation)}" if isinstance(node, ast.AnnAssign) else ""
    value = f" = {one_line(ast.unparse(node.value), limit=80)}" if node.value is not None else ""
    return one_line(f"{name}{annotation}{value}")


def find_definition(repo: RepoFiles, module_path: str, name: str, *, depth: int = 0) -> Signature | None:
    """Where `name` is defined in the module, following re-exports (`from .x import name`)."""
    tree = parse(repo, module_path)
    if tree is None or depth > MAX_REEXPORT_DEPTH:
        return None
    for node in module_statements(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return Signature(module_path, node.lineno, function_signature(node))
        if isinstance(node, ast.ClassDef) and node.name == name:
            return Signature(module_path, node.lineno, class_signature(node))
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and assigned_name(node) == name:
            return Signature(module_path, node.lineno, assignment_signature(node) or name)
        if isinstance(node, ast.ImportFrom):
            found = follow_reexport(repo, module_path, node, name, depth=depth)
            if found:
                return found
    return None


def follow_reexport(repo: RepoFiles, module_path: str, node: ast.ImportFrom, name: str, *,
                    depth: int) -> Signature | None:
    for alias in node.names:
        if (alias.asname or alias.name) != name:
            continue
        source = module_file(repo, module=node.module or "", importer=module_path, level=node.level)
        if source and source != module_path:
            return find_definition(repo, source, alias.name, depth=depth + 1)
    return None


# --------------------------------------------------------------------------- imports of a file


def dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def attribute_uses(tree: ast.Module) -> dict[str, set[str]]:
    """For every dotted prefix (`calc`, `app.calc`), the attributes read from it."""
    uses: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and (base := dotted(node.value)):
            uses.setdefault(base, set()).add(node.attr)
    return uses


def imported_signatures(repo: RepoFiles, path: str) -> list[Signature]:
    tree = parse(repo, path)
    if tree is None:
        return []
    uses = attribute_uses(tree)
    found: list[Signature] = []
    for module_path, bound, names in imported_modules(repo, path, tree):
        wanted = [name for name, _ in names] if names is not None else sorted(uses.get(bound, ()))
        found += [signature for name in wanted if (signature := find_definition(repo, module_path, name))]
    return found


Imported = list[tuple[str, str]] | None  # (name, local name) pairs, or None: the module itself


def imported_modules(repo: RepoFiles, path: str, tree: ast.Module) -> Iterator[tuple[str, str, Imported]]:
    """(repository module, the name bound to the module in the file, the names taken from it)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                module_path = module_file(repo, module=alias.name, importer=path, level=0)
                if module_path:
                    yield module_path, alias.asname or alias.name, None
        elif isinstance(node, ast.ImportFrom):
            yield from from_import_targets(repo, path, node)


def from_import_targets(repo: RepoFiles, path: str, node: ast.ImportFrom) -> Iterator[tuple[str, str, Imported]]:
    module_path = module_file(repo, module=node.module or "", importer=path, level=node.level)
    names: list[tuple[str, str]] = []
    for alias in node.names:
        submodule = module_file(repo, module=f"{node.module or ''}.{alias.name}", importer=path, level=node.level)
        if submodule:
            yield submodule, alias.asname or alias.name, None
        elif alias.name != "*":
            names.append((alias.name, alias.asname or alias.name))
    if module_path and names:
        yield module_path, "", names


# --------------------------------------------------------------------------- callers


def defined_names(repo: RepoFiles, path: str) -> list[str]:
    tree = parse(repo, path)
    if tree is None:
        return []
    return sorted({node.name for node in module_statements(tree.body)
                   if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))})


def call_sites(repo: RepoFiles, *, caller: str, target: str, names: list[str]) -> list[CallSite]:
    tree = parse(repo, caller)
    source = repo.read(caller)
    if tree is None or source is None:
        return []
    functions, modules = bindings_to(repo, caller, tree, target=target, names=set(names))
    if not functions and not modules:
        return []
    finder = CallFinder(path=caller, lines=source.splitlines(), functions=functions, modules=modules,
                        names=set(names))
    try:
        finder.visit(tree)
    except RecursionError:
        pass  # absurdly nested code: keep what was found
    return finder.sites


def bindings_to(repo: RepoFiles, caller: str, tree: ast.Module, *, target: str,
                names: set[str]) -> tuple[dict[str, str], set[str]]:
    """Local names bound to the target's functions, and names bound to the target module itself."""
    functions: dict[str, str] = {}
    modules: set[str] = set()
    for module_path, bound, imported in imported_modules(repo, caller, tree):
        if module_path != target:
            continue
        if imported is None:
            modules.add(bound)
        else:
            functions.update({local: name for name, local in imported if name in names})
    return functions, modules


@dataclass
class CallFinder(ast.NodeVisitor):
    path: str
    lines: list[str]
    functions: dict[str, str]
    modules: set[str]
    names: set[str]

    def __post_init__(self) -> None:
        self.sites: list[CallSite] = []
        self.scopes: list[Scope] = []

    def visit_scope(self, node: Scope) -> None:
        self.scopes.append(node)
        self.generic_visit(node)
        self.scopes.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = visit_scope

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        direct = isinstance(func, ast.Name) and func.id in self.functions
        through_module = (isinstance(func, ast.Attribute) and func.attr in self.names
                          and dotted(func.value) in self.modules)
        if direct or through_module:
            code = self.lines[node.lineno - 1] if node.lineno <= len(self.lines) else ""
            self.sites.append(CallSite(self.path, node.lineno, one_line(code, limit=120), self.caller()))
        self.generic_visit(node)

    def caller(self) -> str:
        function = next((scope for scope in reversed(self.scopes) if not isinstance(scope, ast.ClassDef)), None)
        if function is None:
            return ""
        owner = next((scope.name for scope in reversed(self.scopes) if isinstance(scope, ast.ClassDef)), "")
        text = function_signature(function)
        return one_line(text.replace(f"def {function.name}(", f"def {owner}.{function.name}(") if owner else text,
                        limit=100)


# --------------------------------------------------------------------------- import check


@dataclass(frozen=True)
class MissingName:
    line: int
    column: int
    message: str


def missing_imported_names(repo: RepoFiles, path: str) -> list[MissingName]:
    """`from app.calc import ad` where app/calc.py is ours and defines no `ad`: it fails at import."""
    tree = parse(repo, path)
    if tree is None:
        return []
    guarded = {id(node) for block in ast.walk(tree) if isinstance(block, (ast.Try, ast.TryStar))
               for statement in block.body for node in ast.walk(statement)}
    missing = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and id(node) not in guarded:
            missing += missing_in(repo, path, node)
    return sorted(missing, key=lambda item: (item.line, item.column))


def missing_in(repo: RepoFiles, path: str, node: ast.ImportFrom) -> list[MissingName]:
    module_path = module_file(repo, module=node.module or "", importer=path, level=node.level)
    if module_path is None:
        return []
    defined = module_bindings(repo, module_path)
    if defined is None:
        return []  # a dynamic module (star import, __getattr__, globals()): it cannot be told
    shown = "." * node.level + (node.module or "")
    missing = []
    for alias in node.names:
        if alias.name == "*" or alias.name in defined:
            continue
        if module_file(repo, module=f"{node.module or ''}.{alias.name}", importer=path, level=node.level):
            continue  # a submodule
        if has_compiled_submodule(repo, module_path, alias.name):
            continue
        close = difflib.get_close_matches(alias.name, sorted(defined), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        missing.append(MissingName(
            line=getattr(alias, "lineno", node.lineno), column=getattr(alias, "col_offset", node.col_offset) + 1,
            message=f"cannot import name {alias.name!r} from {shown!r}: {module_path} does not define it{hint}"))
    return missing


def has_compiled_submodule(repo: RepoFiles, module_path: str, name: str) -> bool:
    if not module_path.endswith("__init__.py"):
        return False
    package = (repo.root / module_path).parent
    return any(package.glob(f"{name}.*")) or (package / name).is_dir()


def module_bindings(repo: RepoFiles, module_path: str) -> set[str] | None:
    """Every name a module defines at its top level, or None when that cannot be known statically."""
    names: set[str] = set()
    for candidate in dict.fromkeys([module_path, module_path.removesuffix(".py") + ".pyi"]):
        tree = parse(repo, candidate)
        if tree is None:
            continue
        if is_dynamic(tree):
            return None
        for statement in module_statements(tree.body):
            names |= statement_bindings(statement)
        names |= {name for node in ast.walk(tree) if isinstance(node, ast.Global) for name in node.names}
    return None if "__getattr__" in names or "*" in names else names


def is_dynamic(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in DYNAMIC_CALLS:
            return True
        if isinstance(node, ast.Attribute) and node.attr == "modules" and dotted(node.value) == "sys":
            return True
    return False


def statement_bindings(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Import):
        return {alias.asname or alias.name.split(".")[0] for alias in node.names}
    if isinstance(node, ast.ImportFrom):
        return {alias.asname or alias.name for alias in node.names}
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return stored_names(node.target)
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return {name for item in node.items if item.optional_vars for name in stored_names(item.optional_vars)}
    if isinstance(node, (ast.Try, ast.TryStar)):
        return {handler.name for handler in node.handlers if handler.name}
    if isinstance(node, (ast.If, ast.While)):
        return stored_names(node.test)  # a walrus in the condition
    if isinstance(node, ast.Match):
        return {name for case in node.cases for sub in ast.walk(case.pattern)
                for name in [getattr(sub, "name", None), getattr(sub, "rest", None)] if name}
    return stored_names(node)


def stored_names(node: ast.AST) -> set[str]:
    return {sub.id for sub in ast.walk(node) if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store)}
