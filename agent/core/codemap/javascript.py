"""JavaScript and TypeScript through tree-sitter's grammars: what a file imports from the
repository (ES imports and require) and who calls the functions it defines.

Over 400 lines because the two languages share one walker over their syntax trees: ES modules,
CommonJS `require` and `exports.x =`, re-exports, and the callers' enclosing functions, each a
short function, read best side by side.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import tree_sitter
import tree_sitter_javascript
import tree_sitter_typescript

from agent.core.codemap.repo import CallSite, RepoFiles, Signature, normalized, one_line

GRAMMARS = {
    ".js": "javascript", ".jsx": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
}
SUFFIXES = frozenset(GRAMMARS)
GLOBS = [f"*{suffix}" for suffix in sorted(SUFFIXES)]
RESOLVE_EXTENSIONS = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
MAX_CLASS_MEMBERS = 15
MAX_REEXPORT_DEPTH = 3
FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "generator_function"})
FUNCTION_SCOPES = frozenset({"function_declaration", "generator_function_declaration", "method_definition",
                             "arrow_function", "function_expression", "function", "generator_function"})
DECLARATIONS = frozenset({"function_declaration", "generator_function_declaration", "class_declaration",
                          "abstract_class_declaration", "interface_declaration", "type_alias_declaration",
                          "enum_declaration"})
MEMBER_TYPES = frozenset({"method_definition", "public_field_definition", "field_definition",
                          "property_signature", "method_signature", "abstract_method_signature"})

_LANGUAGES = {
    "javascript": tree_sitter.Language(tree_sitter_javascript.language()),
    "typescript": tree_sitter.Language(tree_sitter_typescript.language_typescript()),
    "tsx": tree_sitter.Language(tree_sitter_typescript.language_tsx()),
}
_PARSERS: dict[str, tree_sitter.Parser] = {}
Node = tree_sitter.Node


@dataclass
class Parsed:
    source: bytes
    root: Node

    def text(self, node: Node | None, end: int | None = None) -> str:
        """The node's source text; "" for a field the grammar left out (child_by_field_name's None)."""
        if node is None:
            return ""
        return self.source[node.start_byte:node.end_byte if end is None else end].decode("utf-8", "replace")


def parse(repo: RepoFiles, relative: str) -> Parsed | None:
    key = ("javascript", relative)
    if key not in repo.parsed:
        grammar = GRAMMARS.get(PurePosixPath(relative).suffix.lower())
        source = repo.read(relative)
        if grammar is None or source is None:
            repo.parsed[key] = None
        else:
            parser = _PARSERS.setdefault(grammar, tree_sitter.Parser(_LANGUAGES[grammar]))
            data = source.encode("utf-8")
            repo.parsed[key] = Parsed(source=data, root=parser.parse(data).root_node)
    return repo.parsed[key]  # type: ignore[return-value]


def resolve_source(repo: RepoFiles, *, importer: str, source: str) -> str | None:
    """The repository file an import specifier points to; packages (no ./ or ../) are not ours."""
    if not source.startswith("."):
        return None
    base = normalized(PurePosixPath(importer).parent / source)
    if base is None:
        return None
    stem, suffix = os.path.splitext(base)
    candidates = [base] if suffix in SUFFIXES else []
    if suffix in (".js", ".jsx", ".mjs", ".cjs"):  # TypeScript sources are imported by their .js name
        candidates += [f"{stem}{extension}" for extension in (".ts", ".tsx", ".mts", ".cts")]
    candidates += [f"{base}{extension}" for extension in RESOLVE_EXTENSIONS]
    candidates += [f"{base}/index{extension}" for extension in RESOLVE_EXTENSIONS]
    return next((candidate for candidate in candidates if repo.is_file(candidate)), None)


def string_value(parsed: Parsed, node: Node | None) -> str | None:
    if node is None or node.type not in ("string", "template_string"):
        return None
    return parsed.text(node).strip("'\"`")


# --------------------------------------------------------------------------- signatures


def head(parsed: Parsed, node: Node) -> str:
    """The node's text up to its body: `function f(a: number): string`, `class K extends B`."""
    body = node.child_by_field_name("body")
    return one_line(parsed.text(node, body.start_byte if body is not None else None).rstrip(" {"))


