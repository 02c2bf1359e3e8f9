"""A full disk is the machine's problem: checked before a run starts (FACTORY_MIN_FREE_MB) and handled when a
write finds no room. The running attempt is not counted, the ticket's worktree, the spares and git's partial
objects are removed, the ticket waits in pending, and it runs normally once there is room again. A real tmpfs
of 24 MB as FACTORY_DATA_DIR (root only, as CI runs), filled up and freed; real git, real worker code."""
import os
import subprocess
from pathlib import Path

import pytest

from agent.worker import diskspace, requeue
from agent.worker.runner import run_ticket
from lib.gitrepo import GitError, commit_all
from tests.fake_ollama import FakeOllama
from tests.support import RIGHT, make_ticket
from tickets.models import TicketEvent
from tickets.repos import project_repo

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root (CI runs as root)")]


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(disk: Path) -> Path:
    """Write until the filesystem refuses: nothing is left."""
    filler = disk / "filler"
    with filler.open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    return filler


@pytest.fixture
def on_small_disk(calc_project, small_disk, settings):
    settings.FACTORY_DATA_DIR = small_disk / "data"
    settings.FACTORY_MIN_FREE_MB = 4
    return calc_project[0], small_disk


def test_a_run_does_not_start_without_the_minimum_free_space_and_starts_once_there_is(on_small_disk, fake_model):
    project, disk = on_small_disk
    filler = fill(disk)
    ticket = run_ticket(str(make_ticket(project).pk))
    assert ticket.estado == "pending" and ticket.intentos == 0
    assert ticket.error_mensaje.startswith("Waiting for disk space: only 0 MB free")
    assert "FACTORY_MIN_FREE_MB=4" in ticket.error_mensaje
    assert fake_model.requests == []  # the model was never asked
    assert requeue.disk_has_room() is False

    filler.unlink()
    assert requeue.disk_has_room() is True
    fake_model.push(RIGHT)
    ticket = run_ticket(str(ticket.pk))
    assert ticket.estado == "completed" and ticket.intentos == 1


def test_a_disk_that_fills_during_the_run_burns_no_attempt_and_leaves_nothing_behind(on_small_disk, settings):
    project, disk = on_small_disk
    settings.FACTORY_WARM_WORKTREES = 2
    filled: list[Path] = []

    def answer_once_the_disk_is_full(body: dict) -> str:
        if not filled:
            filled.append(fill(disk))  # something else on the machine took the rest while the model wrote
        return RIGHT

    with FakeOllama(answers=answer_once_the_disk_is_full) as fake:
        settings.OLLAMA_HOST = fake.url
        ticket = run_ticket(str(make_ticket(project).pk))

        assert ticket.estado == "pending", ticket.error_mensaje
        assert ticket.intentos == 0 and not ticket.attempts.exists()
        assert "Waiting for disk space: the disk filled during the run" in ticket.error_mensaje
        assert "No space left on device" in ticket.error_mensaje
        assert ticket.events.filter(kind=TicketEvent.Kind.ERROR, message__startswith="Attempt 1 not made").exists()
        repo = project_repo(project)
        assert not repo.worktree_path(ticket.branch_name).exists()
        assert repo.spares() == []

        filled[0].unlink()
        ticket = run_ticket(str(ticket.pk))
    assert ticket.estado == "completed", ticket.error_mensaje
    assert ticket.intentos == 1


def test_git_out_of_space_is_recognised_and_its_partial_objects_removed(on_small_disk):
    project, disk = on_small_disk
    repo = project_repo(project)
    worktree = repo.prepare_worktree(branch="factory/full", continue_existing=False)
    # Incompressible, so git's object is as big as the file: it fits in the worktree, not in git's objects.
    (worktree / "noise.bin").write_bytes(os.urandom(9 * 1024 * 1024))
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    filler.write_bytes(b"\0" * max(0, free - 4 * 1024 * 1024))

    with pytest.raises(GitError) as raised:
        commit_all(worktree=worktree, message="too big for the disk")

    assert diskspace.is_disk_full(raised.value)
    diskspace.clean_after_full(repo=repo, branch="factory/full")
    objects = repo.path / "objects"
    assert not [path for pattern in ("??/tmp_obj_*", "pack/tmp_*") for path in objects.glob(pattern)]
    assert not worktree.exists()
    filler.unlink()
    assert repo.prepare_worktree(branch="factory/after", continue_existing=False).exists()
