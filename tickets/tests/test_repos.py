"""tickets.repos, the one owner of a project's clone and worktree pool: built from the project and the settings,
a merged or cancelled ticket's checkout recycled through the ticket's own event, the pool filled on request."""
import subprocess
from pathlib import Path

import pytest

from tickets.models import Project, Ticket
from tickets.repos import CLEAN, keep_spares, project_repo
from tickets.signals import ticket_event
from tickets.states import State


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def remote(root: Path) -> Path:
    work = root / "seed"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    (work / "app.py").write_text("x = 1\n")
    git(work, "add", "-A")
    git(work, "-c", "user.name=Seed", "-c", "user.email=seed@example.com", "commit", "-q", "-m", "initial")
    git(root, "clone", "-q", "--bare", str(work), str(root / "remote.git"))
    return root / "remote.git"


@pytest.fixture
def project(settings, tmp_path) -> Project:
    settings.FACTORY_DATA_DIR, settings.FACTORY_WARM_WORKTREES = tmp_path / "data", 1
    return Project.objects.create(name="pool", repo_url=str(remote(tmp_path)), test_command="true")


@pytest.mark.django_db
def test_the_projects_repository_lives_under_the_data_folder(project, settings):
    repo = project_repo(project)
    assert repo.path == settings.FACTORY_DATA_DIR / "repos" / "pool.git"
    assert repo.worktrees_dir == settings.FACTORY_DATA_DIR / "worktrees" / "pool"
    assert (repo.default_branch, repo.max_spares) == ("main", 1)


@pytest.mark.django_db
def test_a_cancelled_tickets_worktree_joins_the_pool_through_its_event(project):
    ticket = Ticket.objects.create(project=project, titulo="t", descripcion="d", estado=State.CANCELLED,
                                   branch_name="factory/abc-t")
    repo = project_repo(project)
    worktree = repo.prepare_worktree(branch="factory/abc-t", continue_existing=False)
    assert (worktree / "app.py").exists() and repo.spares() == []

    ticket_event.send(sender=Ticket, ticket=ticket, event="cancelled", data={}, from_state=State.PENDING)
    assert not worktree.exists()
    assert [spare.name.startswith(CLEAN) for spare in repo.spares()] == [True]


@pytest.mark.django_db
def test_a_run_cancelled_in_progress_keeps_its_worktree_for_the_run_to_recycle(project):
    ticket = Ticket.objects.create(project=project, titulo="t", descripcion="d", estado=State.CANCELLED,
                                   branch_name="factory/abc-t")
    worktree = project_repo(project).prepare_worktree(branch="factory/abc-t", continue_existing=False)
    ticket_event.send(sender=Ticket, ticket=ticket, event="cancelled", data={}, from_state=State.IN_PROGRESS)
    assert worktree.exists()


@pytest.mark.django_db
def test_the_pool_is_filled_for_a_project_and_not_for_one_deleted_meanwhile(project):
    assert keep_spares(project_id=project.pk) == 1
    assert keep_spares(project_id=project.pk) == 0  # full
    assert keep_spares(project_id=project.pk + 1000) == 0
