"""Answers apply and never destroy: the defects of issue 13, and the cases of a peer tool's own
edit-format tests (aider's tests/basic/test_editblock.py and test_wholefile.py) as they apply to
this applier (it never guesses, so aider's fuzzy file-name matching has no counterpart here)."""
import subprocess
from pathlib import Path

import pytest

from agent.core.edits import apply_edits, parse_edits

FENCE = "```"
def sr(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


HUNDRED_LINES = "".join(f"line_{number} = {number}\n" for number in range(100))


def git_repo(root: Path, files: dict[str, str]) -> Path:
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"],
                   check=True)
    return root


def untracked_or_changed(root: Path) -> list[str]:
    output = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "-uall"], capture_output=True,
                            text=True, check=True).stdout
    return sorted(line[3:] for line in output.splitlines())


# --------------------------------------------------------------------------- defect (a)


def test_fenced_file_names_before_a_search_block_never_overwrite_the_first_file(tmp_path):
    root = git_repo(tmp_path, {"file1.py": "a = 1\nb = 2\n", "file2.py": "one\n"})
    answer = f"{FENCE}python\nfile1.py\n{FENCE}\n{FENCE}\nfile2.py\n{FENCE}\n" + sr("one\n", "two\n")
    result = apply_edits(root=root, answer=answer)
    assert result.ok and result.applied == ["file2.py"]
    assert (root / "file2.py").read_text() == "two\n"
    assert (root / "file1.py").read_text() == "a = 1\nb = 2\n"
    assert untracked_or_changed(root) == ["file2.py"]


def test_fenced_file_name_before_a_whole_block_names_that_block(tmp_path):
    root = git_repo(tmp_path, {"file1.py": "a = 1\nb = 2\n", "file2.py": "one\n"})
    answer = f"{FENCE}\nfile1.py\n{FENCE}\n{FENCE}\nfile2.py\n{FENCE}\n{FENCE}python\nthree = 3\n{FENCE}\n"
    result = apply_edits(root=root, answer=answer)
    assert result.applied == ["file2.py"] and (root / "file2.py").read_text() == "three = 3\n"
    assert (root / "file1.py").read_text() == "a = 1\nb = 2\n"


def test_a_file_name_is_never_written_as_the_content_of_a_file(tmp_path):
    root = git_repo(tmp_path, {"file1.py": "a = 1\nb = 2\n", "file2.py": "one\n"})
    answer = f"file1.py\n{FENCE}\nfile2.py\n{FENCE}\nNow the change:\n{FENCE}python\nthree = 3\n{FENCE}\n"
    result = apply_edits(root=root, answer=answer)
    assert (root / "file1.py").read_text() == "a = 1\nb = 2\n"
    assert "names a file" in result.failed[0].reason and result.failed[0].path == "file1.py"


def test_a_one_line_file_may_still_hold_a_version_number(tmp_path):
    root = git_repo(tmp_path, {".python-version": "3.11\n", "app.py": "x = 1\n"})
    answer = f".python-version\n{FENCE}\n3.12\n{FENCE}\n{FENCE}python\n# app.py\nx = 2\n{FENCE}\n"
    result = apply_edits(root=root, answer=answer)
    assert result.ok and result.applied == [".python-version", "app.py"]
    assert (root / ".python-version").read_text() == "3.12\n" and (root / "app.py").read_text() == "x = 2\n"


# --------------------------------------------------------------------------- defect (b)


@pytest.mark.parametrize("name", ["gradlew", "NOTICE", "CODEOWNERS", "tmpk3j9x_q"])
def test_extensionless_root_file_is_a_path_in_the_whole_format(tmp_path, name):
    root = git_repo(tmp_path, {name: "old line 1\nold line 2\n"})
    result = apply_edits(root=root, answer=f"Here it is:\n\n{name}\n{FENCE}\nnew content\n{FENCE}\n")
    assert result.ok and result.applied == [name]
    assert (root / name).read_text() == "new content\n"


