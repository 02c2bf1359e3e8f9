import os
from pathlib import Path

import pytest

from agent.core.edits import (
    ApplyResult,
    EditBlock,
    EditFailure,
    apply_edits,
    choose_format,
    format_instructions,
    format_label,
    parse_edits,
)

FENCE = "```"


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode("utf-8"))
    return root


def diff_answer(path: str, search: str, replace: str, *, lang: str = "python") -> str:
    return (
        f"{path}\n{FENCE}{lang}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n{FENCE}\n"
    )


def whole_answer(path: str, content: str, *, lang: str = "python") -> str:
    return f"{path}\n{FENCE}{lang}\n{content}{FENCE}\n"


SAMPLE = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


# --------------------------------------------------------------------------- parsing


def test_parse_whole_block():
    blocks = parse_edits("Here you go:\n\n" + whole_answer("app/x.py", "print(1)\n") + "\nDone.")
    assert blocks == [EditBlock(path="app/x.py", kind="whole", search=None, replace="print(1)\n")]


def test_parse_diff_blocks_sharing_one_fence():
    answer = (
        "app/x.py\n```python\n<<<<<<< SEARCH\na = 1\n=======\na = 2\n>>>>>>> REPLACE\n"
        "<<<<<<< SEARCH\nb = 1\n=======\nb = 2\n>>>>>>> REPLACE\n```\n"
    )
    blocks = parse_edits(answer)
    assert [(b.path, b.search, b.replace) for b in blocks] == [
        ("app/x.py", "a = 1\n", "a = 2\n"),
        ("app/x.py", "b = 1\n", "b = 2\n"),
    ]
    assert all(b.kind == "diff" and not b.truncated for b in blocks)


@pytest.mark.parametrize("path_line", [
    "`app/x.py`",
    "**app/x.py**",
    "**`app/x.py`**",
    "File: app/x.py",
    "Filename: `app/x.py`",
    "### app/x.py",
    "app/x.py:",
    "- app/x.py",
    "app/x.py (updated)",
])
def test_parse_decorated_path_lines(path_line):
    blocks = parse_edits(f"{path_line}\n```python\nx = 1\n```\n")
    assert [b.path for b in blocks] == ["app/x.py"]


@pytest.mark.parametrize("first_line", ["# app/x.py", "// app/x.py", "File: app/x.py"])
def test_parse_path_as_first_line_inside_fence_is_not_content(first_line):
    blocks = parse_edits(f"Updated file:\n```python\n{first_line}\nx = 1\n```\n")
    assert blocks == [EditBlock(path="app/x.py", kind="whole", search=None, replace="x = 1\n")]


def test_parse_path_in_fence_info_string():
    assert parse_edits("```python app/x.py\nx = 1\n```\n")[0].path == "app/x.py"
    assert parse_edits("```py:app/y.py\nx = 1\n```\n")[0].path == "app/y.py"


def test_parse_path_named_in_prose_ending_with_colon():
    blocks = parse_edits("Here is the updated `app/x.py`:\n```python\nx = 1\n```\n")
    assert [b.path for b in blocks] == ["app/x.py"]


def test_parse_ignores_fences_without_path_such_as_shell_commands():
    answer = "Run the tests with:\n```bash\npytest -q\n```\nThen check `app/x.py`:\n```bash\nls\n```\n"
    assert parse_edits(answer) == []


def test_parse_crlf_answer_and_trailing_spaces_on_markers():
    answer = diff_answer("app/x.py  ", "a = 1\n", "a = 2\n").replace("SEARCH", "SEARCH   ")
    blocks = parse_edits(answer.replace("\n", "\r\n"))
    assert [(b.path, b.search, b.replace) for b in blocks] == [("app/x.py", "a = 1\n", "a = 2\n")]


def test_parse_diff_without_any_fence():
    answer = "app/x.py\n<<<<<<< SEARCH\na = 1\n=======\na = 2\n>>>>>>> REPLACE\n"
    assert parse_edits(answer)[0].path == "app/x.py"


def test_parse_extra_fences_around_path_and_block():
    answer = (
        "```python\napp/x.py\n```\n```python\n<<<<<<< SEARCH\na = 1\n=======\na = 2\n"
        ">>>>>>> REPLACE\n```\n```\n\nnew.py\n```python\nprint(1)\n```\n"
    )
    blocks = parse_edits(answer)
    assert [(b.path, b.kind) for b in blocks] == [("app/x.py", "diff"), ("new.py", "whole")]
    assert blocks[1].replace == "print(1)\n"


