"""Which process runs the operations on a resource only one process may open: its owner, for everyone.

Over 400 lines because owning, serving, calling and what fork and exit do to them belong together.

Why: the embedded Qdrant shard cannot be open in two processes at once, and opening it costs 30 to
300 ms, ten to a hundred times a search. Handing it from process to process (the lease this replaced)
made the web server open it again after every write of an agent worker. Now the first process that
needs it becomes its owner and keeps it until it exits (or `release()`); the others (web server
threads of another process, agent workers, management commands) send it their operations over a
Unix socket, in memory/wire.py's frames.

- Election: an exclusive flock(2) on `.lock` in the resource's folder, tried (without waiting) by a
  process that does not own before each operation. The owner listens on the socket `.owner` beside
  it. Both die with their process, so a crashed owner blocks nobody: its callers' connections end,
  they try the lock again, one of them wins (and the engine replays its write-ahead log), the
  others call the new owner.
- Nothing acknowledged is lost: the owner answers a write once it is applied (logged), and a caller
  whose connection ended before the answer sends the operation again, to the next owner; the
  operations are idempotent (an upsert or a delete of the same ids, a set vector).
- Idle costs nothing: the owner's threads sleep in accept() and recv(), callers hold idle
  connections, the flush after writes is a one-shot timer. A caller sleeps (1 ms at a time) only in
  the instant between a new owner's lock and its listening socket.
- A stuck owner: a caller waits at most `timeout()` seconds for an answer, then raises
  IndexUnavailable naming the owner's process id.
- fork() (django-q2 forks its workers): the child forgets its parent's ownership and connections
  without closing, unlocking or shutting down anything of the parent's; it is an ordinary caller.
"""
from __future__ import annotations

import atexit
import fcntl
import os
import socket
import struct
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from memory import wire
from memory.index_base import IndexUnavailable

# The owner flushes once no operation ran for TIDY_AFTER_S, or TIDY_AT_LATEST_S after the first unflushed write
# however busy it is: a flush holds the interpreter (0.3 s at 10,000 items on a loaded disk), so a web server
# that flushed two seconds after each of a worker's writes stalled every request meanwhile.
TIDY_AFTER_S = 2.0
TIDY_AT_LATEST_S = 60.0
WAIT_POLL_S = 0.001  # how often a caller tries again while the lock is held and nobody listens yet
SOCKET_NAME = ".owner"
_UCRED = struct.Struct("3i")  # SO_PEERCRED: pid, uid, gid
_GONE = object()  # the owner went away before answering: take over or call the next one
YIELD = "__yield__"  # asks the owner to give the resource up, to a process that prefers to own it (claim)


