"""The schema of Ticket.codigo_generado: what a ticket keeps of its change once the agent pushed it.

A bounded preview of the diff (and whether it was cut), every changed file's stats (lib.diffsource.files), the base
and head commits the branch was made from and pushed as, and the dependency manifests it changed (the tests ran
with the base's installation). The agent writes it only as ChangeRecord(...).to_json(); every reader goes through
ChangeRecord.from_json(), which reads rows written before a key existed (and anything malformed) with defaults.
"""
from dataclasses import dataclass
from typing import Any, TypedDict, cast


class FileStat(TypedDict, total=False):
    """One changed file (lib.diffsource.files); old rows may lack all but path."""

    path: str
    status: str  # added, deleted, renamed, copied, modified
    binary: bool
    added: int
    removed: int
    size: int  # the new blob's bytes
    old_path: str  # renamed or copied
    symlink: bool
    target: str  # the symlink's target


@dataclass(frozen=True)
class ChangeRecord:
    diff: str = ""
    diff_truncated: bool = False  # the preview stops at FACTORY_STORED_DIFF_KB; git has the rest
    files: tuple[FileStat, ...] = ()
    base: str = ""
    head: str = ""
    dependency_manifests_changed: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The stored JSON; dependency_manifests_changed only when there are some, as rows always had it."""
        stored: dict[str, Any] = {"diff": self.diff, "diff_truncated": self.diff_truncated,
                                  "files": [dict(entry) for entry in self.files], "base": self.base,
                                  "head": self.head}
        if self.dependency_manifests_changed:
            stored["dependency_manifests_changed"] = list(self.dependency_manifests_changed)
        return stored

    @classmethod
    def from_json(cls, stored: object) -> "ChangeRecord":
        """Any stored value: a missing or mistyped key reads as its default, a file entry without a path is left
        out (None, an old row or a hand-edited one reads as no change)."""
        if not isinstance(stored, dict):
            return cls()
        files = stored.get("files")
        manifests = stored.get("dependency_manifests_changed")
        return cls(diff=_text(stored.get("diff")), diff_truncated=stored.get("diff_truncated") is True,
                   files=tuple(_file(entry) for entry in files if _is_file(entry)) if isinstance(files, list) else (),
                   base=_text(stored.get("base")), head=_text(stored.get("head")),
                   dependency_manifests_changed=tuple(name for name in manifests if isinstance(name, str))
                   if isinstance(manifests, list) else ())

    @property
    def commits(self) -> tuple[str, str] | None:
        """(base, head) when both are known: the change can be read from git."""
        return (self.base, self.head) if self.base and self.head else None

    def file(self, path: str) -> FileStat | None:
        return next((entry for entry in self.files if entry["path"] == path), None)

    @property
    def lines_added(self) -> int:
        return sum(entry.get("added", 0) for entry in self.files)

    @property
    def lines_removed(self) -> int:
        return sum(entry.get("removed", 0) for entry in self.files)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _is_file(entry: object) -> bool:
    return type(entry) is dict and type(entry.get("path")) is str  # stored JSON: exact types, and fast on 10,000


# A stored entry's keys and the exact types they must have to be read (a bool is no count, as JSON has it).
_FIELDS: tuple[tuple[str, type], ...] = (("status", str), ("binary", bool), ("added", int), ("removed", int),
                                         ("size", int), ("old_path", str), ("symlink", bool), ("target", str))


def _file(entry: dict[str, Any]) -> FileStat:
    stat: dict[str, Any] = {"path": entry["path"]}
    for name, kind in _FIELDS:
        value = entry.get(name)
        if type(value) is kind:
            stat[name] = value
    return cast(FileStat, stat)
