"""The code map: signatures the files to modify import, and the places that call them, from real
files in temporary git repositories."""
import subprocess
from pathlib import Path

from agent.core.codemap import MAX_CALLER_FILES, MAX_MAP_CHARS, build_context_map, find_callers
from agent.core.codemap.repo import RepoFiles

CALC = '''\
RATE: float = 0.2


def add(a: int, b: int) -> int:
    """Sum."""
    return a + b


class Money(Base):
    currency: str = "EUR"

    def __init__(self, amount: int) -> None:
        self.amount = amount

    @property
    def doubled(self) -> int:
        return self.amount * 2

    def _hidden(self):
        pass
'''


def git_repo(root: Path, files: dict[str, str], *, commit: bool = True) -> Path:
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    if commit:
        subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
        subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"],
                       check=True)
    return root


def python_repo(root: Path) -> Path:
    return git_repo(root, {
        "app/__init__.py": "from .calc import add\n",
        "app/calc.py": CALC,
        "app/util.py": "def fmt(value: float, *, digits: int = 2) -> str:\n    return f'{value:.{digits}f}'\n",
        "app/views.py": ("from app.calc import RATE, Money, add\nimport app.util as u\n\n\n"
                         "def total(a, b):\n    return u.fmt(add(a, b) * RATE)\n"),
        "app/report.py": ("from .calc import add as plus\n\n\nclass Report:\n    def build(self, rows):\n"
                          "        return plus(rows[0], rows[1])\n"),
        "tests/test_calc.py": "from app import calc\n\n\ndef test_add():\n    assert calc.add(1, 2) == 3\n",
        "scripts/unrelated.py": "def add(x):\n    return x\n\n\nadd(1)\n",
    })


# --------------------------------------------------------------------------- python


def test_python_map_shows_the_signatures_a_file_imports(tmp_path):
    root = python_repo(tmp_path)
    text = build_context_map(root=root, paths=["app/views.py"])
    assert "Used by app/views.py (defined in other files):" in text
    assert "- app/calc.py:1: RATE: float = 0.2" in text
    assert "- app/calc.py:4: def add(a: int, b: int) -> int" in text
    money = ("- app/calc.py:9: class Money(Base)\n      currency: str = 'EUR'\n"
             "      def __init__(self, amount: int) -> None")
    assert money in text
    assert "@property def doubled(self) -> int" in text and "_hidden" not in text
    assert "- app/util.py:1: def fmt(value: float, *, digits: int=2) -> str" in text
    assert "return a + b" not in text  # signatures only, never bodies


def test_python_map_shows_who_calls_the_file_and_from_where(tmp_path):
    root = python_repo(tmp_path)
    text = build_context_map(root=root, paths=["app/calc.py"])
    assert "Calls into app/calc.py from other files:" in text
    assert "- app/report.py:6: return plus(rows[0], rows[1])   (in def Report.build(self, rows))" in text
    assert "- app/views.py:6: return u.fmt(add(a, b) * RATE)   (in def total(a, b))" in text
    assert "- tests/test_calc.py:5: assert calc.add(1, 2) == 3   (in def test_add())" in text
    assert "scripts/unrelated.py" not in text  # the word `add`, but not our add


def test_python_reexport_is_followed_to_the_definition(tmp_path):
    root = python_repo(tmp_path)
    (root / "app/api.py").write_text("from app import add\n")
    assert "- app/calc.py:4: def add(a: int, b: int) -> int" in build_context_map(root=root, paths=["app/api.py"])


def test_files_to_modify_are_not_repeated_in_the_map(tmp_path):
    root = python_repo(tmp_path)
    text = build_context_map(root=root, paths=["app/views.py", "app/calc.py"])
    assert "app/calc.py:4" not in text and "- app/util.py:1:" in text
    assert "app/views.py:6" not in text and "app/report.py:6" in text


def test_files_the_agent_wrote_are_searched_as_they_are_now_and_the_others_as_git_has_them(tmp_path):
    root = python_repo(tmp_path)
    (root / "app/new.py").write_text("from app.calc import add\n\nTOTAL = add(2, 3)\n")  # the agent's, untracked
    (root / "app/report.py").write_text("from app.calc import add\n\n\nFIXED = add(0, 0)\n")  # the agent's edit
    (root / "app/debris.py").write_text("from app.calc import add\nadd(9, 9)\n")  # left by a test run
    text = build_context_map(root=root, paths=["app/calc.py"], written={"app/new.py", "app/report.py"})
    assert "- app/new.py:3: TOTAL = add(2, 3)" in text
    assert "- app/report.py:4: FIXED = add(0, 0)" in text and "app/report.py:6" not in text
    assert "debris" not in text


def test_a_written_file_matches_words_as_git_grep_does(tmp_path):
    root = git_repo(tmp_path, {"README.md": "x\n"})
    (root / "pkg").mkdir()
    (root / "pkg" / "a.py").write_text("value_55 = 1\nvalue_555 = 2\nmy_value_5 = 3\n")
    (root / "pkg" / "b.js").write_text("value_5\n")
    (root / "pkg" / "c.py").write_bytes(b"value_5\0binary\n")
    repo = RepoFiles(root=root, written=frozenset({"pkg/a.py", "pkg/b.js", "pkg/c.py", "gone.py"}))
    assert repo.grep_words(["value_5", "value_55"], globs=["*.py"]) == {"pkg/a.py": {"value_55"}}


