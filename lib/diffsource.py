"""A change read from git, never whole in memory: bounded text, one file's diff, the raw bytes streamed, the file list.

The stored diff of a ticket is a bounded preview (FACTORY_STORED_DIFF_KB); the branch's commits are in the
project's repository, so the review page, the admin and the API read any file's diff, or the whole raw diff,
from git when asked. Every reader works on a repository folder (a worktree or the bare clone) and two
tree-ish names (commits or trees).
"""
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypedDict

from lib.changerecord import FileStat
from lib.safetext import from_bytes

CHUNK = 64 * 1024
DIFF_OPTIONS = ("--no-color", "--no-ext-diff", "--no-textconv", "--find-renames")
SYMLINK_MODE = "120000"


class DiffUnavailable(RuntimeError):
    """git cannot compare the two names here (objects missing, repository gone)."""


@dataclass(frozen=True)
class Bounded:
    text: str
    truncated: bool


def _git(repo: Path, *args: str) -> list[str]:
    return ["git", "--literal-pathspecs", "-C", str(repo), "-c", "core.quotePath=false", *args]


def stream(repo: Path, base: str, head: str, *, paths: tuple[str, ...] = ()) -> Iterator[bytes]:
    """`git diff base head` as its exact bytes, chunk by chunk; DiffUnavailable before the first chunk on error."""
    process = subprocess.Popen(_git(repo, "diff", *DIFF_OPTIONS, base, head, "--", *paths),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = _pipes(process)
    first = stdout.read(CHUNK)
    if not first and process.wait() != 0:
        raise DiffUnavailable(from_bytes(stderr.read()).strip()[-300:] or "git diff failed")
    return _rest(process, first)


def _pipes(process: "subprocess.Popen[bytes]") -> tuple[IO[bytes], IO[bytes]]:
    if process.stdout is None or process.stderr is None:  # both are PIPE above; this only narrows the types
        raise DiffUnavailable("git diff has no output pipes")
    return process.stdout, process.stderr


def _rest(process: "subprocess.Popen[bytes]", first: bytes) -> Iterator[bytes]:
    stdout, stderr = _pipes(process)
    try:
        chunk = first
        while chunk:
            yield chunk
            chunk = stdout.read(CHUNK)
    finally:  # a client that stops reading must not leave git running
        process.kill()
        process.wait()
        stdout.close()
        stderr.close()


def bounded(repo: Path, base: str, head: str, *, limit: int, paths: tuple[str, ...] = ()) -> Bounded:
    """The diff as safe text, at most `limit` bytes of it, cut at a line's end."""
    data = bytearray()
    for chunk in stream(repo, base, head, paths=paths):
        data += chunk
        if len(data) > limit:
            cut = data.rfind(b"\n", 0, limit)
            return Bounded(text=from_bytes(bytes(data[:cut + 1] if cut >= 0 else b"")), truncated=True)
    return Bounded(text=from_bytes(bytes(data)), truncated=False)


class _Record(TypedDict):
    """One `--raw` line of `git diff`: the modes, the new blob, the status letter and the paths as git wrote them."""
    old_mode: str
    new_mode: str
    blob: str
    status: str
    old: bytes
    new: bytes


def files(repo: Path, base: str, head: str) -> list[FileStat]:
    """Every changed file: path (and old_path when renamed), status, lines added and removed, binary, its new
    size in bytes, and the symlink's target when the new entry is a link."""
    raw = _output(repo, "diff", "--raw", "--no-abbrev", "--numstat", "-z", "--find-renames", base, head)
    fields, index = raw.split(b"\0"), 0
    entries: list[FileStat] = []
    records: list[_Record] = []
    while index < len(fields) and fields[index].startswith(b":"):
        meta = fields[index][1:].split(b" ")
        renamed = meta[4][:1] in (b"R", b"C")
        old, new = fields[index + 1], fields[index + (2 if renamed else 1)]
        index += 3 if renamed else 2
        records.append({"old_mode": meta[0].decode(), "new_mode": meta[1].decode(), "blob": meta[3].decode(),
                        "status": meta[4][:1].decode(), "old": old, "new": new})
    for record in records:
        counts = fields[index].split(b"\t")
        index += 3 if counts[2] == b"" else 1
        entries.append(_entry(record, added=counts[0], removed=counts[1]))
    _add_sizes(repo, entries, [record["blob"] for record in records])
    return entries


def _entry(record: _Record, *, added: bytes, removed: bytes) -> FileStat:
    status = {"A": "added", "D": "deleted", "R": "renamed", "C": "copied"}.get(record["status"], "modified")
    entry: FileStat = {"path": from_bytes(record["new"]), "status": status, "binary": added == b"-",
             "added": 0 if added == b"-" else int(added), "removed": 0 if removed == b"-" else int(removed)}
    if status in ("renamed", "copied"):
        entry["old_path"] = from_bytes(record["old"])
    if record["new_mode"] == SYMLINK_MODE:
        entry["symlink"] = True
    return entry


def _add_sizes(repo: Path, entries: list[FileStat], blobs: list[str]) -> None:
    wanted = "".join(f"{blob}\n" for blob in blobs if blob.strip("0"))
    sizes: dict[str, int] = {}
    if wanted:
        out = subprocess.run(_git(repo, "cat-file", "--batch-check=%(objectname) %(objectsize)"),
                             input=wanted.encode(), capture_output=True, check=False).stdout
        sizes = {name.decode(): int(size) for name, _, size in (line.partition(b" ") for line in out.splitlines())
                 if size.isdigit()}
    for entry, blob in zip(entries, blobs, strict=True):
        entry["size"] = sizes.get(blob, 0)
    for entry, blob in zip(entries, blobs, strict=True):
        if entry.get("symlink") and blob in sizes:
            target = subprocess.run(_git(repo, "cat-file", "blob", blob), capture_output=True, check=False).stdout
            entry["target"] = from_bytes(target[:1000])


def _output(repo: Path, *args: str) -> bytes:
    process = subprocess.run(_git(repo, *args), capture_output=True, check=False)
    if process.returncode != 0:
        raise DiffUnavailable(from_bytes(process.stderr).strip()[-300:] or f"git {args[0]} failed")
    return process.stdout
