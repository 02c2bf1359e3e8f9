"""Base context for a project's memory, read from its repository: layout and guidance documents."""
import re
from collections import Counter
from dataclasses import dataclass

import git

GUIDANCE = re.compile(r"^(README[^/]*|CONTRIBUTING[^/]*|CLAUDE\.md|AGENTS\.md|docs/.+\.md)$", re.IGNORECASE)
CHUNK_CHARS = 1500
MAX_DOCS = 200


@dataclass
class Chunk:
    text: str
    path: str
    tags: list[str]


def repository_chunks(*, repo: git.Repo, ref: str, project: str) -> list[Chunk]:
    paths = repo.git.ls_tree("-r", "--name-only", ref).splitlines()
    chunks = [layout_chunk(paths, project=project)]
    for path in [p for p in paths if GUIDANCE.match(p)][:MAX_DOCS]:
        text = repo.git.show(f"{ref}:{path}")
        chunks += [Chunk(text=f"{path}: {part}", path=path, tags=["init", "docs"]) for part in markdown_chunks(text)]
    return chunks


def layout_chunk(paths: list[str], *, project: str) -> Chunk:
    folders = Counter(path.rsplit("/", 1)[0] if "/" in path else "." for path in paths)
    packages = sorted(path.rsplit("/", 1)[0] for path in paths if path.endswith("__init__.py"))
    lines = [f"Repository layout of {project}: {len(paths)} files."]
    lines += [f"- {folder}/ ({count} files)" for folder, count in sorted(folders.items())[:80]]
    if packages:
        lines.append("Python packages: " + ", ".join(packages[:60]))
    return Chunk(text="\n".join(lines), path="", tags=["init", "layout"])


def markdown_chunks(text: str) -> list[str]:
    """Cut at headings, then at paragraphs so no chunk exceeds CHUNK_CHARS."""
    sections = re.split(r"\n(?=#{1,6} )", text.strip())
    chunks: list[str] = []
    for section in sections:
        current = ""
        for paragraph in section.split("\n\n"):
            if current and len(current) + len(paragraph) > CHUNK_CHARS:
                chunks.append(current.strip())
                current = ""
            current += paragraph[:CHUNK_CHARS] + "\n\n"
        if current.strip():
            chunks.append(current.strip())
    return [chunk for chunk in chunks if len(chunk) > 40]
