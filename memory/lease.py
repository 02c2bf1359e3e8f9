"""A lease on a resource that only one process may have open at a time, handed over on request.

Why: the embedded Qdrant shard cannot be open in two processes at once (loading it rewrites
files), and opening it costs 30 to 300 ms, ten to a hundred times a search. So the process that
used it last keeps it open, and gives it up only when another process asks for it. A web server
that is the only one searching pays the open once; a worker that writes now and then takes the
lease over for its write and hands it back when the web server next asks.

The protocol uses two files in the resource's folder and flock(2), so the kernel drops a dead
process's locks with it (a crashed holder never blocks the others):

- `.lock`: the holder keeps an exclusive lock on it for as long as it keeps the resource open.
- `.want`: a process waiting for the lease holds a shared lock on it while it waits.

A watcher thread (one per process) probes `.want` of every lease its process holds every
`WATCH_S`. When a waiter shows up, the holder closes the resource and unlocks `.lock` as soon as
no operation of its own is running: never in the middle of one, never inside a `hold()` block.
The waiter, which polls `.lock`, takes it and opens the resource. A holder that has just given
the lease up waits (at most `TURN_S`) until the waiters have had their turn before it asks
again, so two busy processes alternate instead of one starving the other.

Threads of one process share its lease: a re-entrant mutex lets one operation at a time use
the resource. After fork() (django-q2 forks its workers, gunicorn may fork after loading the
app) the child forgets its parent's lease without closing or unlocking anything of the parent's.
"""
from __future__ import annotations

import atexit
import fcntl
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, TypeVar

Resource = TypeVar("Resource")

WATCH_S = 0.004  # how often a holder looks for a waiting process
TIDY_AFTER_S = 2.0  # a resource changed this long ago, and idle, gets `tidy_resource` (a flush)
WAIT_POLL_S = 0.001  # how often a waiter tries the lock
TURN_S = 1.0  # longest a process that just gave the lease up lets the waiters go first


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
        self._want_guard = threading.Lock()  # the watcher and a waiting thread both use the `.want` descriptor
        self._depth = 0
        self._resource: Resource | None = None
        self._lock_fd: int | None = None
        self._want_fd: int | None = None
        self._held = False
        self._release_requested = False
        self._gave_up_at: float | None = None
        self._changed_at: float | None = None  # since when the open resource has changes `tidy` has not seen

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
        """The open resource changed: the watcher tidies it once it has been idle for TIDY_AFTER_S."""
        if self._changed_at is None:
            self._changed_at = time.monotonic()

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
            fcntl.flock(self._want_fd, fcntl.LOCK_SH)
        try:
            self._poll_lock()
        finally:
            with self._want_guard:
                fcntl.flock(self._want_fd, fcntl.LOCK_UN)
        self._held = True
        self._release_requested = False
        self.handovers += 1
        _watcher.ensure_running()

    def _poll_lock(self) -> None:
        timeout = self._timeout()
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LeaseTimeout(f"held by another process for more than {timeout:.0f} s") from None
                time.sleep(WAIT_POLL_S)

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
            if self._held:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                self._held = False
            self._release_requested = False

    def _hand_over(self) -> None:
        self._release()
        self._gave_up_at = time.monotonic()

    def _open_files(self) -> None:
        if self._lock_fd is not None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            lock_fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            self._want_fd = os.open(self.folder / ".want", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise LeaseUnavailable(str(exc)) from exc
        self._lock_fd = lock_fd

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

    # -- called by the watcher thread, at exit and after fork ---------------------------------

    def _tidy_if_idle(self) -> None:
        if self._changed_at is None or time.monotonic() - self._changed_at < TIDY_AFTER_S:
            return
        if self._mutex.acquire(blocking=False):
            try:
                if self._depth == 0 and self._resource is not None:
                    self._changed_at = None
                    self._tidy_resource(self._resource)
            finally:
                self._mutex.release()

    def _give_up_if_asked(self) -> None:
        if not self._held or not self._someone_waiting():
            return
        self._release_requested = True  # an operation running now releases when it ends
        if self._mutex.acquire(blocking=False):
            try:
                if self._depth == 0 and self._held:
                    self._hand_over()
            finally:
                self._mutex.release()

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
        # let go. Closing is safe, LOCK_UN is not: it would drop the parent's lock.
        for fd in _descriptors_under(self.folder):
            os.close(fd)
        self._reset_process_state()

    def __del__(self) -> None:
        try:
            self._close_at_exit()
            for fd in (self._lock_fd, self._want_fd):
                if fd is not None:
                    os.close(fd)
        except Exception:  # interpreter shutdown: the kernel drops the locks anyway
            pass


class _Watcher:
    """The thread that hands this process's leases over when another process waits for one, and
    tidies (flushes) a resource left changed and idle."""

    def __init__(self) -> None:
        self._started_in: int | None = None
        self._start_guard = threading.Lock()

    def ensure_running(self) -> None:
        if self._started_in == os.getpid():
            return
        with self._start_guard:
            if self._started_in != os.getpid():
                threading.Thread(target=self._run, name="memory-lease-watcher", daemon=True).start()
                self._started_in = os.getpid()

    def _run(self) -> None:
        while True:
            time.sleep(WATCH_S)
            for lease in list(_live_leases):
                try:
                    lease._give_up_if_asked()
                    lease._tidy_if_idle()
                except Exception:  # a broken lease must not stop the others' handover
                    pass


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
_watcher = _Watcher()


def _forget_all_after_fork() -> None:
    global _watcher
    _watcher = _Watcher()
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
