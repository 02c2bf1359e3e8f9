import shutil
from pathlib import Path

import pytest

from agent.core.edits import EditFailure
from agent.core.syntax import check_syntax

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def write(root: Path, relative: str, content: str) -> str:
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    return relative


def test_valid_python_passes(tmp_path):
    path = write(tmp_path, "app/ok.py", "def f(x):\n    return x * 2\n")
    assert check_syntax(root=tmp_path, paths=[path]) == []


def test_python_syntax_error_reports_file_line_and_message(tmp_path):
    path = write(tmp_path, "app/bad.py", "x = 1\ndef f(:\n    pass\n")
    failures = check_syntax(root=tmp_path, paths=[path])
    assert len(failures) == 1 and failures[0].path == "app/bad.py"
    assert failures[0].reason.startswith("app/bad.py:2: ")
    assert "def f(:" in failures[0].reason


def test_python_indentation_error(tmp_path):
    path = write(tmp_path, "bad.py", "def f():\nreturn 1\n")
    reason = check_syntax(root=tmp_path, paths=[path])[0].reason
    assert reason.startswith("bad.py:2: ") and "indented block" in reason


def test_python_compile_time_error_outside_function(tmp_path):
    path = write(tmp_path, "bad.py", "x = 1\nreturn x\n")
    assert "'return' outside function" in check_syntax(root=tmp_path, paths=[path])[0].reason


def test_python_warning_is_not_a_failure(tmp_path):
    path = write(tmp_path, "warn.py", 'PATTERN = "\\d+"\n')
    assert check_syntax(root=tmp_path, paths=[path]) == []


def test_python_null_byte_is_reported(tmp_path):
    (tmp_path / "nul.py").write_bytes(b"x = 1\x00\n")
    failures = check_syntax(root=tmp_path, paths=["nul.py"])
    assert failures and failures[0].reason.startswith("nul.py:")


def test_missing_and_unknown_files_are_skipped(tmp_path):
    write(tmp_path, "notes.txt", "def f(:\n")
    assert check_syntax(root=tmp_path, paths=["deleted.py", "notes.txt"]) == []


def test_directory_path_is_skipped(tmp_path):
    (tmp_path / "pkg.py").mkdir()
    assert check_syntax(root=tmp_path, paths=["pkg.py"]) == []


def test_path_outside_root_is_not_checked(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    write(tmp_path, "outside.py", "def f(:\n")
    assert check_syntax(root=root, paths=["../outside.py"]) == []


def test_json_valid_and_invalid(tmp_path):
    good = write(tmp_path, "good.json", '{"a": [1, 2]}\n')
    bad = write(tmp_path, "conf/bad.json", '{\n  "a": 1,\n}\n')
    failures = check_syntax(root=tmp_path, paths=[good, bad])
    assert [f.path for f in failures] == ["conf/bad.json"]
    assert failures[0].reason.startswith("conf/bad.json:3: ")


def test_json_with_comments_files_are_skipped(tmp_path):
    paths = [write(tmp_path, name, '{\n  // comment\n  "a": 1,\n}\n')
             for name in ("tsconfig.json", "tsconfig.build.json", ".vscode/settings.json")]
    assert check_syntax(root=tmp_path, paths=paths) == []


def test_several_files_report_each_failure(tmp_path):
    paths = [write(tmp_path, "a.py", "x = (\n"), write(tmp_path, "b.py", "y = 1\n"),
             write(tmp_path, "c.json", "[1,]")]
    failures = check_syntax(root=tmp_path, paths=paths)
    assert [f.path for f in failures] == ["a.py", "c.json"]
    assert all(isinstance(f, EditFailure) for f in failures)


@needs_node
def test_javascript_commonjs_valid_and_invalid(tmp_path):
    good = write(tmp_path, "src/ok.js", "const x = require('fs');\nmodule.exports = { x };\n")
    bad = write(tmp_path, "src/bad.js", "const a = 1;\nconst b = ;\n")
    failures = check_syntax(root=tmp_path, paths=[good, bad])
    assert [f.path for f in failures] == ["src/bad.js"]
    assert failures[0].reason.startswith("src/bad.js:2: SyntaxError: Unexpected token")
    assert "const b = ;" in failures[0].reason


@needs_node
def test_javascript_es_module_in_js_file(tmp_path):
    good = write(tmp_path, "esm.js", "import fs from 'fs';\nexport const x = fs;\n")
    bad = write(tmp_path, "bad_esm.js", "import fs from 'fs';\nexport const x = ;\n")
    failures = check_syntax(root=tmp_path, paths=[good, bad])
    assert [f.path for f in failures] == ["bad_esm.js"]
    assert failures[0].reason.startswith("bad_esm.js:2: SyntaxError")


@needs_node
def test_mjs_and_cjs_use_their_module_type(tmp_path):
    mjs = write(tmp_path, "a.mjs", "export default 1;\n")
    cjs = write(tmp_path, "b.cjs", "export default 1;\n")
    failures = check_syntax(root=tmp_path, paths=[mjs, cjs])
    assert [f.path for f in failures] == ["b.cjs"]


def test_javascript_skipped_without_node(tmp_path, monkeypatch):
    path = write(tmp_path, "bad.js", "const b = ;\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert check_syntax(root=tmp_path, paths=[path]) == []
