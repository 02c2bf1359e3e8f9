"""Warm checkouts and the worktree's trees: real git, no database."""
import os
import subprocess
from pathlib import Path

from agent.core.workspace import Baseline, GitWorkspace
from tests.support import git, make_remote_repo
from tickets.repos import CLEAN, ProjectRepo


def project_repo(tmp_path: Path, *, spares: int = 2) -> ProjectRepo:
    remote = make_remote_repo(tmp_path, {"app.py": "def main():\n    return 1\n", "README.md": "# demo\n"})
    return ProjectRepo(data_dir=tmp_path / "data", name="demo", url=str(remote), default_branch="main",
                       spares=spares)


def workspace(root: Path) -> GitWorkspace:
    base = git(root, "rev-parse", "HEAD").strip()
    return GitWorkspace(root=root, base=base, tests=None, baseline=Baseline(commit=base, branch="main", outcomes=None))


def test_the_pool_is_filled_then_a_ticket_takes_a_clean_spare(tmp_path):
    repo = project_repo(tmp_path)
    assert repo.keep_spares() == 2
    assert repo.keep_spares() == 0  # full
    assert all(spare.name.startswith(CLEAN) for spare in repo.spares())
    worktree = repo.prepare_worktree(branch="factory/abc-demo", continue_existing=False)
    assert len(repo.spares()) == 1
    assert git(worktree, "rev-parse", "--abbrev-ref", "HEAD").strip() == "factory/abc-demo"
    assert git(worktree, "status", "--porcelain") == ""


def test_a_parked_checkout_is_cleaned_and_joins_the_pool_up_to_its_size(tmp_path):
    repo = project_repo(tmp_path, spares=1)
    worktree = repo.prepare_worktree(branch="factory/one", continue_existing=False)
    (worktree / "debris.log").write_text("left by a test run\n")
    repo.recycle_worktree("factory/one")
    [spare] = repo.spares()
    assert spare.name.startswith(CLEAN) and not (spare / "debris.log").exists()
    other = repo.prepare_worktree(branch="factory/two", continue_existing=False)
    assert repo.spares() == []  # taken
    repo.recycle_worktree("factory/two")
    assert len(repo.spares()) == 1 and not other.exists()
    repo.keep_spares()
    assert len(repo.spares()) == 1  # already full


def test_commit_diff_and_changed_files_hold_what_the_agent_wrote_and_nothing_else(tmp_path):
    repo = project_repo(tmp_path)
    root = repo.prepare_worktree(branch="factory/write", continue_existing=False)
    work = workspace(root)
    (root / "app.py").write_text("def main():\n    return 2\n")
    (root / "pkg").mkdir()
    (root / "pkg" / "new.py").write_text("VALUE = 1\n")
    (root / "README.md").unlink()
    work.written.update({"app.py", "pkg/new.py", "README.md"})
    (root / "coverage.xml").write_text("<coverage/>\n")  # what a test run leaves behind
    assert work.changed_files() == ["README.md", "app.py", "pkg/new.py"]
    diff = work.diff()
    assert "new file mode" in diff and "deleted file mode" in diff and "+    return 2" in diff
    assert "coverage.xml" not in diff
    commit = work.commit("the agent's change")
    assert commit == git(root, "rev-parse", "HEAD").strip()
    assert sorted(git(root, "show", "--name-only", "--format=", "HEAD").split()) == ["README.md", "app.py",
                                                                                     "pkg/new.py"]
    assert git(root, "status", "--porcelain").splitlines() == ["?? coverage.xml"]  # the index is the commit
    assert work.changed_files() == ["README.md", "app.py", "pkg/new.py"]  # against the base, from HEAD now
    assert work.commit("nothing new") is None


def test_the_prompts_file_list_is_gits_with_what_the_agent_wrote_and_without_test_debris(tmp_path):
    repo = project_repo(tmp_path)
    root = repo.prepare_worktree(branch="factory/list", continue_existing=False)
    work = workspace(root)
    assert work.tree().splitlines() == ["README.md", "app.py"]
    (root / "pkg").mkdir()
    (root / "pkg" / "new ñ.py").write_text("VALUE = 1\n")  # no quoting of unusual names
    (root / "README.md").unlink()
    work.written.update({"pkg/new ñ.py", "README.md"})
    (root / "coverage.xml").write_text("<coverage/>\n")  # what a test run leaves behind
    assert work.tree().splitlines() == ["app.py", "pkg/new ñ.py"]
    (root / os.fsdecode(b"caf\xe9.py")).write_text("")  # a name that is not UTF-8, tracked
    git(root, "add", os.fsdecode(b"caf\xe9.py"))
    assert "caf\ufffd.py" in work.tree().splitlines()


def test_a_test_run_rewriting_a_written_file_is_seen(tmp_path):
    repo = project_repo(tmp_path)
    root = repo.prepare_worktree(branch="factory/rewrite", continue_existing=False)
    work = workspace(root)
    (root / "app.py").write_text("def main():\n    return 2\n")
    work.written.add("app.py")
    first = work.current_tree()
    subprocess.run(["sh", "-c", "sleep 0.01; printf 'def main():\\n    return 3\\n' > app.py"], cwd=root, check=True)
    work.notice_rewrites()  # what run_tests does when the tests are done
    assert work.current_tree() != first
    assert "+    return 3" in work.diff()
