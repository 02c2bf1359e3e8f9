"""Does the ticket fit the model's context at all? Asked before any worktree, setup or baseline run.

The files to modify are read from the project's cached clone (as last fetched, never checked out) and the
prompt is built as the first attempt would build it, reference material aside: when even outlines
and minimal windows of the files do not fit, PromptTooLarge says so ("Fix the ticket: ...") at once,
instead of after minutes of setup and a baseline run.
"""
import subprocess
from pathlib import Path

from agent.core.edits import choose_format
from agent.core.prompting import PromptInputs, TicketBrief, build_prompt
from tickets.models import Ticket
from tickets.repos import project_repo

SYSTEM_PROMPT_PATH = Path(__file__).resolve().parent.parent / "prompts" / "implementer.md"  # as runner's
MAX_READ_BYTES = 64 * 1024 * 1024  # a file bigger than this cannot fit any context: its first bytes tell as much


def check_fit(*, ticket: Ticket, num_ctx: int) -> None:
    """Raises PromptTooLarge when the ticket's first prompt cannot fit `num_ctx` tokens."""
    repo = project_repo(ticket.project)
    if not (repo.path / "HEAD").exists():
        repo.sync()  # the first ticket clones; later ones read the last fetch (the run fetches again anyway)
    branch = ticket.branch_name or ticket.project.default_branch
    files = {path: read_at(repo.path, ref=f"origin/{branch}", fallback=f"origin/{ticket.project.default_branch}",
                           path=path) for path in dict.fromkeys(ticket.archivos_modificar)}
    brief = TicketBrief(titulo=ticket.titulo, descripcion=ticket.descripcion, tipo=ticket.tipo,
                        archivos_modificar=list(ticket.archivos_modificar),
                        patrones_obligatorios=list(ticket.patrones_obligatorios),
                        tests_requeridos=list(ticket.tests_requeridos))
    edit_format = choose_format(setting=ticket.project.edit_format,
                                line_counts=[(text or "").count("\n") + 1 for text in files.values()])
    build_prompt(inputs=PromptInputs(brief=brief, files_to_modify=files, reference_files={}, tree="",
                                     edit_format=edit_format),
                 system=SYSTEM_PROMPT_PATH.read_text(), num_ctx=num_ctx)


def read_at(git_dir: Path, *, ref: str, fallback: str, path: str) -> str | None:
    """`path` at `ref` (or at `fallback` when `ref` is not fetched), None when it does not exist there."""
    for name in dict.fromkeys([ref, fallback]):
        size = subprocess.run(["git", "cat-file", "-s", f"{name}:{path}"], cwd=git_dir, capture_output=True,
                              text=True, check=False)
        if size.returncode == 0 and int(size.stdout.strip() or 0) > MAX_READ_BYTES:
            return "x" * MAX_READ_BYTES  # its size alone decides: no context holds it, even as an outline
        done = subprocess.run(["git", "cat-file", "blob", f"{name}:{path}"], cwd=git_dir, capture_output=True,
                              check=False)
        if done.returncode == 0:
            return done.stdout.decode("utf-8", "replace")
        if subprocess.run(["git", "rev-parse", "--verify", "--quiet", name], cwd=git_dir, capture_output=True,
                          check=False).returncode == 0:
            return None  # the branch exists and the file is not on it: a new file
    return None