def test_nothing_to_say_gives_an_empty_map(tmp_path):
    root = git_repo(tmp_path, {"README.md": "x\n", "lone.py": "import os\n\nprint(os.sep)\n"})
    assert build_context_map(root=root, paths=["README.md", "missing.py", "lone.py"]) == ""


def test_without_git_the_imports_are_still_mapped(tmp_path):
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp_path / "main.py").write_text("from calc import add\nadd(1, 2)\n")
    assert build_context_map(root=tmp_path, paths=["main.py"]) == (
        "Used by main.py (defined in other files):\n- calc.py:1: def add(a, b)")


# --------------------------------------------------------------------------- javascript / typescript


MATH_TS = '''\
export function add(a: number, b: number): number {
  return a + b;
}

export const double = (x: number): number => x * 2;

export class Cart extends Base {
  items: string[] = [];
  total(): number {
    return 0;
  }
  private secret(): void {}
}

export interface Shape {
  area(): number;
  name: string;
}

export default function main(): void {}
'''


def js_repo(root: Path) -> Path:
    return git_repo(root, {
        "src/math.ts": MATH_TS,
        "src/app.ts": ("import main, { add, Cart as Basket } from './math';\nimport * as m from './math.js';\n"
                       "import type { Shape } from './math';\n\n"
                       "export function run(shape: Shape): number {\n  main();\n  const cart = new Basket();\n"
                       "  return add(1, 2) + m.double(3);\n}\n"),
        "src/view.tsx": ("import { add } from './math';\nexport const View = () => <div>{add(1, 2)}</div>;\n"
                         "export function list(xs: number[]) {\n  return xs.map((x) => add(x, 1));\n}\n"),
        "lib/util.js": "exports.slug = function (text, sep = '-') {\n  return text.split(' ').join(sep);\n};\n",
        "lib/use.js": "const util = require('./util');\nconst { slug: s } = require('./util');\n\n"
                      "function label(x) {\n  return util.slug(x) + s(x);\n}\n",
        "lib/other.js": "function add() {}\nadd();\n",
    })


def test_typescript_map_shows_imported_signatures(tmp_path):
    root = js_repo(tmp_path)
    text = build_context_map(root=root, paths=["src/app.ts"])
    assert "- src/math.ts:1: function add(a: number, b: number): number" in text
    assert "- src/math.ts:5: const double = (x: number): number =>" in text
    assert "- src/math.ts:7: class Cart extends Base\n      items: string[] = []\n      total(): number" in text
    assert "secret" not in text
    assert "- src/math.ts:15: interface Shape\n      area(): number\n      name: string" in text
    assert "- src/math.ts:20: function main(): void" in text
    assert "return a + b" not in text


def test_typescript_map_shows_calls_through_named_default_and_namespace_imports(tmp_path):
    root = js_repo(tmp_path)
    text = build_context_map(root=root, paths=["src/math.ts"])
    assert "Calls into src/math.ts from other files:" in text
    for line in ("- src/app.ts:6: main();   (in function run(shape: Shape): number)",
                 "- src/app.ts:7: const cart = new Basket();   (in function run(shape: Shape): number)",
                 "- src/app.ts:8: return add(1, 2) + m.double(3);   (in function run(shape: Shape): number)",
                 "- src/view.tsx:2: export const View = () => <div>{add(1, 2)}</div>;   (in View = () =>)",
                 "- src/view.tsx:4: return xs.map((x) => add(x, 1));   (in function list(xs: number[]))"):
        assert line in text
    assert "lib/other.js" not in text


def test_commonjs_exports_and_require(tmp_path):
    root = js_repo(tmp_path)
    assert "- lib/util.js:1: exports.slug = function (text, sep = '-')" in build_context_map(
        root=root, paths=["lib/use.js"])
    text = build_context_map(root=root, paths=["lib/util.js"])
    assert "- lib/use.js:5: return util.slug(x) + s(x);   (in function label(x))" in text


# --------------------------------------------------------------------------- bounds


def busy_repo(root: Path, *, callers: int) -> Path:
    files = {"core/calc.py": "def add(a, b):\n    return a + b\n"}
    for number in range(callers):
        files[f"pkg/mod_{number:03}.py"] = "from core.calc import add\n\n" + "".join(
            f"def use_{index}():\n    return add({number}, {index})\n\n" for index in range(5))
    files.update({f"noise/file_{number:03}.py": "VALUE = 1\n" for number in range(200)})
    return git_repo(root, files)


def test_the_map_is_bounded_and_says_what_it_left_out(tmp_path):
    root = busy_repo(tmp_path, callers=100)
    text = build_context_map(root=root, paths=["core/calc.py"])
    assert len(text) <= MAX_MAP_CHARS + 100
    assert "- pkg/mod_000.py: 2 more calls" in text
    assert "more not shown" in text or "of the code map cut" in text
    assert "(60 more files name these functions but were not read for calls.)" in text
    assert build_context_map(root=root, paths=["core/calc.py"]) == text  # deterministic


def test_only_files_holding_a_defined_name_are_parsed_and_at_most_the_cap(tmp_path):
    root = busy_repo(tmp_path, callers=100)
    repo = RepoFiles(root=root.resolve())
    callers = find_callers(repo, targets=["core/calc.py"], shown={"core/calc.py"})
    assert callers.unread == 60 and len({site.path for site in callers.sites["core/calc.py"]}) == MAX_CALLER_FILES
    parsed = {path for (_, path) in repo.parsed}
    assert not any(path.startswith("noise/") for path in parsed)
    assert len([path for path in parsed if path.startswith("pkg/")]) == MAX_CALLER_FILES
