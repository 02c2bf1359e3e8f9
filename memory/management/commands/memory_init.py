from django.core.management.base import BaseCommand, CommandError

from memory import services
from memory.index import IndexUnavailable
from memory.initial import repository_chunks
from tickets.models import Project
from tickets.repos import GitError, project_repo


class Command(BaseCommand):
    help = ("Seed the shared memory with a project's base context: its module layout and its guidance files "
            "(README, CONTRIBUTING, CLAUDE.md, docs/**/*.md) cut into chunks. Running it again adds nothing new.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True)

    def handle(self, *args, project: str, **options) -> None:
        found = Project.objects.filter(name=project).first()
        if found is None:
            names = ", ".join(Project.objects.values_list("name", flat=True)) or "none yet"
            raise CommandError(f"Unknown project {project!r} (projects: {names})")
        repo = project_repo(found)
        try:
            chunks = repository_chunks(repo=repo.sync(), ref=f"origin/{found.default_branch}", project=found.name)
        except GitError as exc:
            raise CommandError(str(exc)) from None
        added, warnings = 0, set()
        for chunk in chunks:
            try:
                _, created, warning = services.store_item(text=chunk.text, kind="context", source="init",
                                                          project=found, files=[chunk.path] if chunk.path else [],
                                                          tags=chunk.tags)
            except IndexUnavailable as exc:
                raise CommandError(f"The memory index is unavailable: {exc}. {added} new items were stored before "
                                   "it stopped; run the command again when it is back.") from None
            added += created
            if warning:
                warnings.add(warning)
        for warning in warnings:
            self.stderr.write(warning)
        self.stdout.write(f"{added} new memory items for {found.name} ({len(chunks) - added} already known).")