class Ownership:
    """Runs `run(op, args)` here when this process owns the resource, else asks the owner over its socket."""

    def __init__(self, folder: Path, *, run: Callable[[str, dict], object], close: Callable[[], None],
                 tidy: Callable[[], None], abandon: Callable[[], None], timeout: Callable[[], float]) -> None:
        self.folder = Path(folder)
        self._run = run  # the operation on the open resource (it opens it on first use)
        self._close = close  # flush and close it (give-up, exit)
        self._tidy = tidy  # flush it (after writes, when idle)
        self._abandon = abandon  # forget it without closing (a forked child)
        self._timeout = timeout
        self.taken_over = 0  # times this process became the owner (a benchmark reads it)
        self._reset_process_state()
        _live.add(self)

    def _reset_process_state(self) -> None:
        self._mutex = threading.RLock()  # one operation at a time on the resource; a session keeps it
        self._take_guard = threading.Lock()
        self._sockets_guard = threading.Lock()
        self._owned = False
        self._lock_fd: int | None = None
        self._dir_fd: int | None = None
        self._listener: socket.socket | None = None
        self._served: set[socket.socket] = set()  # connections this owner answers on
        self._pool: list[socket.socket] = []  # this caller's idle connections to the owner
        self._changed = False
        self._changed_at = 0.0
        self._last_operation = 0.0

    @property
    def owned(self) -> bool:
        return self._owned

    # -- calling -------------------------------------------------------------------------------

    def call(self, op: str, args: dict, *, timeout: float | None = None) -> object:
        """The operation's result, from this process or the owner; IndexUnavailable when none answers within
        `timeout` seconds (by default the resource's)."""
        timeout = self._timeout() if timeout is None else timeout
        deadline = time.monotonic() + timeout
        encoded: dict | None = None
        while True:
            if self._owned or self._try_to_own():
                with self._mutex:
                    if self._owned:  # not given up meanwhile by another thread
                        return self._run_here(op, args)
                continue
            encoded = wire.encode_args(op, args) if encoded is None else encoded
            result = self._call_owner(op, encoded, deadline, timeout)
            if result is not _GONE:
                return result

    def claim(self) -> bool:
        """Become the owner, asking the present one to give up (once, by a process that should own the resource
        for the others: the web server). False when no owner gave it up within the timeout."""
        deadline = time.monotonic() + self._timeout()
        while time.monotonic() < deadline:
            if self._owned or self._try_to_own():
                return True
            connection = self._connection(deadline)
            if connection is None:
                time.sleep(WAIT_POLL_S)
                continue
            try:
                connection.settimeout(max(deadline - time.monotonic(), 0.001))
                wire.send(connection, {"op": YIELD, "args": {}})
                wire.receive(connection)  # the owner ends the connection once it gave up
            except (wire.PeerGone, OSError):
                pass  # given up (or died): the lock is free, unless another caller took it first
            except wire.WireError:
                return False
            finally:
                connection.close()
        return False

    @contextmanager
    def session(self) -> Iterator[None]:
        """In the owner, no other caller's operation runs inside the block; elsewhere the owner keeps the
        resource anyway, so a block of calls needs nothing more."""
        if self._owned or self._try_to_own():
            with self._mutex:
                yield
        else:
            yield

    def mark_changed(self) -> None:
        """The owner's resource changed: flushed once quiet for TIDY_AFTER_S, at the latest TIDY_AT_LATEST_S later."""
        if not self._changed:
            self._changed = True
            self._changed_at = time.monotonic()
            self._schedule_tidy(TIDY_AFTER_S)

    def release(self) -> None:
        """Close the resource and stop owning it now (tests, a benchmark, settings changed, exit)."""
        with self._mutex:
            self._give_up()
        self._drop_pool()

    def _run_here(self, op: str, args: dict) -> object:
        try:
            return self._run(op, args)
        finally:
            self._last_operation = time.monotonic()

    def _call_owner(self, op: str, encoded: dict, deadline: float, timeout: float) -> object:
        connection = self._connection(deadline)
        if connection is None:  # the lock is held and nobody listens yet (a new owner's first instant)
            self._check_deadline(deadline, timeout, pid=None)
            time.sleep(WAIT_POLL_S)
            return _GONE
        try:
            connection.settimeout(max(deadline - time.monotonic(), 0.001))
            wire.send(connection, {"op": op, "args": encoded})
            answer = wire.receive(connection)
        except (wire.PeerGone, BrokenPipeError, ConnectionResetError):
            connection.close()  # it gave up or died before answering: ask again, maybe as the new owner
            self._check_deadline(deadline, timeout, pid=None)
            return _GONE
        except TimeoutError:
            pid = _peer_pid(connection)
            connection.close()
            raise IndexUnavailable(self._stuck(timeout, pid, op)) from None
        except wire.WireError as exc:
            pid = _peer_pid(connection)
            connection.close()
            raise IndexUnavailable(f"the process {pid} owning the memory index at {self.folder} {exc}; "
                                   "restart the factory's processes so they run one release") from exc
        with self._sockets_guard:
            self._pool.append(connection)
        return self._result(op, answer, pid_of=connection)

    def _result(self, op: str, answer: dict, *, pid_of: socket.socket) -> object:
        if "ok" in answer:
            return wire.decode_result(op, answer["ok"])
        known = wire.KNOWN_ERRORS.get(str(answer.get("error")))
        message = str(answer.get("message"))
        if known is not None:
            raise known(message)
        raise IndexUnavailable(f"the process {_peer_pid(pid_of)} owning the memory index at {self.folder} "
                               f"failed on {op}: {message}")

    def _check_deadline(self, deadline: float, timeout: float, *, pid: int | None) -> None:
        if time.monotonic() >= deadline:
            raise IndexUnavailable(self._stuck(timeout, pid, None))

    def _stuck(self, timeout: float, pid: int | None, op: str | None) -> str:
        who = f"the process {pid} owning it" if pid else "the process owning it (see `fuser` on its .lock)"
        what = f"{op} " if op else ""
        return f"memory index at {self.folder}: {who} did not answer {what}within {timeout:g} s"

    def _connection(self, deadline: float) -> socket.socket | None:
        with self._sockets_guard:
            if self._pool:
                return self._pool.pop()
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            connection.connect(self._socket_path())
        except (FileNotFoundError, ConnectionRefusedError):  # no owner yet, or a dead one's socket
            connection.close()
            return None
        except OSError as exc:
            connection.close()
            raise IndexUnavailable(f"cannot use memory index folder {self.folder}: {exc}") from exc
        return connection

    def _drop_pool(self) -> None:
        with self._sockets_guard:
            pool, self._pool = self._pool, []
        for connection in pool:
            connection.close()

    # -- owning --------------------------------------------------------------------------------

    def _try_to_own(self) -> bool:
        with self._take_guard:
            if self._owned:
                return True
            lock_fd = self._open_files()
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            try:
                self._listen()
            except BaseException:
                fcntl.flock(lock_fd, fcntl.LOCK_UN)
                raise
            self._owned = True
            self.taken_over += 1
        self._drop_pool()  # connections to the previous owner, dead or gone
        return True

    def _listen(self) -> None:
        path = self._socket_path()
        with suppress(FileNotFoundError):
            os.unlink(path)  # a dead owner's: we hold the lock, so no live process listens there
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(path)
            listener.listen(128)
        except OSError as exc:
            listener.close()
            raise IndexUnavailable(f"cannot listen on {self.folder / SOCKET_NAME}: {exc}") from exc
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="memory-owner", daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # shut down: ownership given up
                return
            if not _trusted(connection):
                connection.close()
                continue
            with self._sockets_guard:
                if self._listener is not listener:
                    connection.close()
                    return
                self._served.add(connection)
            threading.Thread(target=self._serve, args=(connection,), name="memory-owner-caller",
                             daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        """One caller's connection: asleep in recv() between its requests."""
        try:
            while True:
                try:
                    request = wire.receive(connection)
                except wire.PeerGone:
                    return
                except wire.WireError as exc:
                    wire.send(connection, {"error": "unexpected", "message": f"(process {os.getpid()}) {exc}"})
                    return
                answer = self._answer(request)
                if answer is None:
                    return  # no longer the owner: the caller sees the connection end and asks the next one
                wire.send(connection, answer)
        except OSError:
            return
        finally:
            with self._sockets_guard:
                self._served.discard(connection)
            connection.close()

    def _answer(self, request: dict) -> dict | None:
        op, args = request.get("op"), request.get("args")
        if not isinstance(op, str) or not isinstance(args, dict):
            return {"error": "unexpected", "message": "a request without an operation and its arguments"}
        with self._mutex:
            if not self._owned:
                return None
            if op == YIELD:
                self._give_up()
                return None
            try:
                return {"ok": wire.encode_result(op, self._run_here(op, wire.decode_args(op, args)))}
            except Exception as exc:  # the caller raises it: a known error as itself, any other as IndexUnavailable
                return wire.error_body(exc)

    def _give_up(self) -> None:
        """Under the mutex: flush and close, stop answering, then unlock (the next owner finds it all written)."""
        if not self._owned:
            return
        self._changed = False
        try:
            self._close()
        finally:
            with self._sockets_guard:
                listener, self._listener = self._listener, None
                served, self._served = self._served, set()
            if listener is not None:
                with suppress(OSError):
                    os.unlink(self._socket_path())  # before the unlock: the next owner's socket is its own
                with suppress(OSError):
                    listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
                listener.close()
            for connection in served:
                with suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)  # its thread wakes, its caller asks again
            self._owned = False
            if self._lock_fd is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _open_files(self) -> int:
        if self._lock_fd is not None:
            return self._lock_fd
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            dir_fd = os.open(self.folder, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            lock_fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise IndexUnavailable(f"cannot use memory index folder {self.folder}: {exc}") from exc
        self._dir_fd, self._lock_fd = dir_fd, lock_fd
        return lock_fd

    def _socket_path(self) -> str:
        # Through the folder's descriptor: a socket's path may not exceed 107 bytes, a data folder's may.
        if self._dir_fd is None:
            self._open_files()
        return f"/proc/self/fd/{self._dir_fd}/{SOCKET_NAME}"

    # -- flushing, exit and fork -----------------------------------------------------------------

    def _schedule_tidy(self, after_s: float) -> None:
        timer = threading.Timer(after_s, self._tidy_when_quiet)
        timer.daemon = True
        timer.name = "memory-owner-flush"
        timer.start()

    def _tidy_when_quiet(self) -> None:
        """One timer at a time, re-armed only while operations keep coming: an idle owner's timer fires once."""
        if not self._changed:
            return  # closed (and so flushed) meanwhile
        now = time.monotonic()
        quiet_in = self._last_operation + TIDY_AFTER_S - now
        due_in = self._changed_at + TIDY_AT_LATEST_S - now
        if quiet_in > 0 and due_in > 0:
            self._schedule_tidy(min(quiet_in, due_in))
            return
        with self._mutex:  # waits for a running operation, never interrupts one
            if self._owned and self._changed:
                self._changed = False
                self._tidy()

    def _close_at_exit(self) -> None:
        if self._mutex.acquire(timeout=1.0):
            try:
                self._give_up()
            finally:
                self._mutex.release()

    def _forget_after_fork(self) -> None:
        """In a forked child: drop the parent's ownership and connections without touching the parent's."""
        if self._owned:
            self._abandon()
        # Our copies of every descriptor into the folder go, the engine's own included (it flocks its WAL):
        # one inherited would keep the parent's locks alive after the parent died. Closing a copy is safe;
        # LOCK_UN and shutdown() are not: they act on the parent's lock and sockets.
        for fd in _descriptors_under(self.folder):
            with suppress(OSError):
                os.close(fd)
        for sock in (self._listener, *self._served, *self._pool):
            if sock is not None:
                with suppress(OSError):
                    os.close(sock.detach())
        if self._dir_fd is not None:
            with suppress(OSError):
                os.close(self._dir_fd)
        self._reset_process_state()


def _peer_pid(connection: socket.socket) -> int | None:
    try:
        pid, _, _ = _UCRED.unpack(connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
    except OSError:
        return None
    return pid


def _trusted(caller: socket.socket) -> bool:
    """Only this user's processes and root's may run operations on the resource."""
    try:
        _, uid, _ = _UCRED.unpack(caller.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
    except OSError:
        return False
    return uid in (os.getuid(), 0)


def _descriptors_under(folder: Path) -> list[int]:
    found = []
    prefix = str(folder.resolve()) + os.sep
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # the descriptor os.listdir itself used, already closed
            continue
        if target.startswith(prefix):
            found.append(int(name))
    return found


_live: weakref.WeakSet[Ownership] = weakref.WeakSet()


def _forget_all_after_fork() -> None:
    for ownership in list(_live):
        ownership._forget_after_fork()


def _close_all_at_exit() -> None:
    for ownership in list(_live):
        try:
            ownership._close_at_exit()
        except Exception:  # its folder may be gone (a temporary index); the kernel drops the lock anyway
            pass


os.register_at_fork(after_in_child=_forget_all_after_fork)
atexit.register(_close_all_at_exit)