def test_parse_whole_block_wrapped_in_an_extra_fence():
    blocks = parse_edits("app/x.py\n```\n```python\nx = 1\n```\n```\n")
    assert blocks[0].replace == "x = 1\n"


def test_parse_whole_block_missing_closing_fence_at_end_is_truncated():
    blocks = parse_edits("app/x.py\n```python\nx = 1\ny = 2\n")
    assert blocks == [EditBlock(path="app/x.py", kind="whole", search=None, replace="x = 1\ny = 2\n",
                                truncated=True)]


def test_parse_markdown_file_keeps_nested_code_fences():
    content = "# Title\n\n```python\nprint(1)\n```\n\nEnd.\n"
    blocks = parse_edits(whole_answer("docs/README.md", content, lang="markdown"))
    assert blocks[0].replace == content


@pytest.mark.parametrize("answer", [
    "app/x.py\n```python\n<<<<<<< SEARCH\na = 1\n",
    "app/x.py\n```python\n<<<<<<< SEARCH\na = 1\n=======\na = 2\n",
])
def test_parse_block_cut_off_at_end_is_truncated(answer):
    blocks = parse_edits(answer)
    assert len(blocks) == 1 and blocks[0].truncated and blocks[0].path == "app/x.py"


def test_parse_block_missing_replace_marker_before_next_block():
    answer = (
        "app/x.py\n<<<<<<< SEARCH\na = 1\n=======\na = 2\n"
        "<<<<<<< SEARCH\nb = 1\n=======\nb = 2\n>>>>>>> REPLACE\n"
    )
    blocks = parse_edits(answer)
    assert [b.truncated for b in blocks] == [True, False]
    assert blocks[1].search == "b = 1\n"


# --------------------------------------------------------------------------- applying: happy paths


def test_apply_diff_edit(tmp_path):
    make_tree(tmp_path, {"calc.py": SAMPLE})
    result = apply_edits(root=tmp_path, answer=diff_answer("calc.py", "    return a - b\n", "    return b - a\n"))
    assert result.ok and result.applied == ["calc.py"]
    assert (tmp_path / "calc.py").read_text() == SAMPLE.replace("a - b", "b - a")


def test_apply_whole_file_replaces_content_and_adds_trailing_newline(tmp_path):
    make_tree(tmp_path, {"calc.py": SAMPLE})
    answer = "calc.py\n```python\nVALUE = 1\n```"
    result = apply_edits(root=tmp_path, answer=answer)
    assert result.to_dict() == {"applied": ["calc.py"], "failed": [], "notes": [], "formats": ["whole"]}
    assert (tmp_path / "calc.py").read_text() == "VALUE = 1\n"


def test_apply_whole_file_creates_new_file_in_new_directory(tmp_path):
    result = apply_edits(root=tmp_path, answer=whole_answer("pkg/sub/new.py", "x = 1\n"))
    assert result.ok and (tmp_path / "pkg/sub/new.py").read_text() == "x = 1\n"


def test_apply_empty_search_creates_new_file(tmp_path):
    result = apply_edits(root=tmp_path, answer=diff_answer("pkg/new.py", "", "x = 1"  "\n"))
    assert result.applied == ["pkg/new.py"]
    assert (tmp_path / "pkg/new.py").read_text() == "x = 1\n"


def test_apply_empty_search_on_empty_existing_file(tmp_path):
    make_tree(tmp_path, {"pkg/__init__.py": ""})
    result = apply_edits(root=tmp_path, answer=diff_answer("pkg/__init__.py", "", "VERSION = 2\n"))
    assert result.ok and (tmp_path / "pkg/__init__.py").read_text() == "VERSION = 2\n"


def test_apply_empty_search_on_non_empty_file_fails(tmp_path):
    make_tree(tmp_path, {"calc.py": SAMPLE})
    result = apply_edits(root=tmp_path, answer=diff_answer("calc.py", "", "x = 1\n"))
    assert not result.ok and "already exists and is not empty" in result.failed[0].reason
    assert (tmp_path / "calc.py").read_text() == SAMPLE