def declaration_signature(parsed: Parsed, node: Node, declarator: Node | None = None) -> str:
    if declarator is not None:
        return declarator_signature(parsed, node, declarator)
    if node.type in ("class_declaration", "abstract_class_declaration", "interface_declaration"):
        body = node.child_by_field_name("body")
        members = [member_signature(parsed, child) for child in (body.named_children if body else [])
                   if child.type in MEMBER_TYPES]
        members = [member for member in members if member]
        if len(members) > MAX_CLASS_MEMBERS:
            members = members[:MAX_CLASS_MEMBERS] + [f"... {len(members) - MAX_CLASS_MEMBERS} more members"]
        return head(parsed, node) + "".join(f"\n    {member}" for member in members)
    if node.type == "expression_statement":
        return assignment_signature(parsed, node)
    if node.type in ("type_alias_declaration", "enum_declaration"):
        return one_line(parsed.text(node))
    return head(parsed, node)


def member_signature(parsed: Parsed, node: Node) -> str | None:
    name = node.child_by_field_name("name") or node.child_by_field_name("property")
    if name is not None and parsed.text(name).startswith("#"):
        return None
    if any(child.type == "accessibility_modifier" and parsed.text(child) == "private" for child in node.children):
        return None
    if node.type == "method_definition":
        return head(parsed, node)
    return one_line(parsed.text(node).rstrip(";,"), limit=100)


def assignment_signature(parsed: Parsed, statement: Node) -> str:
    """`exports.add = function (a, b)` for a CommonJS export."""
    right = assigned_value(statement)
    if right is not None and right.type in FUNCTION_VALUES:
        body = right.child_by_field_name("body")
        return one_line(parsed.text(statement, body.start_byte if body is not None else None).rstrip(" {"))
    return one_line(parsed.text(statement).rstrip(";"), limit=120)


def assigned_value(statement: Node) -> Node | None:
    assignment = statement.named_children[0] if statement.named_children else None
    if assignment is None or assignment.type != "assignment_expression":
        return None
    return assignment.child_by_field_name("right")


def declarator_signature(parsed: Parsed, statement: Node, declarator: Node) -> str:
    keyword = parsed.text(statement).split(None, 1)[0]
    value = declarator.child_by_field_name("value")
    if value is not None and value.type in FUNCTION_VALUES:
        name = parsed.text(declarator, value.start_byte)
        return one_line(f"{keyword} {name}{head(parsed, value)}")
    return one_line(f"{keyword} {parsed.text(declarator)}", limit=120)


# --------------------------------------------------------------------------- a module's exports


@dataclass
class ModuleIndex:
    declarations: dict[str, tuple[Node, Node | None]] = field(default_factory=dict)  # (statement, declarator)
    exports: dict[str, str] = field(default_factory=dict)  # exported name -> local name
    reexports: list[tuple[str | None, str, str]] = field(default_factory=list)  # (exported|None=*, name, source)
    default: Node | None = None  # an anonymous `export default ...`


def index_module(parsed: Parsed) -> ModuleIndex:
    index = ModuleIndex()
    for statement in parsed.root.named_children:
        if statement.type == "export_statement":
            index_export(parsed, statement, index)
        else:
            for name, declarator in declared_names(parsed, statement):
                index.declarations.setdefault(name, (statement, declarator))
    return index


def declared_names(parsed: Parsed, statement: Node) -> Iterator[tuple[str, Node | None]]:
    if statement.type in DECLARATIONS:
        name = statement.child_by_field_name("name")
        if name is not None:
            yield parsed.text(name), None
    elif statement.type in ("lexical_declaration", "variable_declaration"):
        for declarator in statement.named_children:
            name = declarator.child_by_field_name("name")
            if declarator.type == "variable_declarator" and name is not None and name.type == "identifier":
                yield parsed.text(name), declarator
    elif statement.type == "expression_statement":  # exports.f = ... / module.exports.f = ...
        assignment = statement.named_children[0] if statement.named_children else None
        left = assignment.child_by_field_name("left") if assignment and assignment.type == "assignment_expression" \
            else None
        if left is not None and left.type == "member_expression":
            owner = parsed.text(left.child_by_field_name("object"))
            if owner in ("exports", "module.exports"):
                yield parsed.text(left.child_by_field_name("property")), None


