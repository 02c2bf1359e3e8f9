"""codigo_generado's schema: written as it always was stored, read back whatever an old row lacks."""
from lib.changerecord import ChangeRecord, FileStat

FILE: FileStat = {"path": "calc.py", "status": "modified", "binary": False, "added": 3, "removed": 1, "size": 40}


def test_a_record_round_trips_and_keeps_the_stored_shape():
    record = ChangeRecord(diff="diff --git a/calc.py b/calc.py\n", diff_truncated=True, files=(FILE,), base="b" * 40,
                          head="h" * 40, dependency_manifests_changed=("requirements.txt",))
    stored = record.to_json()
    assert stored == {"diff": "diff --git a/calc.py b/calc.py\n", "diff_truncated": True, "files": [FILE],
                      "base": "b" * 40, "head": "h" * 40, "dependency_manifests_changed": ["requirements.txt"]}
    assert ChangeRecord.from_json(stored) == record


def test_no_manifests_key_when_none_changed():
    assert "dependency_manifests_changed" not in ChangeRecord(files=(FILE,)).to_json()


def test_old_rows_without_some_keys_read_with_defaults():
    old = ChangeRecord.from_json({"diff": "x"})
    assert old == ChangeRecord(diff="x")
    assert old.commits is None and old.files == () and old.lines_added == 0
    assert ChangeRecord.from_json(None) == ChangeRecord() == ChangeRecord.from_json({})
    assert ChangeRecord.from_json({"files": [{"path": "a.py"}]}).file("a.py") == {"path": "a.py"}


def test_malformed_values_read_as_their_defaults():
    stored = {"diff": 7, "diff_truncated": "yes", "base": ["x"], "head": None,
              "files": [{"path": "a.py", "added": "3", "removed": True, "size": 9, "binary": 1}, {"added": 2}, "b.py"],
              "dependency_manifests_changed": ["package.json", 3]}
    record = ChangeRecord.from_json(stored)
    assert record == ChangeRecord(files=({"path": "a.py", "size": 9},), dependency_manifests_changed=("package.json",))
    assert ChangeRecord.from_json(["not", "a", "mapping"]) == ChangeRecord()


def test_accessors():
    record = ChangeRecord(files=(FILE, {"path": "new.py", "added": 5}), base="b", head="h")
    assert record.commits == ("b", "h")
    assert record.file("new.py") == {"path": "new.py", "added": 5} and record.file("gone.py") is None
    assert (record.lines_added, record.lines_removed) == (8, 1)