def test_apply_mixed_whole_and_diff_in_one_answer(tmp_path):
    make_tree(tmp_path, {"calc.py": SAMPLE})
    answer = (
        "I will add a helper and use it.\n\n"
        + whole_answer("helpers.py", "def double(x):\n    return 2 * x\n")
        + "\nThen:\n\n"
        + diff_answer("calc.py", "def add(a, b):\n", "from helpers import double\n\n\ndef add(a, b):\n")
    )
    result = apply_edits(root=tmp_path, answer=answer)
    assert result.applied == ["helpers.py", "calc.py"] and result.ok
    assert (tmp_path / "calc.py").read_text().startswith("from helpers import double\n")


def test_apply_several_blocks_on_same_file_lists_path_once(tmp_path):
    make_tree(tmp_path, {"calc.py": SAMPLE})
    answer = (
        "calc.py\n```python\n<<<<<<< SEARCH\n    return a + b\n=======\n    return b + a\n>>>>>>> REPLACE\n"
        "<<<<<<< SEARCH\n    return a - b\n=======\n    return b - a\n>>>>>>> REPLACE\n```\n"
    )
    result = apply_edits(root=tmp_path, answer=answer)
    assert result.applied == ["calc.py"] and result.ok
    assert "b + a" in (tmp_path / "calc.py").read_text() and "b - a" in (tmp_path / "calc.py").read_text()


def test_apply_failed_block_does_not_stop_the_others(tmp_path):
    make_tree(tmp_path, {"calc.py": SAMPLE})
    answer = diff_answer("calc.py", "nothing like this\n", "x\n") + diff_answer("calc.py", "    return a - b\n", "    return 0\n")
    result = apply_edits(root=tmp_path, answer=answer)
    assert result.applied == ["calc.py"] and len(result.failed) == 1 and not result.ok
    assert "return 0" in (tmp_path / "calc.py").read_text()


