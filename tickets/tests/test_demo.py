"""`make demo`: a repository, a project and a ticket that a newcomer can watch on one machine."""
import subprocess
import sys

import pytest
from django.core.management import call_command

from tickets.models import Project, Ticket


@pytest.mark.django_db
def test_demo_makes_a_repository_whose_tests_pass_a_project_once_and_a_ticket_each_time(settings, tmp_path, capsys):
    settings.FACTORY_DATA_DIR = tmp_path
    call_command("factory_demo")
    call_command("factory_demo")

    project = Project.objects.get()
    assert project.name == "demo-calc" and Ticket.objects.filter(project=project).count() == 2
    assert "/review/" in capsys.readouterr().out
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", project.repo_url, str(clone)], check=True)
    # The factory's own pytest plugins stay out: the demo is a plain project.
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:django"],
                           cwd=clone, capture_output=True, text=True)
    assert tests.returncode == 0, tests.stdout