def index_export(parsed: Parsed, statement: Node, index: ModuleIndex) -> None:
    declaration = statement.child_by_field_name("declaration")
    source = string_value(parsed, statement.child_by_field_name("source"))
    is_default = any(child.type == "default" for child in statement.children)
    if declaration is not None:
        for name, declarator in declared_names(parsed, declaration):
            index.declarations.setdefault(name, (declaration, declarator))
            index.exports[name] = name
            if is_default:
                index.exports["default"] = name
        if is_default and "default" not in index.exports:
            index.default = declaration
        return
    value = statement.child_by_field_name("value")
    if is_default and value is not None:
        if value.type == "identifier":
            index.exports["default"] = parsed.text(value)
        else:
            index.default = value
        return
    clause = next((child for child in statement.named_children if child.type == "export_clause"), None)
    if clause is None:
        if source:
            index.reexports.append((None, "", source))  # export * from './x'
        return
    for specifier in clause.named_children:
        name_node, alias = specifier.child_by_field_name("name"), specifier.child_by_field_name("alias")
        exported = parsed.text(alias if alias is not None else name_node)
        if source:
            index.reexports.append((exported, parsed.text(name_node), source))
        else:
            index.exports[exported] = parsed.text(name_node)


def module_index(repo: RepoFiles, module_path: str, parsed: Parsed) -> ModuleIndex:
    key = ("javascript-index", module_path)
    if key not in repo.parsed:
        repo.parsed[key] = index_module(parsed)
    return repo.parsed[key]  # type: ignore[return-value]


def find_definition(repo: RepoFiles, module_path: str, name: str, *, depth: int = 0) -> Signature | None:
    parsed = parse(repo, module_path)
    if parsed is None or depth > MAX_REEXPORT_DEPTH:
        return None
    index = module_index(repo, module_path, parsed)
    if name == "default" and "default" not in index.exports and index.default is not None:
        return Signature(module_path, index.default.start_point.row + 1, head(parsed, index.default))
    local = index.exports.get(name, name)
    if local in index.declarations:
        statement, declarator = index.declarations[local]
        return Signature(module_path, statement.start_point.row + 1,
                         declaration_signature(parsed, statement, declarator))
    for exported, original, source in index.reexports:
        if exported in (name, None):
            source_path = resolve_source(repo, importer=module_path, source=source)
            found = source_path and find_definition(repo, source_path, original or name, depth=depth + 1)
            if found:
                return found
    return None


# --------------------------------------------------------------------------- imports of a file


@dataclass
class Bindings:
    """What a file binds from one repository module: local name -> imported name, and namespaces."""

    module_path: str
    names: dict[str, str] = field(default_factory=dict)
    namespaces: set[str] = field(default_factory=set)


def imports_of(repo: RepoFiles, path: str, parsed: Parsed) -> list[Bindings]:
    found: dict[str, Bindings] = {}
    for node, source, pattern in import_nodes(parsed):
        module_path = resolve_source(repo, importer=path, source=source)
        if module_path is None:
            continue
        bindings = found.setdefault(module_path, Bindings(module_path))
        if node.type == "import_statement":
            bind_import_clause(parsed, node, bindings)
        elif pattern is not None:
            bind_require_pattern(parsed, pattern, bindings)
    return [found[key] for key in sorted(found)]


def import_nodes(parsed: Parsed) -> Iterator[tuple[Node, str, Node | None]]:
    """(import statement or require call, its specifier, the pattern a require is assigned to)."""
    stack = [parsed.root]
    while stack:
        node = stack.pop()
        if node.type == "import_statement":
            source = string_value(parsed, node.child_by_field_name("source"))
            if source:
                yield node, source, None
            continue
        if node.type == "variable_declarator":
            value = node.child_by_field_name("value")
            if value is not None and value.type == "call_expression" and is_require(parsed, value):
                arguments = value.child_by_field_name("arguments")
                source = (string_value(parsed, arguments.named_children[0])
                          if arguments is not None and arguments.named_children else None)
                if source:
                    yield value, source, node.child_by_field_name("name")
        stack.extend(reversed(node.named_children))


def is_require(parsed: Parsed, call: Node) -> bool:
    function = call.child_by_field_name("function")
    return function is not None and function.type == "identifier" and parsed.text(function) == "require"


def bind_import_clause(parsed: Parsed, statement: Node, bindings: Bindings) -> None:
    clause = next((child for child in statement.named_children if child.type == "import_clause"), None)
    for child in clause.named_children if clause is not None else []:
        if child.type == "identifier":
            bindings.names[parsed.text(child)] = "default"
        elif child.type == "namespace_import":
            bindings.namespaces.update(parsed.text(name) for name in child.named_children if name.type == "identifier")
        elif child.type == "named_imports":
            for specifier in child.named_children:
                name, alias = specifier.child_by_field_name("name"), specifier.child_by_field_name("alias")
                if name is not None:
                    bindings.names[parsed.text(alias if alias is not None else name)] = parsed.text(name)