@pytest.mark.parametrize("name", ["gradlew", "NOTICE", "CODEOWNERS", "tmpk3j9x_q"])
def test_extensionless_root_file_is_a_path_in_the_diff_format(tmp_path, name):
    root = git_repo(tmp_path, {name: "old line 1\nold line 2\n"})
    answer = f"{name}\n{FENCE}\n<<<<<<< SEARCH\nold line 2\n=======\nnew line 2\n>>>>>>> REPLACE\n{FENCE}\n"
    result = apply_edits(root=root, answer=answer)
    assert result.ok and result.applied == [name]
    assert (root / name).read_text() == "old line 1\nnew line 2\n"


def test_an_extensionless_word_that_names_no_file_is_not_a_path(tmp_path):
    root = git_repo(tmp_path, {"gradlew": "x\n"})
    assert parse_edits(f"Summary\n{FENCE}\nprint(1)\n{FENCE}\n", known_paths=["gradlew"]) == []
    assert apply_edits(root=root, answer=f"Summary\n{FENCE}\nprint(1)\n{FENCE}\n").applied == []


# --------------------------------------------------------------------------- defect (c)


def test_whole_block_cut_off_before_its_closing_fence_is_never_applied(tmp_path):
    root = git_repo(tmp_path, {"sample.py": HUNDRED_LINES})
    result = apply_edits(root=root, answer=f"sample.py\n{FENCE}python\nline_0 = 0\nline_1 = 1\nline_2 = 2\n")
    assert result.applied == [] and not result.ok
    assert "no closing fence" in result.failed[0].reason and result.failed[0].path == "sample.py"
    assert (root / "sample.py").read_text() == HUNDRED_LINES


def test_cut_off_new_file_is_not_created(tmp_path):
    root = git_repo(tmp_path, {"a.py": "x = 1\n"})
    result = apply_edits(root=root, answer=f"a.py\n{FENCE}\nx = 2\n{FENCE}\n\nnew.py\n{FENCE}python\ndef f(\n")
    assert result.applied == ["a.py"] and "no closing fence" in result.failed[0].reason
    assert not (root / "new.py").exists()


def test_doubled_opening_fence_closed_once_is_complete(tmp_path):
    root = git_repo(tmp_path, {"a.py": "x = 1\n"})
    result = apply_edits(root=root, answer=f"a.py\n{FENCE}\n{FENCE}python\nx = 2\n{FENCE}\n")
    assert result.ok and (root / "a.py").read_text() == "x = 2\n"


# --------------------------------------------------------------------------- wrong folder, ticket file


