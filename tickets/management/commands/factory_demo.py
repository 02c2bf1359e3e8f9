from django.conf import settings
from django.core.management.base import BaseCommand

from tickets.demo import create_demo


class Command(BaseCommand):
    help = ("Create a small local repository under FACTORY_DATA_DIR/demo, a project for it (once) and a ticket "
            "on it, queued for the agent; print where to watch it.")

    def handle(self, *args, **options) -> None:
        project, ticket = create_demo(data_dir=settings.FACTORY_DATA_DIR)
        self.stdout.write(
            f"Project {project.name!r}: {project.repo_url}\n"
            f"Ticket {ticket.pk}: {ticket.titulo!r} ({ticket.estado})\n"
            f"Watch it on make run's server: /review/{ticket.pk}/ (http://127.0.0.1:8000 unless FACTORY_BIND "
            f"says otherwise; the admin login is in "
            f"{settings.FACTORY_DATA_DIR / 'admin-login.txt'}). With no model server reachable, it waits in "
            "'pending' and runs as soon as Ollama answers.")
