import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from agent.core.edits import apply_edits


class Command(BaseCommand):
    help = ("Apply a model answer (whole files or SEARCH/REPLACE blocks) to a working tree and print "
            '{"applied": [...], "failed": [...]} as JSON; exit 0 when every block applied, 1 otherwise.')

    def add_arguments(self, parser) -> None:
        parser.add_argument("--repo", required=True, type=Path, help="The working tree to edit.")
        parser.add_argument("--response", required=True, help="A file with the model's answer, or - for stdin.")

    def handle(self, *args, repo: Path, response: str, **options) -> None:
        if not repo.is_dir():
            raise CommandError(f"--repo {repo} is not a directory")
        answer = self.read_answer(response)
        result = apply_edits(root=repo.resolve(), answer=answer)
        self.stdout.write(json.dumps(result.to_dict(), indent=2))
        if not result.ok:
            sys.exit(1)

    @staticmethod
    def read_answer(response: str) -> str:
        if response == "-":
            return sys.stdin.read()
        path = Path(response)
        if not path.is_file():
            raise CommandError(f"--response {response} is not a file")
        return path.read_text(encoding="utf-8", errors="replace")
