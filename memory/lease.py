"""A lease on a resource that only one process may have open at a time, handed over on request.

Over 400 lines because the lock, the hand-over socket and what fork and exit do to both belong together.

Why: the embedded Qdrant shard cannot be open in two processes at once (loading it rewrites
files), and opening it costs 30 to 300 ms, ten to a hundred times a search. So the process that
used it last keeps it open, and gives it up only when another process asks for it. A web server
that is the only one searching pays the open once; a worker that writes now and then takes the
lease over for its write and hands it back when the web server next asks.

The protocol uses three files in the resource's folder; flock(2) and a listening socket both die
with their process, so a crashed holder never blocks the others:

- `.lock`: the holder keeps an exclusive lock on it for as long as it keeps the resource open.
- `.handover`: a Unix socket the holder listens on. A process that wants the lease connects to it
  and waits for the connection to end; the holder's answering thread, which sleeps in accept(),
  closes the resource as soon as no operation of its own is running (never in the middle of one,
  never inside a `hold()` block), removes the socket, unlocks `.lock` and only then closes the
  callers' connections. An idle holder spends no CPU: nothing polls.
- `.want`: a waiting process holds a shared lock on it while it waits. A holder that has just given
  the lease up looks at it (for at most `TURN_S`) before it asks again, so two busy processes
  alternate instead of one starving the other.

Changes are flushed (`tidy_resource`) by a timer thread TIDY_AFTER_S after the first change, once
no operation runs. Threads of one process share its lease: a re-entrant mutex lets one operation
at a time use the resource. After fork() (django-q2 forks its workers) the child forgets its
parent's lease without closing, unlocking or shutting down anything of the parent's.
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
from typing import Generic, TypeVar

Resource = TypeVar("Resource")

TIDY_AFTER_S = 2.0  # a resource changed this long ago, and idle, gets `tidy_resource` (a flush)
WAIT_POLL_S = 0.001  # how often a waiter tries the lock while no holder answers on the socket
TURN_S = 1.0  # longest a process that just gave the lease up lets the waiters go first
SOCKET_NAME = ".handover"
_UCRED = struct.Struct("3i")  # SO_PEERCRED: pid, uid, gid


class LeaseUnavailable(Exception):
    """The lease cannot be taken: its folder is unusable, or another process kept it too long."""


class LeaseTimeout(LeaseUnavailable):
    """Another process kept the lease longer than the timeout."""


class Lease(Generic[Resource]):
    """Exclusive, inter-process use of a resource opened by `open_resource` and closed by `close_resource`."""

    def __init__(self, folder: Path, *, open_resource: Callable[[], Resource],
                 close_resource: Callable[[Resource], None], timeout: Callable[[], float],
                 tidy_resource: Callable[[Resource], None] = lambda resource: None) -> None:
        self.folder = Path(folder)
        self._open_resource = open_resource
        self._close_resource = close_resource
        self._tidy_resource = tidy_resource
        self._timeout = timeout
        self._reset_process_state()
        self.handovers = 0  # times this process took the lease over (a benchmark reads it)
        _live_leases.add(self)

    def _reset_process_state(self) -> None:
        self._mutex = threading.RLock()
        self._want_guard = threading.Lock()  # a waiting thread and `_someone_waiting` both use `.want`
        self._callers_guard = threading.Lock()
        self._depth = 0
        self._resource: Resource | None = None
        self._lock_fd: int | None = None
        self._want_fd: int | None = None
        self._dir_fd: int | None = None
        self._listener: socket.socket | None = None
        self._callers: list[socket.socket] = []
        self._held = False
        self._release_requested = False
        self._gave_up_at: float | None = None
        self._changed_at: float | None = None  # since when the open resource has changes `tidy` has not seen
        self._tidy_timer: threading.Timer | None = None

    # -- public ------------------------------------------------------------------------------

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Keep the lease (the lock, not necessarily the open resource) for the block."""
        with self._mutex:
            self._depth += 1
            try:
                self._lock()
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._release_requested:
                    self._hand_over()

    @contextmanager
    def use(self) -> Iterator[Resource]:
        """The open resource, for one operation or a block of them."""
        with self.hold():
            if self._resource is None:
                self._resource = self._open_checked()
            yield self._resource

    def mark_changed(self) -> None:
        """The open resource changed: it is tidied once TIDY_AFTER_S have passed and no operation runs."""
        if self._changed_at is None:
            self._changed_at = time.monotonic()
            self._schedule_tidy(TIDY_AFTER_S)

    def close_resource(self) -> None:
        """Close the resource but keep the lease (inside `hold()`, before replacing the resource's files)."""
        with self._mutex:
            resource, self._resource = self._resource, None
            self._changed_at = None
            if resource is not None:
                self._close_resource(resource)

    def release(self) -> None:
        """Close the resource and give the lease up now (tests, process exit)."""
        with self._mutex:
            if self._depth:
                raise RuntimeError("release() inside hold() or use() of the same lease")
            self._release()

    @property
    def held(self) -> bool:
        return self._held

    def used_by_this_thread(self) -> bool:
        if not self._mutex.acquire(blocking=False):
            return False  # another thread is using it
        try:
            return self._depth > 0
        finally:
            self._mutex.release()

    # -- taking and giving up ------------------------------------------------------------------

    def _open_checked(self) -> Resource:
        try:
            return self._open_resource()
        except BaseException:
            self._release()  # nothing is open: let the others in rather than hold a useless lock
            raise

    def _lock(self) -> None:
        if self._held:
            return
        self._open_files()
        self._let_waiters_go_first()
        with self._want_guard:
            fcntl.flock(opened(self._want_fd, ".want"), fcntl.LOCK_SH)
        try:
            self._wait_for_lock()
        finally:
            with self._want_guard:
                fcntl.flock(opened(self._want_fd, ".want"), fcntl.LOCK_UN)
        self._held = True
        self._release_requested = False
        self.handovers += 1
        try:
            self._listen()
        except BaseException:
            self._release()
            raise

    def _wait_for_lock(self) -> None:
        """Take `.lock`, asking its holder through its socket and sleeping until that connection ends."""
        timeout = self._timeout()
        deadline = time.monotonic() + timeout
        caller: socket.socket | None = None
        try:
            while True:
                try:
                    fcntl.flock(opened(self._lock_fd, ".lock"), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    pass
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LeaseTimeout(f"held by another process for more than {timeout:.0f} s")
                caller = caller or self._call_holder()
                if caller is None:  # the holder is between taking the lock and listening, or letting go
                    time.sleep(WAIT_POLL_S)
                    continue
                if _wait_for_end(caller, remaining):
                    caller.close()
                    caller = None  # let go (or died): try the lock, and call whoever holds it next
        finally:
            if caller is not None:
                caller.close()

    def _call_holder(self) -> socket.socket | None:
        caller = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            caller.connect(self._socket_path())
        except OSError:  # no socket, or a dead holder's: nobody to ask
            caller.close()
            return None
        return caller

    def _listen(self) -> None:
        path = self._socket_path()
        with suppress(FileNotFoundError):
            os.unlink(path)  # a dead holder's: we hold the lock, so no live process listens there
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(path)
            listener.listen(64)
        except OSError as exc:
            listener.close()
            raise LeaseUnavailable(f"cannot listen on {self.folder / SOCKET_NAME}: {exc}") from exc
        self._listener = listener
        threading.Thread(target=self._answer_callers, args=(listener,), name="memory-lease-handover",
                         daemon=True).start()

    def _answer_callers(self, listener: socket.socket) -> None:
        """The holder's answering thread: asleep in accept() until a process asks, then hands over."""
        while True:
            try:
                caller, _ = listener.accept()
            except OSError:  # shut down: the lease was given up
                return
            if not _trusted(caller):
                caller.close()
                continue
            with self._callers_guard:
                if self._listener is not listener:
                    caller.close()  # given up meanwhile: the caller finds the lock free
                    return
                self._callers.append(caller)
            self._release_requested = True  # an operation running now releases when it ends
            with self._mutex:  # waits for the running operation, which may have handed over already
                if self._depth == 0 and self._held and self._listener is listener:
                    self._hand_over()

    def _stop_listening(self) -> list[socket.socket]:
        with self._callers_guard:
            listener, self._listener = self._listener, None
            callers, self._callers = self._callers, []
        if listener is not None:
            with suppress(OSError):
                os.unlink(self._socket_path())  # before the unlock: the next holder's socket is its own
            with suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the answering thread's accept()
            listener.close()
        return callers

    def _let_waiters_go_first(self) -> None:
        if self._gave_up_at is None:
            return
        give_way_until = self._gave_up_at + TURN_S
        self._gave_up_at = None
        while time.monotonic() < give_way_until and self._someone_waiting():
            time.sleep(WAIT_POLL_S)

    def _release(self) -> None:
        try:
            self.close_resource()
        finally:
            callers = self._stop_listening()
            if self._held:
                fcntl.flock(opened(self._lock_fd, ".lock"), fcntl.LOCK_UN)
                self._held = False
            self._release_requested = False
            for caller in callers:
                caller.close()  # the waiters wake to a free lock

    def _hand_over(self) -> None:
        self._release()
        self._gave_up_at = time.monotonic()

    def _open_files(self) -> None:
        if self._lock_fd is not None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            dir_fd = os.open(self.folder, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            lock_fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            self._want_fd = os.open(self.folder / ".want", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise LeaseUnavailable(str(exc)) from exc
        self._dir_fd = dir_fd
        self._lock_fd = lock_fd

    def _socket_path(self) -> str:
        # Through the folder's descriptor: a socket's path may not exceed 107 bytes, a data folder's may.
        return f"/proc/self/fd/{self._dir_fd}/{SOCKET_NAME}"

    def _someone_waiting(self) -> bool:
        with self._want_guard:
            if self._want_fd is None:
                return False
            try:
                fcntl.flock(self._want_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(self._want_fd, fcntl.LOCK_UN)
            return False

    # -- tidying, exit and fork -----------------------------------------------------------------

    def _schedule_tidy(self, after_s: float) -> None:
        timer = threading.Timer(after_s, self._tidy_when_idle)
        timer.daemon = True
        timer.name = "memory-lease-tidy"
        self._tidy_timer = timer
        timer.start()

    def _tidy_when_idle(self) -> None:
        changed_at = self._changed_at
        if changed_at is None:
            return  # closed (and so flushed) meanwhile
        if self._mutex.acquire(blocking=False):
            try:
                if self._depth == 0 and self._resource is not None and self._changed_at is not None:
                    self._changed_at = None
                    self._tidy_resource(self._resource)
                    return
            finally:
                self._mutex.release()
        self._schedule_tidy(TIDY_AFTER_S)  # busy now: try again later

    def _close_at_exit(self) -> None:
        if self._mutex.acquire(timeout=1.0):
            try:
                if self._depth == 0:
                    self._release()
            finally:
                self._mutex.release()

    def _forget_after_fork(self) -> None:
        """In a forked child: drop the parent's lease without closing or unlocking anything of it."""
        if self._resource is not None:
            _abandoned.append(self._resource)  # never closed here: closing would write the parent's files
        # Our copies of every descriptor into the folder go, the resource's own included (the engine
        # flocks its WAL): an inherited descriptor would keep the parent's locks alive after the parent
        # let go. Closing is safe, LOCK_UN and shutdown() are not: they act on the parent's lock and socket.
        for fd in _descriptors_under(self.folder):
            os.close(fd)
        for sock in (self._listener, *self._callers):
            if sock is not None:
                os.close(sock.detach())  # the parent's socket stays open and listening in the parent
        if self._dir_fd is not None:
            with suppress(OSError):
                os.close(self._dir_fd)
        self._reset_process_state()

    def __del__(self) -> None:
        try:
            self._close_at_exit()
            for fd in (self._lock_fd, self._want_fd, self._dir_fd):
                if fd is not None:
                    os.close(fd)
        except Exception:  # interpreter shutdown: the kernel drops the locks anyway
            pass


def _wait_for_end(caller: socket.socket, timeout: float) -> bool:
    """True once the holder ended the connection (it let go, or died); False when `timeout` passed first."""
    caller.settimeout(timeout)
    try:
        return caller.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def _trusted(caller: socket.socket) -> bool:
    """Only this user's processes and root's may make the holder give the lease up."""
    try:
        _, uid, _ = _UCRED.unpack(caller.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
    except OSError:
        return False
    return uid in (os.getuid(), 0)


def opened(descriptor: int | None, name: str) -> int:
    """A lease file's descriptor, which _open_files set before any lock is taken or let go."""
    if descriptor is None:
        raise LeaseUnavailable(f"the lease's {name} file is not open")
    return descriptor


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


_live_leases: weakref.WeakSet[Lease] = weakref.WeakSet()
_abandoned: list[object] = []


def _forget_all_after_fork() -> None:
    for lease in list(_live_leases):
        lease._forget_after_fork()


def _close_all_at_exit() -> None:
    for lease in list(_live_leases):
        try:
            lease._close_at_exit()
        except Exception:  # its folder may be gone (a temporary index); the kernel drops the locks anyway
            pass


os.register_at_fork(after_in_child=_forget_all_after_fork)
atexit.register(_close_all_at_exit)