def test_apply_deletion_with_empty_replace(tmp_path):
    make_tree(tmp_path, {"calc.py": SAMPLE})
    result = apply_edits(root=tmp_path, answer=diff_answer("calc.py", "\n\ndef sub(a, b):\n    return a - b\n", ""))
    assert result.ok and (tmp_path / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"


# --------------------------------------------------------------------------- forgiving matching


def test_apply_shifted_indentation_reindents_replace(tmp_path):
    source = "class A:\n    def run(self):\n        x = 1\n        return x\n"
    make_tree(tmp_path, {"a.py": source})
    search = "def run(self):\n    x = 1\n    return x\n"
    replace = "def run(self):\n    x = 2\n    if x:\n        return x\n"
    result = apply_edits(root=tmp_path, answer=diff_answer("a.py", search, replace))
    assert result.ok
    assert (tmp_path / "a.py").read_text() == (
        "class A:\n    def run(self):\n        x = 2\n        if x:\n            return x\n"
    )


def test_apply_search_indented_more_than_file(tmp_path):
    make_tree(tmp_path, {"a.py": "def f():\n    return 1\n"})
    answer = diff_answer("a.py", "    def f():\n        return 1\n", "    def f():\n        return 2\n")
    assert apply_edits(root=tmp_path, answer=answer).ok
    assert (tmp_path / "a.py").read_text() == "def f():\n    return 2\n"


def test_apply_ignores_trailing_whitespace_differences(tmp_path):
    make_tree(tmp_path, {"a.py": "x = 1   \ny = 2\n"})
    assert apply_edits(root=tmp_path, answer=diff_answer("a.py", "x = 1\ny = 2  \n", "x = 3\ny = 2\n")).ok
    assert (tmp_path / "a.py").read_text() == "x = 3\ny = 2\n"


def test_apply_search_with_spurious_blank_edge_lines(tmp_path):
    make_tree(tmp_path, {"a.py": "x = 1\ny = 2\n"})
    answer = diff_answer("a.py", "\ny = 2\n\n", "\ny = 3\n\n")
    assert apply_edits(root=tmp_path, answer=answer).ok
    assert (tmp_path / "a.py").read_text() == "x = 1\ny = 3\n"


def test_apply_preserves_crlf_line_endings(tmp_path):
    make_tree(tmp_path, {"win.py": "a = 1\r\nb = 2\r\n"})
    assert apply_edits(root=tmp_path, answer=diff_answer("win.py", "b = 2\n", "b = 3\nc = 4\n")).ok
    assert (tmp_path / "win.py").read_bytes() == b"a = 1\r\nb = 3\r\nc = 4\r\n"
    assert apply_edits(root=tmp_path, answer=whole_answer("win.py", "z = 0\n")).ok
    assert (tmp_path / "win.py").read_bytes() == b"z = 0\r\n"


def test_apply_keeps_utf8_bom(tmp_path):
    make_tree(tmp_path, {"bom.py": "\ufeffx = 1\n"})
    assert apply_edits(root=tmp_path, answer=diff_answer("bom.py", "x = 1\n", "x = 2\n")).ok
    assert (tmp_path / "bom.py").read_bytes() == "\ufeffx = 2\n".encode()


def test_apply_unique_suffix_path(tmp_path):
    make_tree(tmp_path, {"src/app/models.py": "x = 1\n", "src/app/views.py": "y = 1\n"})
    result = apply_edits(root=tmp_path, answer=diff_answer("app/models.py", "x = 1\n", "x = 2\n"))
    assert result.applied == ["src/app/models.py"]
    result = apply_edits(root=tmp_path, answer=whole_answer("views.py", "y = 2\n"))
    assert result.applied == ["src/app/views.py"]
    assert (tmp_path / "src/app/views.py").read_text() == "y = 2\n"


def test_apply_ambiguous_suffix_fails_for_diff(tmp_path):
    make_tree(tmp_path, {"a/models.py": "x = 1\n", "b/models.py": "x = 1\n"})
    result = apply_edits(root=tmp_path, answer=diff_answer("models.py", "x = 1\n", "x = 2\n"))
    reason = result.failed[0].reason
    assert "ambiguous" in reason and "a/models.py" in reason and "b/models.py" in reason
    assert (tmp_path / "a/models.py").read_text() == "x = 1\n"


def test_apply_ambiguous_suffix_whole_block_creates_the_literal_path(tmp_path):
    make_tree(tmp_path, {"a/models.py": "x = 1\n", "b/models.py": "x = 1\n"})
    result = apply_edits(root=tmp_path, answer=whole_answer("models.py", "x = 9\n"))
    assert result.applied == ["models.py"]
    assert (tmp_path / "a/models.py").read_text() == "x = 1\n"


def test_apply_suffix_must_match_whole_path_components(tmp_path):
    make_tree(tmp_path, {"app/mymodels.py": "x = 1\n"})
    result = apply_edits(root=tmp_path, answer=diff_answer("models.py", "x = 1\n", "x = 2\n"))
    assert "does not exist" in result.failed[0].reason


def test_apply_whole_block_identical_content_changes_nothing(tmp_path):
    make_tree(tmp_path, {"calc.py": SAMPLE, "other.py": "y = 1\n"})
    answer = whole_answer("calc.py", SAMPLE) + whole_answer("other.py", "y = 2\n")
    result = apply_edits(root=tmp_path, answer=answer)
    assert result.applied == ["other.py"] and result.ok
    only_unchanged = apply_edits(root=tmp_path, answer=whole_answer("calc.py", SAMPLE))
    assert only_unchanged.applied == [] and "none of them changed" in only_unchanged.failed[0].reason


# --------------------------------------------------------------------------- refusals and failures


def test_apply_no_edit_blocks(tmp_path):
    result = apply_edits(root=tmp_path, answer="I think the code is fine as it is.")
    assert not result.ok and result.failed[0].path == ""
    assert "No edit blocks" in result.failed[0].reason and "SEARCH" in result.failed[0].reason


def test_apply_search_not_found_shows_nearest_numbered_lines(tmp_path):
    source = "".join(f"line_{n} = {n}\n" for n in range(1, 41))
    make_tree(tmp_path, {"big.py": source})
    answer = diff_answer("big.py", "line_20 = 200\nline_21 = 21\n", "x = 0\n")
    result = apply_edits(root=tmp_path, answer=answer)
    reason = result.failed[0].reason
    assert result.failed[0].path == "big.py" and "not found" in reason
    assert "   20 | line_20 = 20" in reason and "   21 | line_21 = 21" in reason
    assert "line_1 = 1\n" not in reason and len(reason.splitlines()) <= 12
    assert (tmp_path / "big.py").read_text() == source


def test_apply_not_found_notes_replace_already_present(tmp_path):
    make_tree(tmp_path, {"a.py": "x = 2\n"})
    result = apply_edits(root=tmp_path, answer=diff_answer("a.py", "x = 1\n", "x = 2\n"))
    assert "already in a.py" in result.failed[0].reason


def test_apply_ambiguous_search_found_twice(tmp_path):
    make_tree(tmp_path, {"a.py": "def f():\n    pass\n\n\ndef g():\n    pass\n"})
    result = apply_edits(root=tmp_path, answer=diff_answer("a.py", "    pass\n", "    return 1\n"))
    reason = result.failed[0].reason
    assert "match 2 places" in reason and "lines 2, 6" in reason
    assert (tmp_path / "a.py").read_text().count("pass") == 2


def test_apply_ambiguous_shifted_search(tmp_path):
    make_tree(tmp_path, {"a.py": "class A:\n    x = 1\nclass B:\n    x = 1\n"})
    result = apply_edits(root=tmp_path, answer=diff_answer("a.py", "        x = 1\n", "        x = 2\n"))
    assert "match 2 places" in result.failed[0].reason


def test_apply_truncated_block_is_not_applied(tmp_path):
    make_tree(tmp_path, {"a.py": "x = 1\n"})
    answer = "a.py\n```python\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n"
    result = apply_edits(root=tmp_path, answer=answer)
    assert result.applied == [] and "incomplete" in result.failed[0].reason
    assert (tmp_path / "a.py").read_text() == "x = 1\n"


def test_apply_search_in_missing_file_fails(tmp_path):
    result = apply_edits(root=tmp_path, answer=diff_answer("nope.py", "x = 1\n", "x = 2\n"))
    assert "does not exist" in result.failed[0].reason and not (tmp_path / "nope.py").exists()


@pytest.mark.parametrize("path, expected", [
    ("../escape.py", "'..'"),
    ("app/../../escape.py", "'..'"),
    ("/tmp/escape.py", "absolute"),
    (".git/config", ".git/"),
    ("sub/.git/hooks/pre-commit", ".git/"),
])
def test_apply_refuses_unsafe_paths(tmp_path, path, expected):
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".git").mkdir()
    (root / ".git/config").write_text("[core]\n")
    result = apply_edits(root=root, answer=whole_answer(path, "x = 1\n"))
    assert result.applied == [] and expected in result.failed[0].reason
    assert (root / ".git/config").read_text() == "[core]\n"
    assert not (tmp_path / "escape.py").exists()


