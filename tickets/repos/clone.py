"""The cached bare clone of one project and the worktrees made from it: clone, fetch, lock, pool, cleanup.

One bare clone per project lives in FACTORY_DATA_DIR/repos; each ticket gets its own `git worktree` in
FACTORY_DATA_DIR/worktrees, and finished checkouts are parked as spares (the pool) for the next ticket.
Operations that touch the shared clone hold a per-project file lock, so the web process (merges) and the
agent workers (fetch, worktree add) never race on git's own locks. Built by tickets.repos.project_repo only;
the git commands themselves are lib.gitrepo's.
"""
import fcntl
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import git

from lib.gitrepo import COMMITTER, EXCLUDED, GitError, _run, remote_branches, slugify
from lib.repourl import masked, redact

MAX_SPARES = 2
CLEAN = "clean-"  # a spare cleaned when parked
BUILDING = "building-"  # a spare being checked out by keep_spares, not ready yet


def spare_name() -> str:
    return f"{CLEAN}{uuid.uuid4().hex[:8]}"


class ProjectRepo:
    """The cached bare clone of one project, and the worktrees made from it."""

    def __init__(self, *, data_dir: Path, name: str, url: str, default_branch: str, spares: int = MAX_SPARES) -> None:
        self.name, self.url, self.default_branch, self.max_spares = name, url, default_branch, spares
        self.path = data_dir / "repos" / f"{name}.git"
        self.worktrees_dir = data_dir / "worktrees" / name
        self.lock_path = data_dir / "repos" / f"{name}.lock"

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def repo(self) -> git.Repo:
        return git.Repo(self.path)

    def sync(self) -> git.Repo:
        """Clone on first use, then fetch every branch of the remote into origin/*."""
        with self.locked():
            if not (self.path / "HEAD").exists():
                self._clone()
            repo = self.repo()
            self._write_excludes()
            self._tune(repo)
            _run(repo, "fetch", "fetch", "--prune", "--quiet", "origin")
            if f"origin/{self.default_branch}" not in remote_branches(repo):
                raise GitError(f"the remote {masked(self.url)} has no branch '{self.default_branch}' (the project's "
                               "default_branch)")
            return repo

    def _clone(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            shutil.rmtree(self.path)
        try:
            git.Repo.clone_from(self.url, self.path, bare=True, env=COMMITTER)
        except (git.UnsafeProtocolError, git.UnsafeOptionError) as exc:
            raise GitError(f"cannot clone {masked(self.url)}: {exc}") from None
        except git.GitCommandError as exc:
            detail = redact((exc.stderr or str(exc)).strip(), self.url)[-500:]
            raise GitError(f"cannot clone {masked(self.url)}: {detail}") from None
        repo = self.repo()
        _run(repo, "config", "config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*")

    def _write_excludes(self) -> None:
        exclude = self.path / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        exclude.write_text("\n".join(EXCLUDED) + "\n")

    @staticmethod
    def _tune(repo: git.Repo) -> None:
        """Index format 4 and git's untracked cache in every worktree (feature.manyFiles): a scan of a big
        checkout (a switch, the file list, git grep --untracked) re-reads only the folders that changed."""
        if repo.config_reader().get_value("feature", "manyFiles", default=False) is not True:
            _run(repo, "config", "config", "feature.manyFiles", "true")

    def worktree_path(self, branch: str) -> Path:
        return self.worktrees_dir / branch.replace("/", "__")

    def prepare_worktree(self, *, branch: str, continue_existing: bool) -> Path:
        """A worktree on `branch`: fresh from the default branch, or continuing the branch's work."""
        repo = self.sync()
        path = self.worktree_path(branch)
        with self.locked():
            if path.exists() and continue_existing and self._is_worktree_on(path, branch):
                # The branch's committed work; what a stopped run left uncommitted is not trusted.
                _run(git.Repo(path), "reset", "reset", "--hard", "-q")
                return path
            self._remove_worktree(repo, path)
            start = self._start_point(repo, branch=branch, continue_existing=continue_existing)
            path.parent.mkdir(parents=True, exist_ok=True)
            if not self._reuse_spare(repo, path=path, branch=branch, start=start):
                _run(repo, "worktree add", "worktree", "add", "--force", "-B", branch, str(path), start)
        return path

    @property
    def spares_dir(self) -> Path:
        return self.worktrees_dir / ".spare"

    def spares(self) -> list[Path]:
        """Parked checkouts ready to be switched to another commit; `clean-` ones were cleaned when parked."""
        if not self.spares_dir.exists():
            return []
        return sorted((path for path in self.spares_dir.iterdir() if not path.name.startswith(BUILDING)),
                      key=lambda path: not path.name.startswith(CLEAN))

    def _reuse_spare(self, repo: git.Repo, *, path: Path, branch: str | None, start: str) -> bool:
        """Turn a spare checkout into the new worktree: only the files that differ are written."""
        for spare in self.spares():
            try:
                _run(repo, "worktree move", "worktree", "move", str(spare), str(path))
                work = git.Repo(path)
                target = ["-B", branch, start] if branch else ["--detach", start]
                _run(work, "checkout", "checkout", "--force", "-q", *target)
                if not spare.name.startswith(CLEAN):
                    _run(work, "clean", "clean", "-ffdxq")
                return True
            except GitError:
                self._remove_worktree(repo, path)
                self._remove_worktree(repo, spare)
        return False

    def recycle_worktree(self, branch: str) -> None:
        """Keep a finished ticket's checkout as a spare for the next one instead of deleting it.

        Writing a fresh checkout of a large repository costs seconds on a slow
        disk; switching a spare to another commit writes only what differs.
        """
        if not (self.path / "HEAD").exists():
            return
        with self.locked():
            self._park(self.repo(), self.worktree_path(branch))

    def drop_worktree(self, branch: str) -> None:
        """Remove a ticket's worktree outright (a full disk: nothing is parked, every byte counts)."""
        if not (self.path / "HEAD").exists():
            return
        with self.locked():
            self._remove_worktree(self.repo(), self.worktree_path(branch))

    def drop_spares(self) -> None:
        if not (self.path / "HEAD").exists():
            return
        with self.locked():
            for spare in self.spares():
                self._remove_worktree(self.repo(), spare)

    def drop_partial_objects(self) -> None:
        """Objects and packs a git command was writing when it died (tmp_obj_*, tmp_pack_*, quarantines)."""
        objects = self.path / "objects"
        with self.locked():
            for pattern in ("??/tmp_obj_*", "tmp_obj_*", "pack/tmp_*", "pack/.tmp-*", "incoming-*"):
                for partial in objects.glob(pattern):
                    if partial.is_dir() and not partial.is_symlink():
                        shutil.rmtree(partial, ignore_errors=True)
                    else:
                        partial.unlink(missing_ok=True)

    def _park(self, repo: git.Repo, path: Path) -> None:
        if not path.exists() or len(self.spares()) >= self.max_spares:
            self._remove_worktree(repo, path)
            return
        self.spares_dir.mkdir(parents=True, exist_ok=True)
        try:
            # Detached, so the branch is free to be checked out again elsewhere; cleaned now, so that
            # taking the spare costs only the switch.
            work = git.Repo(path)
            _run(work, "checkout", "checkout", "--force", "-q", "--detach")
            _run(work, "clean", "clean", "-ffdxq")
            _run(repo, "worktree move", "worktree", "move", str(path), str(self.spares_dir / spare_name()))
        except GitError:
            self._remove_worktree(repo, path)

    def keep_spares(self) -> int:
        """Check out spares of the default branch until the pool is full; returns how many were made.

        The slow part (writing every file) runs outside the project lock, so a ticket starting meanwhile
        is not held up; the finished checkout joins the pool under the lock.
        """
        made = 0
        repo = self.sync()
        while len(self.spares()) < self.max_spares:
            building = self.spares_dir / f"{BUILDING}{uuid.uuid4().hex[:8]}"
            building.parent.mkdir(parents=True, exist_ok=True)
            _run(repo, "worktree add", "worktree", "add", "--force", "--detach", str(building),
                 f"origin/{self.default_branch}")
            with self.locked():
                if len(self.spares()) >= self.max_spares:
                    self._remove_worktree(repo, building)
                    break
                _run(repo, "worktree move", "worktree", "move", str(building), str(self.spares_dir / spare_name()))
            made += 1
        return made

    def _start_point(self, repo: git.Repo, *, branch: str, continue_existing: bool) -> str:
        if continue_existing:
            if f"origin/{branch}" in remote_branches(repo):
                return f"origin/{branch}"
            if branch in {head.name for head in repo.heads}:
                return branch
        return f"origin/{self.default_branch}"

    @staticmethod
    def _is_worktree_on(path: Path, branch: str) -> bool:
        try:
            return git.Repo(path).active_branch.name == branch
        except (git.InvalidGitRepositoryError, git.NoSuchPathError, TypeError):
            return False

    def _remove_worktree(self, repo: git.Repo, path: Path) -> None:
        if not path.exists():
            return
        try:
            _run(repo, "worktree remove", "worktree", "remove", "--force", str(path))
        except GitError:
            shutil.rmtree(path, ignore_errors=True)
            _run(repo, "worktree prune", "worktree", "prune")

    @contextmanager
    def scratch_worktree(self, *, commit: str) -> Iterator[Path]:
        """A clean, detached checkout of `commit` for as long as the block runs (kept as a spare afterwards)."""
        repo = self.repo()
        path = self.worktrees_dir / f"scratch-{uuid.uuid4().hex[:8]}"
        with self.locked():
            path.parent.mkdir(parents=True, exist_ok=True)
            if not self._reuse_spare(repo, path=path, branch=None, start=commit):
                _run(repo, "worktree add", "worktree", "add", "--force", "--detach", str(path), commit)
        try:
            yield path
        finally:
            with self.locked():
                self._park(repo, path)

    def head_of_default(self) -> str:
        """The remote default branch's commit, as last fetched."""
        return _run(self.repo(), "rev-parse", "rev-parse", f"origin/{self.default_branch}").strip()

    @contextmanager
    def merge_checkout(self, *, name: str) -> Iterator[git.Repo]:
        """A detached checkout of the fetched default branch, the project locked until the block ends
        (tickets.repos.merging merges and pushes in it); parked as a spare afterwards."""
        repo = self.repo()
        path = self.worktrees_dir / f"merge-{slugify(name, max_length=60)}"
        with self.locked():
            self._remove_worktree(repo, path)
            path.parent.mkdir(parents=True, exist_ok=True)
            start = f"origin/{self.default_branch}"
            if not self._reuse_spare(repo, path=path, branch=None, start=start):
                _run(repo, "worktree add", "worktree", "add", "--force", "--detach", str(path), start)
            try:
                yield git.Repo(path)
            finally:
                self._park(repo, path)
