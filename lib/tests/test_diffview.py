import os
import random
import subprocess
from pathlib import Path

import pytest

from lib.diffview import DiffFile, DiffLine, parse_diff, pygments_css

GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}

RENAMED_BODY = "".join(f"def function_{n}():\n    return {n}\n\n" for n in range(10))


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True, text=True
    )
    return result.stdout


def write(repo: Path, name: str, content: str | bytes) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def branch_diff(repo: Path, base_files: dict, branch_changes) -> str:
    git(repo, "init", "-q", "-b", "main")
    for name, content in base_files.items():
        write(repo, name, content)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", "base")
    git(repo, "checkout", "-q", "-b", "feature")
    branch_changes(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change")
    return git(repo, "diff", "main...feature")


@pytest.fixture
def mixed_diff(tmp_path: Path) -> str:
    base = {
        "app/keep.py": "import os\n\n\ndef main():\n    print('old')\n    return 0\n",
        "gone.txt": "first\nsecond\n",
        "old_name.py": RENAMED_BODY,
        "image.bin": bytes(range(256)),
        "noeol.txt": "alpha\nbeta",
    }

    def change(repo: Path) -> None:
        write(repo, "app/keep.py", "import os\n\n\ndef main():\n    print('new')\n    return 0\n")
        (repo / "gone.txt").unlink()
        git(repo, "mv", "old_name.py", "new_name.py")
        write(repo, "new_name.py", RENAMED_BODY.replace("return 3", "return 33"))
        write(repo, "image.bin", bytes(reversed(range(256))))
        write(repo, "web/new.js", "const answer = 42;\nexport default answer;\n")
        write(repo, "noeol.txt", "alpha\ngamma")

    return branch_diff(tmp_path, base, change)


def by_path(files: list[DiffFile]) -> dict[str, DiffFile]:
    return {diff_file.path: diff_file for diff_file in files}


def test_every_changed_file_gets_its_status(mixed_diff):
    statuses = {path: f.status for path, f in by_path(parse_diff(mixed_diff)).items()}

    assert statuses == {
        "app/keep.py": "modified",
        "gone.txt": "deleted",
        "new_name.py": "renamed",
        "image.bin": "binary",
        "web/new.js": "added",
        "noeol.txt": "modified",
    }


def test_modified_file_has_line_numbers_and_counts(mixed_diff):
    keep = by_path(parse_diff(mixed_diff))["app/keep.py"]

    kinds = [(line.kind, line.old_no, line.new_no) for line in keep.lines]
    assert kinds == [
        ("hunk", None, None),
        ("context", 2, 2),
        ("context", 3, 3),
        ("context", 4, 4),
        ("del", 5, None),
        ("add", None, 5),
        ("context", 6, 6),
    ]
    assert (keep.added, keep.removed) == (1, 1)
    assert keep.old_path == keep.new_path == "app/keep.py"
    assert keep.language == "Python"


def test_rename_with_edit_keeps_both_paths(mixed_diff):
    renamed = by_path(parse_diff(mixed_diff))["new_name.py"]

    assert (renamed.old_path, renamed.new_path) == ("old_name.py", "new_name.py")
    assert (renamed.added, renamed.removed) == (1, 1)
    deleted = next(line for line in renamed.lines if line.kind == "del")
    added = next(line for line in renamed.lines if line.kind == "add")
    assert (deleted.old_no, added.new_no) == (11, 11)
    assert "33" in added.html


def test_added_and_deleted_files_have_an_empty_side(mixed_diff):
    files = by_path(parse_diff(mixed_diff))
    added, deleted = files["web/new.js"], files["gone.txt"]

    assert (added.old_path, added.new_path, added.added, added.removed) == ("", "web/new.js", 2, 0)
    assert [line.new_no for line in added.lines if line.kind == "add"] == [1, 2]
    assert (deleted.old_path, deleted.new_path, deleted.added, deleted.removed) == ("gone.txt", "", 0, 2)
    assert added.language == "JavaScript"


def test_binary_file_has_no_lines(mixed_diff):
    binary = by_path(parse_diff(mixed_diff))["image.bin"]

    assert (binary.lines, binary.rows, binary.added, binary.removed) == ([], [], 0, 0)
    assert binary.old_path == binary.new_path == "image.bin"


def test_missing_newline_at_end_of_file_is_flagged_on_both_sides(mixed_diff):
    noeol = by_path(parse_diff(mixed_diff))["noeol.txt"]

    flagged = [(line.kind, line.html) for line in noeol.lines if line.no_newline_at_eof]
    assert flagged == [("del", "beta"), ("add", "gamma")]
    assert [line.kind for line in noeol.lines] == ["hunk", "context", "del", "add"]


def test_side_by_side_pairs_changes_and_shares_context(mixed_diff):
    keep = by_path(parse_diff(mixed_diff))["app/keep.py"]

    rows = [(row.left and row.left.kind, row.right and row.right.kind) for row in keep.rows]
    assert rows == [("hunk", "hunk")] + [("context", "context")] * 3 + [("del", "add"), ("context", "context")]
    changed = keep.rows[4]
    assert (changed.left.old_no, changed.right.new_no) == (5, 5)


def test_unbalanced_change_block_leaves_gaps(tmp_path):
    diff = branch_diff(
        tmp_path,
        {"list.txt": "a\nb\nc\nd\ne\n"},
        lambda repo: write(repo, "list.txt", "a\nX\ne\nf\n"),
    )
    rows = parse_diff(diff)[0].rows

    pairs = [(row.left and row.left.html, row.right and row.right.html) for row in rows[1:]]
    assert pairs == [("a", "a"), ("b", "X"), ("c", None), ("d", None), ("e", "e"), (None, "f")]


def test_lines_are_highlighted_and_escaped(tmp_path):
    diff = branch_diff(
        tmp_path,
        {},
        lambda repo: write(repo, "page.py", 'def render():\n    return "<script>alert(1)</script>"\n'),
    )
    lines = parse_diff(diff)[0].lines

    assert '<span class="k">def</span>' in lines[1].html
    assert "<script>" not in lines[2].html
    assert "&lt;script&gt;" in lines[2].html


def test_multiline_string_is_highlighted_as_one_stream(tmp_path):
    source = 'TEXT = """\nif while for\n"""\n'
    diff = branch_diff(tmp_path, {}, lambda repo: write(repo, "doc.py", source))
    middle = parse_diff(diff)[0].lines[2]

    assert 'class="k"' not in middle.html
    assert 'class="s2"' in middle.html


def test_hunk_header_is_escaped_text(tmp_path):
    base = {"x.html": "".join(f"<p>{n}</p>\n" for n in range(20))}
    diff = branch_diff(
        tmp_path, base, lambda repo: write(repo, "x.html", base["x.html"].replace("<p>15</p>", "<b>15</b>"))
    )
    hunk = parse_diff(diff)[0].lines[0]

    assert hunk.kind == "hunk"
    assert hunk.html.startswith("@@ -13,7 +13,7 @@")
    assert "<" not in hunk.html


def test_quoted_and_spaced_paths(tmp_path):
    def change(repo: Path) -> None:
        write(repo, "my notes.txt", "hello\n")
        write(repo, "tést.txt", "x")
        write(repo, "raw data.bin", b"\x00\x01\x02")

    files = by_path(parse_diff(branch_diff(tmp_path, {}, change)))

    assert files.keys() == {"my notes.txt", "tést.txt", "raw data.bin"}
    assert files["raw data.bin"].status == "binary"
    assert files["my notes.txt"].status == "added"


def test_pure_rename_without_content_change(tmp_path):
    diff = branch_diff(
        tmp_path, {"a dir/old.py": RENAMED_BODY}, lambda repo: git(repo, "mv", "a dir", "b dir")
    )
    [renamed] = parse_diff(diff)

    assert (renamed.status, renamed.old_path, renamed.new_path) == ("renamed", "a dir/old.py", "b dir/old.py")
    assert renamed.lines == []


def test_plain_unified_diff_without_git_header():
    text = "--- a/x.txt\t2024-01-01\n+++ b/x.txt\t2024-01-02\n@@ -1 +1 @@\n-old\n+new\n"
    [diff_file] = parse_diff(text)

    assert (diff_file.path, diff_file.status, diff_file.added, diff_file.removed) == ("x.txt", "modified", 1, 1)


def test_deleted_line_that_looks_like_a_file_header_stays_in_the_hunk():
    text = "diff --git a/n.txt b/n.txt\n--- a/n.txt\n+++ b/n.txt\n@@ -1,2 +1,2 @@\n--- a/x\n+++ b/y\n same\n"

    [diff_file] = parse_diff(text)

    assert [line.kind for line in diff_file.lines] == ["hunk", "del", "add", "context"]
    assert [line.html for line in diff_file.lines[1:]] == ["-- a/x", "++ b/y", "same"]


@pytest.mark.parametrize("text", ["", "garbage\nmore garbage\n", "@@ -1 +1 @@\n-a\n+b\n", "diff --git\n", None, 42])
def test_odd_input_gives_empty_list(text):
    assert parse_diff(text) == []


def test_truncated_and_shuffled_diffs_never_raise(mixed_diff):
    lines = mixed_diff.split("\n")
    for end in range(len(lines)):
        parse_diff("\n".join(lines[:end]))
    rng = random.Random(7)
    for _ in range(200):
        sample = rng.sample(lines, k=min(len(lines), 25))
        parse_diff("\n".join(sample))
        parse_diff("".join(rng.choice(" +-@\\\n\"abc\r\t") for _ in range(300)))


def test_pygments_css_is_scoped():
    rules = [rule for rule in pygments_css().splitlines() if rule.strip()]

    assert rules
    assert all(rule.startswith(".diff .hl ") for rule in rules)


def test_a_five_thousand_line_diff_renders_whole(tmp_path):
    # Its speed is measured by bench/diffview.py, not here: this machine's load is not the code's.
    old = "".join(f"def handler_{n}(request):\n    return 'value {n}'  # note\n" for n in range(2500))
    new = old.replace("'value", '"value').replace("'  #", '"  #')
    diff = branch_diff(tmp_path, {"big.py": old}, lambda repo: write(repo, "big.py", new))
    assert diff.count("\n") > 5000

    [big] = parse_diff(diff)

    assert (big.added, big.removed) == (2500, 2500)
    assert isinstance(big.lines[-1], DiffLine)