def test_apply_refuses_symlinked_directory_escaping_the_tree(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "repo"
    root.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    result = apply_edits(root=root, answer=whole_answer("link/evil.py", "x = 1\n"))
    assert "outside the repository" in result.failed[0].reason
    assert not (outside / "evil.py").exists()


def test_apply_refuses_symlinked_file_escaping_the_tree(tmp_path):
    outside = tmp_path / "secret.py"
    outside.write_text("x = 1\n")
    root = tmp_path / "repo"
    root.mkdir()
    (root / "inside.py").symlink_to(outside)
    result = apply_edits(root=root, answer=diff_answer("inside.py", "x = 1\n", "x = 2\n"))
    assert "outside the repository" in result.failed[0].reason
    assert outside.read_text() == "x = 1\n"


def test_apply_refuses_symlink_into_git_dir(tmp_path):
    make_tree(tmp_path, {".git/HEAD": "ref: refs/heads/main\n"})
    (tmp_path / "head.txt").symlink_to(tmp_path / ".git/HEAD")
    result = apply_edits(root=tmp_path, answer=whole_answer("head.txt", "evil\n", lang=""))
    assert ".git/" in result.failed[0].reason
    assert (tmp_path / ".git/HEAD").read_text() == "ref: refs/heads/main\n"


def test_apply_allows_symlink_inside_the_tree(tmp_path):
    make_tree(tmp_path, {"real/a.py": "x = 1\n"})
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    assert apply_edits(root=tmp_path, answer=diff_answer("alias/a.py", "x = 1\n", "x = 2\n")).ok
    assert (tmp_path / "real/a.py").read_text() == "x = 2\n"


def test_apply_refuses_empty_whole_block_for_existing_file(tmp_path):
    make_tree(tmp_path, {"calc.py": SAMPLE})
    result = apply_edits(root=tmp_path, answer="calc.py\n```python\n```\n")
    assert "would erase" in result.failed[0].reason and (tmp_path / "calc.py").read_text() == SAMPLE


def test_apply_diff_without_any_path(tmp_path):
    result = apply_edits(root=tmp_path, answer="<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n")
    assert "no file path" in result.failed[0].reason


def test_apply_refuses_directory_target(tmp_path):
    (tmp_path / "pkg/sub").mkdir(parents=True)
    result = apply_edits(root=tmp_path, answer=diff_answer("pkg/sub", "", "x\n", lang=""))
    assert "is a directory" in result.failed[0].reason


def test_apply_refuses_non_utf8_file(tmp_path):
    (tmp_path / "latin.py").write_bytes("x = 'é'\n".encode("latin-1"))
    result = apply_edits(root=tmp_path, answer=diff_answer("latin.py", "x\n", "y\n"))
    assert "not UTF-8" in result.failed[0].reason


def test_apply_missing_root_raises(tmp_path):
    with pytest.raises(NotADirectoryError, match="does not exist"):
        apply_edits(root=tmp_path / "missing", answer="x")


def test_apply_result_ok_and_to_dict():
    assert not ApplyResult(applied=[], failed=[]).ok
    result = ApplyResult(applied=["a.py"], failed=[EditFailure(path="b.py", reason="nope")])
    assert not result.ok
    assert result.to_dict() == {"applied": ["a.py"], "failed": [{"path": "b.py", "reason": "nope"}], "notes": [],
                                "formats": []}


def test_apply_keeps_file_mode(tmp_path):
    make_tree(tmp_path, {"run.sh": "echo 1\n"})
    os.chmod(tmp_path / "run.sh", 0o755)
    assert apply_edits(root=tmp_path, answer=diff_answer("run.sh", "echo 1\n", "echo 2\n", lang="bash")).ok
    assert os.stat(tmp_path / "run.sh").st_mode & 0o777 == 0o755


# --------------------------------------------------------------------------- format helpers


def test_choose_format():
    assert choose_format(setting="whole", line_counts=[5000]) == "whole"
    assert choose_format(setting="diff", line_counts=[1]) == "diff"
    assert choose_format(setting="auto", line_counts=[10, 399]) == "whole"
    assert choose_format(setting="auto", line_counts=[10, 400]) == "diff"
    assert choose_format(setting="auto", line_counts=[]) == "whole"
    assert choose_format(setting=" AUTO ", line_counts=[1]) == "whole"
    with pytest.raises(ValueError, match="'whole', 'diff' or 'auto'"):
        choose_format(setting="udiff", line_counts=[])


@pytest.mark.parametrize("edit_format", ["whole", "diff"])
def test_format_instructions_example_round_trips(tmp_path, edit_format):
    text = format_instructions(edit_format)
    (tmp_path / "app").mkdir()
    (tmp_path / "app/greeting.py").write_text('def greet(name):\n    return "Hello " + name\n')
    result = apply_edits(root=tmp_path, answer=text)
    assert result.ok and result.applied == ["app/greeting.py"]
    assert 'f"Hello, {name}!"' in (tmp_path / "app/greeting.py").read_text()
    assert result.formats == [edit_format] and result.to_dict()["formats"] == [edit_format]


def test_an_answer_mixing_formats_reports_both_and_the_label_says_who_chose(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app/greeting.py").write_text('def greet(name):\n    return "Hello " + name\n')
    answer = format_instructions("diff") + "\napp/new.py\n```python\nVALUE = 1\n```\n"
    result = apply_edits(root=tmp_path, answer=answer)
    assert result.ok and result.formats == ["diff", "whole"]
    assert format_label(setting="auto", formats=result.formats) == "diff+whole (auto)"
    assert format_label(setting="whole", formats=["diff"]) == "diff"
    assert apply_edits(root=tmp_path, answer="no blocks here").formats == []


def test_format_instructions_rejects_unknown_format():
    with pytest.raises(ValueError, match="Unknown edit format"):
        format_instructions("udiff")  # type: ignore[arg-type]


def test_parse_diff_path_above_one_sentence():
    answer = "### app/x.py\nChange the return value:\n```python\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n```\n"
    assert [b.path for b in parse_edits(answer)] == ["app/x.py"]


def test_parse_fenced_path_line_announces_next_block():
    answer = "```\nnew.py\n```\n```python\nprint(1)\n```\n"
    assert parse_edits(answer) == [EditBlock(path="new.py", kind="whole", search=None, replace="print(1)\n")]


def test_apply_fence_without_path_explains_missing_path(tmp_path):
    result = apply_edits(root=tmp_path, answer="```python\nprint(1)\n```\n")
    assert "no file path line" in result.failed[0].reason