def bind_require_pattern(parsed: Parsed, pattern: Node, bindings: Bindings) -> None:
    if pattern.type == "identifier":
        bindings.namespaces.add(parsed.text(pattern))
        return
    for child in pattern.named_children if pattern.type == "object_pattern" else []:
        if child.type == "shorthand_property_identifier_pattern":
            bindings.names[parsed.text(child)] = parsed.text(child)
        elif child.type == "pair_pattern":
            key, value = child.child_by_field_name("key"), child.child_by_field_name("value")
            if key is not None and value is not None and value.type == "identifier":
                bindings.names[parsed.text(value)] = parsed.text(key)


def member_uses(parsed: Parsed, namespaces: set[str]) -> set[str]:
    """Properties read from a namespace import: `calc.add` -> add."""
    used: set[str] = set()
    for node in walk(parsed.root):
        if node.type == "member_expression":
            owner, prop = node.child_by_field_name("object"), node.child_by_field_name("property")
            if owner is not None and prop is not None and parsed.text(owner) in namespaces:
                used.add(parsed.text(prop))
    return used


def walk(root: Node) -> Iterator[Node]:
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.named_children))


def imported_signatures(repo: RepoFiles, path: str) -> list[Signature]:
    parsed = parse(repo, path)
    if parsed is None:
        return []
    found = []
    for bindings in imports_of(repo, path, parsed):
        wanted = sorted(set(bindings.names.values()) | member_uses(parsed, bindings.namespaces))
        found += [signature for name in wanted if (signature := find_definition(repo, bindings.module_path, name))]
    return found


# --------------------------------------------------------------------------- callers


def defined_names(repo: RepoFiles, path: str) -> list[str]:
    """Top-level functions and classes (declared, assigned to a const, or exported with exports.x = ...)."""
    parsed = parse(repo, path)
    if parsed is None:
        return []
    return sorted(name for name, (statement, declarator) in module_index(repo, path, parsed).declarations.items()
                  if is_callable(statement, declarator))


def is_callable(statement: Node, declarator: Node | None) -> bool:
    if declarator is not None:
        value = declarator.child_by_field_name("value")
        return value is not None and value.type in FUNCTION_VALUES | {"class"}
    if statement.type == "expression_statement":
        value = assigned_value(statement)
        return value is not None and value.type in FUNCTION_VALUES | {"class"}
    return statement.type in ("function_declaration", "generator_function_declaration", "class_declaration",
                              "abstract_class_declaration")


def call_sites(repo: RepoFiles, *, caller: str, target: str, names: list[str]) -> list[CallSite]:
    parsed = parse(repo, caller)
    if parsed is None:
        return []
    bindings = next((item for item in imports_of(repo, caller, parsed) if item.module_path == target), None)
    if bindings is None:
        return []
    wanted = set(names) | {"default"}
    locals_ = {local for local, name in bindings.names.items() if name in wanted}
    lines = parsed.source.decode("utf-8", "replace").splitlines()
    sites = []
    for node in walk(parsed.root):
        if node.type not in ("call_expression", "new_expression"):
            continue
        callee = node.child_by_field_name("function") or node.child_by_field_name("constructor")
        if callee is None or not calls_into(parsed, callee, locals_, bindings.namespaces, set(names)):
            continue
        row = node.start_point.row
        sites.append(CallSite(caller, row + 1, one_line(lines[row] if row < len(lines) else "", limit=120),
                              enclosing_function(parsed, node)))
    return sites


def calls_into(parsed: Parsed, callee: Node, locals_: set[str], namespaces: set[str], names: set[str]) -> bool:
    if callee.type == "identifier":
        return parsed.text(callee) in locals_
    if callee.type == "member_expression":
        owner, prop = callee.child_by_field_name("object"), callee.child_by_field_name("property")
        return (owner is not None and prop is not None and parsed.text(owner) in namespaces
                and parsed.text(prop) in names)
    return False


def enclosing_function(parsed: Parsed, node: Node) -> str:
    """The named function around `node`; anonymous callbacks (`items.map(x => ...)`) are looked through."""
    scope = node.parent
    while scope is not None:
        if scope.type in FUNCTION_VALUES and scope.parent is not None and scope.parent.type == "variable_declarator":
            name = scope.parent.child_by_field_name("name")
            return one_line(f"{parsed.text(name)} = {head(parsed, scope)}", limit=100)
        if scope.type in FUNCTION_SCOPES and scope.type not in FUNCTION_VALUES:
            return one_line(head(parsed, scope), limit=100)
        scope = scope.parent
    return ""
