"""The embedded index shared by real processes through its owner: serving, crashes, a stuck owner, fork, idle CPU."""

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from memory import engine, owner, wire
from memory.index import EmbeddedIndex, IndexPoint, IndexUnavailable
from memory.owner import Ownership

DIM = 8
REPO_ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENT = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}

PRELUDE = """
import json, os, sys, time, uuid
from memory.index import EmbeddedIndex, IndexPoint

def point(text, axis=0, project="p"):
    vector = [0.0] * 8
    vector[axis % 8] = 1.0
    return IndexPoint(id=str(uuid.uuid4()), text=text, dense=vector,
                      payload={"project": project, "kind": "k", "tags": []})

def say(**fields):
    print(json.dumps(fields), flush=True)

index = EmbeddedIndex(sys.argv[1], dim=8)
index.LOCK_TIMEOUT_SECONDS = 30
"""

# Becomes the owner with a write, then stays idle (serving the others) until told to go on.
OWNER = PRELUDE + """
first = point("written by the owner process")
index.upsert([first])
say(id=first.id, owner=index.owner, pid=os.getpid())
sys.stdin.readline()
hits = index.search(text="written through the socket", dense=None, k=1)
say(found=[hit.id for hit in hits], owner=index.owner, taken_over=index.taken_over)
"""

# Writes one point at a time, saying each id once the write is acknowledged; the owner may die meanwhile.
WRITER = PRELUDE + """
for n in range(int(sys.argv[2])):
    written = point(f"acknowledged lesson {n}", n)
    index.upsert([written])
    say(acked=written.id)
say(done=True, owner=index.owner)
sys.stdin.readline()
"""

# Owns the shard, lets the flush timer run, then reports its CPU time over two idle seconds.
IDLE_OWNER = PRELUDE + """
index.upsert([point("written before going idle")])
say(ready=True)
time.sleep(2.5)
start = time.process_time()
time.sleep(2.0)
say(cpu_s=time.process_time() - start, owner=index.owner)
"""

# Owns the shard, then (told to go on) writes again: through the socket once another process claimed it.
YIELDING_OWNER = PRELUDE + """
index.upsert([point("written while owning")])
say(owner=index.owner)
sys.stdin.readline()
index.upsert([point("written after the claim")])
say(owner=index.owner, count=index.count())
"""

FORKING_OWNER = PRELUDE + """
index.upsert([point("written by the parent before fork")])
child = os.fork()
if child == 0:
    try:
        index.upsert([point("written by the forked child")])
        hits = index.search(text="parent before fork", dense=None, k=1)
        os._exit(0 if hits and not index.owner else 3)
    except BaseException:
        os._exit(4)
_, status = os.waitpid(child, 0)
found = index.search(text="forked child", dense=None, k=1)
say(child_status=os.waitstatus_to_exitcode(status), parent_found_child_write=bool(found), count=index.count(),
    owner=index.owner, taken_over=index.taken_over)
"""


def start(script: str, *arguments: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script, *arguments], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENVIRONMENT)


def read_line(process: subprocess.Popen) -> dict:
    line = process.stdout.readline()
    assert line, process.stderr.read()
    return json.loads(line)


def go_on(process: subprocess.Popen) -> None:
    process.stdin.write("go on\n")
    process.stdin.flush()


def stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait()


def point(text: str) -> IndexPoint:
    return IndexPoint(id=str(uuid.uuid4()), text=text, dense=[1.0] + [0.0] * (DIM - 1),
                      payload={"project": "p", "kind": "k", "tags": []})


@pytest.fixture
def index(tmp_path):
    shared = EmbeddedIndex(tmp_path / "memory", dim=DIM)
    shared.LOCK_TIMEOUT_SECONDS = 30
    yield shared
    shared.close()


def test_the_first_process_owns_the_shard_and_keeps_it(index):
    index.upsert([point("kept open between calls")])
    for _ in range(20):
        assert index.search(text="kept open", dense=None, k=1)
    assert index.count() == 1
    assert index.owner and index.taken_over == 1


def test_another_process_searches_and_writes_through_the_owner(index):
    owner = start(OWNER, str(index.path))
    try:
        written_by_owner = read_line(owner)
        assert written_by_owner["owner"] is True

        assert index.search(text="owner process", dense=None, k=1)[0].id == written_by_owner["id"]
        mine = point("written through the socket")
        index.upsert([mine])
        assert index.count() == 2
        assert not index.owner and index.taken_over == 0  # the shard never changed hands

        go_on(owner)
        assert read_line(owner) == {"found": [mine.id], "owner": True, "taken_over": 1}
        assert owner.wait(timeout=60) == 0
    finally:
        stop(owner)
    assert index.count() == 2  # the owner exited: this process took over, and the writes were all there
    assert index.owner


def test_the_owner_killed_mid_run_loses_no_acknowledged_write(index):
    owner = start(OWNER, str(index.path))
    writer = None
    try:
        read_line(owner)
        mine = point("written through the socket before the owner died")
        index.upsert([mine])  # acknowledged by the owner
        writer = start(WRITER, str(index.path), "60")
        acked = [read_line(writer)["acked"] for _ in range(10)]
        os.kill(owner.pid, signal.SIGKILL)  # no close, no flush, no unlock: the kernel drops the lock
        owner.wait()
        while "done" not in (line := read_line(writer)):
            acked.append(line["acked"])
        assert line["owner"] is True  # the writer's next call took the shard over and went on
        assert len(acked) == 60

        assert index.count() == 62  # the owner's first write, mine, the writer's 60, through the new owner
        assert index.search(text="before the owner died", dense=None, k=1)[0].id == mine.id
        found = {hit.id for hit in index.search(text="acknowledged lesson", dense=None, k=100)}
        assert set(acked) <= found
    finally:
        stop(owner)
        if writer is not None:
            stop(writer)


