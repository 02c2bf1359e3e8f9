"""The gold answer is the commit's real change as the agent's applier reads it; which paths count as tests."""
from pathlib import Path

import pytest

from agent.core.edits import apply_edits
from factory_bench.gold import fence_for, gold_answer, replacements
from factory_bench.history import is_code_path, is_test_path, selection_problem


def applied(tmp_path: Path, files: dict[str, str], answer: str) -> dict[str, str]:
    for path, content in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(content)
    result = apply_edits(root=tmp_path, answer=answer)
    assert result.ok, result.failed
    return {path: (tmp_path / path).read_text() for path in result.applied}


def test_changes_in_a_big_file_of_repeated_lines_become_unique_search_blocks(tmp_path):
    block = "def f{n}():\n    value = 1\n    return value\n\n\n"
    before = "".join(block.format(n=n) for n in range(2000))  # 10,000 lines, "value = 1" 2,000 times
    after = before.replace("def f7():\n    value = 1", "def f7():\n    value = 7").replace(
        "def f1500():\n    value = 1\n", "def f1500():\n    value = 1\n    value += 1\n")

    answer = gold_answer({"big.py": (before, after)})

    assert answer.notes == () and "<<<<<<< SEARCH" in answer.text and len(answer.text) < 1000
    assert applied(tmp_path, {"big.py": before}, answer.text) == {"big.py": after}


def test_new_files_are_whole_and_markdown_fences_stay_inside(tmp_path):
    readme = "# Use\n\n```python\nimport calc\n```\n"
    answer = gold_answer({"docs/use.md": (None, readme), "calc.py": ("x = 1\n", "x = 2\n"),
                          "old.py": ("gone = True\n", None)})

    assert fence_for(readme) == "````"
    assert answer.notes == ("old.py: deleted by the commit; an answer cannot delete a file, so it stays",)
    assert applied(tmp_path, {"calc.py": "x = 1\n"}, answer.text) == {"calc.py": "x = 2\n", "docs/use.md": readme}


def test_a_change_that_no_unique_search_can_hold_is_written_whole(tmp_path):
    before, after = "a\n" * 10, "b\n" + "a\n" * 8 + "b\n"  # the last change cannot be told from the others
    assert replacements(before, after) is None
    answer = gold_answer({"same.txt": (before, after)})
    assert "SEARCH" not in answer.text
    assert applied(tmp_path, {"same.txt": before}, answer.text) == {"same.txt": after}


@pytest.mark.parametrize(("path", "test", "code"), [
    ("tests/test_x.py", True, False), ("pkg/x_test.py", True, False), ("src/a.test.ts", True, False),
    ("src/__tests__/a.js", True, False), ("test/fixtures/data.json", True, False), ("conftest.py", True, False),
    ("spec/helper.rb", True, False), ("src/app.py", False, True), ("index.js", False, True),
    ("README.md", False, False), ("docs/conf.py", False, False), (".github/workflows/ci.yml", False, False),
    ("CHANGELOG", False, False), (".eslintrc.json", False, False), ("package.json", False, True),
])
def test_paths_are_tests_code_or_neither(path, test, code):
    assert (is_test_path(path), is_code_path(path)) == (test, code)


def test_a_commit_needs_code_and_tests():
    assert selection_problem(["src/a.py", "tests/test_a.py", "README.md"]) == ""
    assert selection_problem(["src/a.py"]) == "it changes no test file"
    assert selection_problem(["tests/test_a.py", "docs/x.md"]).startswith("it changes only tests")
    assert selection_problem(["README.md", ".github/ci.yml"]).startswith("it changes only documentation")