def test_wrong_folder_edits_the_ticket_file_of_that_name_and_says_so(tmp_path):
    root = git_repo(tmp_path, {"app/calc.py": "def add(a, b):\n    return a - b\n", "lib/other.py": "x = 1\n"})
    answer = f"src/calc.py\n{FENCE}python\ndef add(a, b):\n    return a + b\n{FENCE}\n"
    result = apply_edits(root=root, answer=answer, files_to_modify=["app/calc.py"])
    assert result.ok and result.applied == ["app/calc.py"]
    assert (root / "app/calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert not (root / "src").exists()
    assert result.notes == ["src/calc.py does not exist: edited app/calc.py instead, the ticket's file of that name "
                            "(the folder was wrong)."]
    assert result.to_dict()["notes"] == result.notes


def test_wrong_folder_reaches_a_ticket_file_still_to_create(tmp_path):
    root = git_repo(tmp_path, {"app/calc.py": "x = 1\n"})
    create = sr("", "def test_x():\n    pass\n")
    answer = f"test_calc.py\n{FENCE}python\n{create}{FENCE}\n"
    result = apply_edits(root=root, answer=answer, files_to_modify=["app/calc.py", "tests/test_calc.py"])
    assert result.applied == ["tests/test_calc.py"] and (root / "tests/test_calc.py").is_file()
    assert not (root / "test_calc.py").exists() and "tests/test_calc.py" in result.notes[0]


def test_wrong_folder_diff_block_edits_the_ticket_file(tmp_path):
    root = git_repo(tmp_path, {"app/calc.py": "x = 1\n"})
    answer = "calc/calc.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n"
    result = apply_edits(root=root, answer=answer, files_to_modify=["app/calc.py"])
    assert result.applied == ["app/calc.py"] and (root / "app/calc.py").read_text() == "x = 2\n"


def test_a_ticket_file_named_exactly_elsewhere_in_the_answer_is_not_taken(tmp_path):
    root = git_repo(tmp_path, {"app/__init__.py": "from .calc import add\n", "app/calc.py": "x = 1\n"})
    answer = (f"app/__init__.py\n{FENCE}python\nfrom .calc import add, sub\n{FENCE}\n\n"
              f"app/sub/__init__.py\n{FENCE}python\nVALUE = 1\n{FENCE}\n")
    result = apply_edits(root=root, answer=answer, files_to_modify=["app/__init__.py"])
    assert result.applied == ["app/__init__.py", "app/sub/__init__.py"] and result.notes == []
    assert (root / "app/__init__.py").read_text() == "from .calc import add, sub\n"


def test_an_error_after_a_redirect_names_both_paths(tmp_path):
    root = git_repo(tmp_path, {"app/calc.py": "x = 1\n"})
    answer = "src/calc.py\n<<<<<<< SEARCH\ny = 1\n=======\ny = 2\n>>>>>>> REPLACE\n"
    result = apply_edits(root=root, answer=answer, files_to_modify=["app/calc.py"])
    assert result.failed[0].reason.startswith("(You wrote src/calc.py; it was taken as app/calc.py.)")


def test_without_ticket_files_an_unknown_path_is_a_new_file_as_before(tmp_path):
    root = git_repo(tmp_path, {"app/calc.py": "x = 1\n"})
    result = apply_edits(root=root, answer=f"src/calc.py\n{FENCE}python\nx = 2\n{FENCE}\n")
    assert result.applied == ["src/calc.py"] and (root / "app/calc.py").read_text() == "x = 1\n"


def test_unique_suffix_redirect_is_noted(tmp_path):
    root = git_repo(tmp_path, {"src/app/models.py": "x = 1\n"})
    result = apply_edits(root=root, answer=f"app/models.py\n{FENCE}python\nx = 2\n{FENCE}\n")
    assert result.applied == ["src/app/models.py"] and "src/app/models.py" in result.notes[0]


# --------------------------------------------------------------------------- aider: test_editblock.py


@pytest.mark.parametrize("lines, expected", [
    (["file1.py", FENCE], "file1.py"),
    ([f"{FENCE}python", "file3.py", FENCE], "file3.py"),
    ([f"{FENCE}python", "file1.py", FENCE, FENCE, "file2.py", FENCE], "file2.py"),
    (["# file1.py", FENCE], "file1.py"),
])
def test_aider_find_filename(lines, expected):
    answer = "\n".join(lines) + "\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n"
    assert [block.path for block in parse_edits(answer)] == [expected]


def test_aider_filename_inside_the_fence_resolves_to_its_folder(tmp_path):
    root = git_repo(tmp_path, {"dir/file3.py": "a\n"})
    change = sr("a\n", "b\n")
    result = apply_edits(root=root, answer=f"{FENCE}python\nfile3.py\n{change}{FENCE}\n")
    assert result.applied == ["dir/file3.py"] and (root / "dir/file3.py").read_text() == "b\n"


TWO_TO_TOOOOO = sr("Two\n", "Tooooo\n")


@pytest.mark.parametrize("answer", [
    f"\nHere's the change:\n\n{FENCE}text\nfoo.txt\n{TWO_TO_TOOOOO}{FENCE}\n\nHope you like it!\n",
    f"\nHere's the change:\n\nfoo.txt\n{FENCE}text\n{TWO_TO_TOOOOO}{FENCE}\n\nHope you like it!\n",
    f"\nHere's the change:\n\n {FENCE}python\nfoo.txt\n{FENCE}\n{FENCE}python\n{TWO_TO_TOOOOO}{FENCE}\n",
])
def test_aider_find_original_update_blocks(tmp_path, answer):
    root = git_repo(tmp_path, {"foo.txt": "One\nTwo\nThree\n"})
    result = apply_edits(root=root, answer=answer)
    assert result.ok and (root / "foo.txt").read_text() == "One\nTooooo\nThree\n"


def test_aider_unclosed_block_is_not_applied(tmp_path):
    root = git_repo(tmp_path, {"foo.txt": "One\nTwo\n"})
    answer = f"\nHere's the change:\n\n{FENCE}text\nfoo.txt\n<<<<<<< SEARCH\nTwo\n=======\nTooooo\n\n\noops!\n"
    result = apply_edits(root=root, answer=answer)
    assert result.applied == [] and "incomplete" in result.failed[0].reason
    assert (root / "foo.txt").read_text() == "One\nTwo\n"


def test_aider_missing_filename_is_explained(tmp_path):
    root = git_repo(tmp_path, {"foo.txt": "Two\n"})
    answer = f"\nHere's the change:\n\n{FENCE}text\n<<<<<<< SEARCH\nTwo\n=======\nTooooo\n\n\noops!\n>>>>>>> REPLACE\n"
    result = apply_edits(root=root, answer=answer)
    assert result.applied == [] and "no file path" in result.failed[0].reason


def test_aider_blocks_without_fences_and_no_final_newline(tmp_path):
    root = git_repo(tmp_path, {"aider/coder.py": "a()\nb()\nc()\n"})
    answer = "".join(f"\naider/coder.py\n<<<<<<< SEARCH\n{old}()\n=======\n{old}2()\n>>>>>>> REPLACE\n"
                     for old in "abc").rstrip("\n")
    assert len(parse_edits(answer)) == 3
    assert apply_edits(root=root, answer=answer).ok
    assert (root / "aider/coder.py").read_text() == "a2()\nb2()\nc2()\n"


def test_aider_second_block_in_the_same_fence_keeps_the_file_name(tmp_path):
    root = git_repo(tmp_path, {"tests/test_repomap.py": "one\ntwo\nthree\n"})
    first, second = sr("one\n", "1\n"), sr("three\n", "3\n")
    answer = (f"No problem! Here are the changes:\n\n{FENCE}python\ntests/test_repomap.py\n{first}\n{second}"
              f"{FENCE}\n\nThese changes replace ...\n")
    blocks = parse_edits(answer)
    assert [block.path for block in blocks] == ["tests/test_repomap.py"] * 2
    assert apply_edits(root=root, answer=answer).ok and (root / "tests/test_repomap.py").read_text() == "1\ntwo\n3\n"


def test_aider_new_file_beside_an_existing_one(tmp_path):
    root = git_repo(tmp_path, {"file.txt": "one\ntwo\nthree\n"})
    result = apply_edits(root=root, answer="\nDo this:\n\nnewfile.txt\n<<<<<<< SEARCH\n=======\ncreating a new file\n"
                                           ">>>>>>> REPLACE\n\n")
    assert result.ok and (root / "newfile.txt").read_text() == "creating a new file\n"
    assert (root / "file.txt").read_text() == "one\ntwo\nthree\n"


def test_aider_several_blocks_same_file_with_prose_between(tmp_path):
    root = git_repo(tmp_path, {"foo.txt": "one\nthree\n"})
    answer = (f"\nHere's the change:\n\n{FENCE}text\nfoo.txt\n<<<<<<< SEARCH\none\n=======\ntwo\n>>>>>>> REPLACE\n\n"
              f"...\n\n<<<<<<< SEARCH\nthree\n=======\nfour\n>>>>>>> REPLACE\n{FENCE}\n\nHope you like it!\n")
    assert apply_edits(root=root, answer=answer).ok and (root / "foo.txt").read_text() == "two\nfour\n"


def test_aider_new_file_in_a_new_folder_and_an_edit_in_it(tmp_path):
    root = git_repo(tmp_path, {"path/to/a/file1.txt": "one\n"})
    answer = (f"\nHere's the change:\n\npath/to/a/file2.txt\n{FENCE}python\n<<<<<<< SEARCH\n=======\nthree\n"
              f">>>>>>> REPLACE\n{FENCE}\n\nanother change\n\npath/to/a/file1.txt\n{FENCE}python\n<<<<<<< SEARCH\n"
              f"one\n=======\ntwo\n>>>>>>> REPLACE\n{FENCE}\n\nHope you like it!\n")
    result = apply_edits(root=root, answer=answer)
    assert result.applied == ["path/to/a/file2.txt", "path/to/a/file1.txt"]
    assert (root / "path/to/a/file2.txt").read_text() == "three\n"


def test_aider_quad_backticks_around_a_block(tmp_path):
    root = git_repo(tmp_path, {"README.md": "x\n"})
    create = sr("", "Tooooo\n")
    answer = f"\nHere's the change:\n\nfoo.txt\n````text\n{create}````\n\nHope you like it!\n"
    assert apply_edits(root=root, answer=answer).ok and (root / "foo.txt").read_text() == "Tooooo\n"


@pytest.mark.parametrize("language, path", [("sh", "test_hello.sh"), ("csharp", "Program.cs")])
def test_aider_file_name_under_a_language_tag(tmp_path, language, path):
    root = git_repo(tmp_path, {"README.md": "x\n"})
    create = sr("", 'echo "$1"\n')
    answer = f"\nHere's a change:\n\n{FENCE}{language}\n{path}\n{create}{FENCE}\n"
    assert apply_edits(root=root, answer=answer).applied == [path]
    assert (root / path).read_text() == 'echo "$1"\n'


# --------------------------------------------------------------------------- aider: test_wholefile.py


def test_aider_code_without_a_file_name_edits_nothing(tmp_path):
    root = git_repo(tmp_path, {"README.md": "x\n"})
    answer = ('To print "Hello, World!" you can use the following code:\n\n```python\nprint("Hello, World!")\n```\n\n'
              'This code will output "Hello, World!" to the console.')
    result = apply_edits(root=root, answer=answer)
    assert result.applied == [] and untracked_or_changed(root) == []


def test_aider_update_a_file(tmp_path):
    root = git_repo(tmp_path, {"sample.txt": "Original content\n"})
    result = apply_edits(root=root, answer=f"sample.txt\n{FENCE}\nUpdated content\n{FENCE}")
    assert result.applied == ["sample.txt"] and (root / "sample.txt").read_text() == "Updated content\n"


def test_aider_live_diff_of_a_partial_answer_is_not_applied(tmp_path):
    root = git_repo(tmp_path, {"sample.txt": "\n".join(map(str, range(100)))})
    result = apply_edits(root=root, answer=f"sample.txt\n{FENCE}\n0\n\\1\n2\n")
    assert result.applied == [] and untracked_or_changed(root) == []


def test_aider_file_holding_a_fence_answered_with_a_longer_fence(tmp_path):
    root = git_repo(tmp_path, {"sample.txt": "\nHere is some quoted text:\n```\nQuote!\n```\n"})
    result = apply_edits(root=root, answer="sample.txt\n````\nUpdated content\n````")
    assert result.applied == ["sample.txt"] and (root / "sample.txt").read_text() == "Updated content\n"


@pytest.mark.parametrize("written", ["path/to/sample.txt", "subdir/subdir/sample.txt"])
def test_aider_bogus_or_doubled_folder_reaches_the_ticket_file(tmp_path, written):
    root = git_repo(tmp_path, {"subdir/sample.txt": "Original content\n", "other/sibling.txt": "sibling\n"})
    result = apply_edits(root=root, answer=f"{written}\n{FENCE}\nUpdated content\n{FENCE}",
                         files_to_modify=["subdir/sample.txt", "other/sibling.txt"])
    assert result.applied == ["subdir/sample.txt"] and len(result.notes) == 1
    assert (root / "subdir/sample.txt").read_text() == "Updated content\n"
    assert untracked_or_changed(root) == ["subdir/sample.txt"]


def test_aider_file_named_in_the_sentence_before_the_fence(tmp_path):
    content = "def accumulate(collection, operation):\n    return [operation(x) for x in collection]\n"
    root = git_repo(tmp_path, {"accumulate.py": "Original content\n"})
    answer = (f"Here's the modified `accumulate.py` file that implements the `accumulate` function as per the given "
              f"instructions:\n\n```\n{content}```\n\nThis implementation uses a list comprehension.\n"
              "Run it like this:\n\n```\npython accumulate.py\n```\n\n")
    result = apply_edits(root=root, answer=answer)
    assert result.applied == ["accumulate.py"] and (root / "accumulate.py").read_text() == content


@pytest.mark.parametrize("answer", [
    ("\nHere is a new version of `a.txt` for you to consider:\n\n```\nafter a\n```\n\n"
     "And here is `b.txt`:\n\n```\nafter b\n```\n"),
    "\n\n### a.txt\n```\nafter a\n```\n\n### b.txt\n```\nafter b\n```\n",
])
def test_aider_two_files_named_before_their_blocks(tmp_path, answer):
    root = git_repo(tmp_path, {"a.txt": "before a\n", "b.txt": "before b\n"})
    result = apply_edits(root=root, answer=answer)
    assert result.applied == ["a.txt", "b.txt"]
    assert (root / "a.txt").read_text() == "after a\n" and (root / "b.txt").read_text() == "after b\n"


# --------------------------------------------------------------------------- `=` lines inside a block

CHANGELOG = ("Changelog\n=========\n\nVersion 2.0\n-----------\n\n- Faster parsing.\n\n"
             "Version 1.0\n-----------\n\n- First release.\n")


@pytest.mark.parametrize("underline", ["=========", "=======", "=====", "========="])
def test_a_heading_underline_of_equal_signs_inside_search_and_replace_is_content(tmp_path, underline):
    changelog = CHANGELOG.replace("=========", underline)
    root = git_repo(tmp_path, {"CHANGES.rst": changelog})
    search = f"Changelog\n{underline}\n\nVersion 2.0\n"
    replace = f"Changelog\n{underline}\n\nVersion 2.1\n-----------\n\n- Headings survive.\n\nVersion 2.0\n"
    result = apply_edits(root=root, answer="CHANGES.rst\n" + sr(search, replace))
    assert result.ok, result.failed
    expected = changelog.replace("Version 2.0\n", "Version 2.1\n-----------\n\n- Headings survive.\n\nVersion 2.0\n")
    assert (root / "CHANGES.rst").read_text() == expected


def test_an_equal_signs_line_only_in_the_replacement_stays_in_the_replacement(tmp_path):
    root = git_repo(tmp_path, {"README.rst": "Title\n\nBody.\n"})
    result = apply_edits(root=root, answer="README.rst\n" + sr("Title\n", "Title\n=======\n"))
    assert result.ok, result.failed
    assert (root / "README.rst").read_text() == "Title\n=======\n\nBody.\n"


def test_a_block_whose_no_split_matches_leaves_the_file_untouched(tmp_path):
    root = git_repo(tmp_path, {"CHANGES.rst": CHANGELOG})
    answer = "CHANGES.rst\n" + sr("Changelog\n=========\n\nVersion 9.9\n", "Changelog\n=========\n\nVersion 3\n")
    result = apply_edits(root=root, answer=answer)
    assert not result.ok
    assert (root / "CHANGES.rst").read_text() == CHANGELOG