def test_a_caller_takes_over_when_the_owner_dies(index):
    owner = start(OWNER, str(index.path))
    try:
        read_line(owner)
        mine = point("acknowledged before the crash")
        index.upsert([mine])
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        assert index.search(text="acknowledged before the crash", dense=None, k=1)[0].id == mine.id
        assert index.owner and index.count() == 2
    finally:
        stop(owner)


def test_the_process_that_should_own_claims_the_shard_from_its_owner(index):
    owner = start(YIELDING_OWNER, str(index.path))
    try:
        assert read_line(owner) == {"owner": True}
        assert index.claim()  # the web server's first search with FACTORY_MEMORY_OWNER
        assert index.owner and index.count() == 1
        go_on(owner)
        assert read_line(owner) == {"owner": False, "count": 2}
        assert owner.wait(timeout=60) == 0
    finally:
        stop(owner)
    assert index.search(text="after the claim", dense=None, k=1)
    assert index.owner and index.taken_over == 1


def test_with_factory_memory_owner_the_first_use_claims_the_shard(settings, tmp_path):
    settings.FACTORY_DATA_DIR, settings.QDRANT_URL, settings.FACTORY_EMBED_DIM = tmp_path, "", DIM
    settings.FACTORY_MEMORY_OWNER = True  # as make run starts the web server
    worker = start(YIELDING_OWNER, str(tmp_path / "memory"))
    try:
        assert read_line(worker) == {"owner": True}
        claimed = engine.index()
        assert claimed.owner
        go_on(worker)
        assert read_line(worker) == {"owner": False, "count": 2}
    finally:
        stop(worker)
    claimed.close()


def test_a_stuck_owner_gives_a_clear_error_naming_it(index):
    owner = start(OWNER, str(index.path))
    try:
        pid = read_line(owner)["pid"]
        index.count()  # connected
        os.kill(pid, signal.SIGSTOP)
        while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
            time.sleep(0.01)  # stopped: the signal is delivered, not only sent
        index.LOCK_TIMEOUT_SECONDS = 0.5
        with pytest.raises(IndexUnavailable, match=f"the process {pid} owning it did not answer count within 0.5 s"):
            index.count()
        os.kill(pid, signal.SIGCONT)
        assert index.count() == 1
    finally:
        os.kill(owner.pid, signal.SIGCONT)
        stop(owner)


def test_an_idle_owner_spends_no_cpu_while_a_caller_stays_connected(index):
    owner = start(IDLE_OWNER, str(index.path))
    try:
        assert read_line(owner) == {"ready": True}
        assert index.count() == 1  # this process keeps a connection open to the owner meanwhile
        answer = read_line(owner)
        assert answer["owner"] is True
        assert answer["cpu_s"] < 0.02  # clock ticks are 10 ms: nothing ran
    finally:
        stop(owner)


def test_a_forked_child_of_the_owner_calls_its_parent(index):
    parent = start(FORKING_OWNER, str(index.path))
    try:
        assert read_line(parent) == {"child_status": 0, "parent_found_child_write": True, "count": 2,
                                     "owner": True, "taken_over": 1}
        assert parent.wait(timeout=60) == 0
    finally:
        stop(parent)
    assert index.count() == 2


def test_an_owner_of_another_protocol_version_is_named(index, monkeypatch):
    index.count()
    index.close()
    lock = os.open(index.path / ".lock", os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)  # this test plays an owner of another release
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(index.path / ".owner"))
    listener.listen(1)

    def answer_in_version_99() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(1 << 16)
            body = b'{"ok":0}'
            connection.sendall(wire.HEADER.pack(wire.MAGIC, 99, len(body)) + body)

    thread = threading.Thread(target=answer_in_version_99)
    thread.start()
    try:
        with pytest.raises(IndexUnavailable, match=f"process {os.getpid()} .* speaks memory protocol version 99"):
            index.count()
    finally:
        thread.join()
        listener.close()
        os.unlink(index.path / ".owner")
        os.close(lock)
    assert index.count() == 0


def busy_owner(folder: Path, flushed: list[float]) -> Ownership:
    def run(op: str, args: dict) -> None:
        if op == "write":
            ownership.mark_changed()

    ownership = Ownership(folder, run=run, close=lambda: None, tidy=lambda: flushed.append(time.monotonic()),
                          abandon=lambda: None, timeout=lambda: 5.0)
    return ownership


def keep_busy(ownership: Ownership, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ownership.call("read", {})
        time.sleep(0.02)


def test_the_owner_flushes_once_quiet_never_between_busy_operations(tmp_path, monkeypatch):
    monkeypatch.setattr(owner, "TIDY_AFTER_S", 0.3)
    flushed: list[float] = []
    ownership = busy_owner(tmp_path, flushed)
    try:
        ownership.call("write", {})
        keep_busy(ownership, 1.0)
        assert flushed == []  # a flush holds the interpreter: not while operations keep coming
        quiet_from = time.monotonic()
        time.sleep(0.8)
        assert len(flushed) == 1 and flushed[0] - quiet_from >= 0.25
    finally:
        ownership.release()


def test_a_busy_owner_flushes_at_the_latest_after_tidy_at_latest(tmp_path, monkeypatch):
    monkeypatch.setattr(owner, "TIDY_AFTER_S", 0.3)
    monkeypatch.setattr(owner, "TIDY_AT_LATEST_S", 0.6)
    flushed: list[float] = []
    ownership = busy_owner(tmp_path, flushed)
    try:
        ownership.call("write", {})
        keep_busy(ownership, 1.2)
        assert len(flushed) == 1
    finally:
        ownership.release()
