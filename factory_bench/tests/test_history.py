"""Reading commits with real git: merges passed over, text that no ticket can hold refused, deleted tests."""
import os
import subprocess
from pathlib import Path

from factory_bench.history import first_parent_walk, read_commit

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@localhost",
           "GIT_COMMITTER_NAME": "dev", "GIT_COMMITTER_EMAIL": "dev@localhost"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, env=GIT_ENV, capture_output=True,
                          text=True).stdout.strip()


def write_and_commit(repo: Path, message: str, files: dict[str, bytes]) -> str:
    for path, content in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_bytes(content)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def test_merges_are_passed_over_and_latin1_files_cannot_be_replayed(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    first = write_and_commit(repo, "start", {"app.py": b"x = 1\n", "tests/test_app.py": b"def test_x(): pass\n"})
    git(repo, "checkout", "-q", "-b", "side")
    write_and_commit(repo, "side work", {"side.py": b"y = 1\n", "tests/test_side.py": b"def test_y(): pass\n"})
    git(repo, "checkout", "-q", "main")
    latin = write_and_commit(repo, "Accents", {"app.py": "x = 'é'\n".encode("latin-1"),
                                               "tests/test_app.py": b"def test_x(): assert True\n"})
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge side", "side")
    merge = git(repo, "rev-parse", "HEAD")

    walked = [(sha, problem) for sha, _, problem in first_parent_walk(repo, branch="main")]

    assert walked == [(merge, "a merge commit"), (latin, ""), (first, "the first commit: it has no parent to start from")]
    assert read_commit(repo, latin).problem == "app.py is not UTF-8 text, which no answer or ticket can hold"
