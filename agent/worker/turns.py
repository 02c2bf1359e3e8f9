"""Turns on the model hosts, kept in PostgreSQL so that every worker process and machine shares them.

A host has FACTORY_OLLAMA_NUM_PARALLEL places (its OLLAMA_NUM_PARALLEL). A place is a session-level advisory
lock taken on a connection of the request's own, held while the answer is generated and given back by closing
that connection, which also happens when the worker dies. Requests that find no free place wait in
ModelTurnWait, in order: first the requests of runs that already had an answer (a retry with the tests'
feedback, the next model of the ladder), then runs' first requests, each class first come first served. A run
in progress is so never starved by the tickets queued behind it, and a ticket's time is not spread over the
whole queue. A place given back wakes the waiters at once (NOTIFY); a poll every POLL_S covers a holder that
died without a word.

Waiting is not the model's: the run's heartbeat goes on, no model timeout runs, no attempt is burned, and the
seconds are recorded apart from the model's (TicketAttempt.model_wait_seconds).
"""
import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from uuid import UUID

import psycopg
from django.conf import settings
from django.db import DatabaseError, connection

from agent.core.model import Model, OllamaModel
from agent.core.turns import Turn, TurnCancelled
from agent.models import ModelTurnWait

POLL_S = 0.5
STALE_S = 10.0  # a waiter not seen for this long has died: it no longer holds anyone back
CHANNEL = "factory_model_turns"
PLACE_CLASS = 0x46544D54  # the advisory locks' first key: "FTMT", the factory's model turns
RETRY, FIRST = 0, 1
Progress = Callable[[str], None] | None
TABLE = ModelTurnWait._meta.db_table


def places(host: str) -> int:
    """The host's places (FACTORY_OLLAMA_NUM_PARALLEL); 0: no limit kept by the factory."""
    configured = settings.FACTORY_OLLAMA_NUM_PARALLEL
    return configured.get(host.rstrip("/"), configured[""])


def place_key(host: str, index: int) -> int:
    """The advisory lock's second key for place `index` of `host` (a signed 32-bit number)."""
    return int.from_bytes(hashlib.sha256(f"{host.rstrip('/')}#{index}".encode()).digest()[:4], "big", signed=True)


class RunTurns:
    """One ticket run's turns (agent.core.turns.Turns): its first request waits behind the runs already under
    way; once one of its answers came back, its later requests go before every run's first."""

    def __init__(self, *, ticket_id: UUID | str | None = None) -> None:
        self.ticket_id = ticket_id
        self.answered = False
        self._lock = threading.Lock()

    @contextmanager
    def take(self, hosts: Sequence[str], *, cancel: threading.Event | None = None,
             on_progress: Progress = None) -> Iterator[Turn]:
        unlimited = [host for host in hosts if places(host) == 0]
        if unlimited:
            yield Turn(host=unlimited[0], waited_s=0.0)
            return
        started = time.monotonic()
        with closing(session()) as conn:
            try:
                host = Waiter(conn, hosts=list(hosts), priority=RETRY if self.answered else FIRST,
                              ticket_id=self.ticket_id).wait(cancel=cancel, on_progress=on_progress)
            except psycopg.Error as exc:  # the database went away: the run leaves its ticket as for any such loss
                raise DatabaseError(f"waiting for a model turn: {exc}") from exc
            try:
                yield Turn(host=host, waited_s=time.monotonic() - started)
            finally:
                with self._lock:
                    self.answered = True
                give_back(conn)


def session() -> psycopg.Connection:
    """A connection of its own, outside Django's pool: its advisory locks live and die with it."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    try:
        return psycopg.connect(**params, autocommit=True)
    except psycopg.Error as exc:
        raise DatabaseError(f"opening a session for model turns: {exc}") from exc


def give_back(conn: psycopg.Connection) -> None:
    # One round trip: the notification goes out when the statement commits, after the unlock.
    try:
        conn.execute("SELECT pg_advisory_unlock_all(), pg_notify(%s, '')", [CHANNEL])
    except psycopg.Error:
        pass  # the connection is gone, and its locks with it; the waiters' poll notices


class Waiter:
    """One request's place in the queue, on its own session."""

    def __init__(self, conn: psycopg.Connection, *, hosts: list[str], priority: int,
                 ticket_id: UUID | str | None) -> None:
        self.conn, self.hosts = conn, hosts
        conn.execute(f"LISTEN {CHANNEL}")
        conn.execute(f"DELETE FROM {TABLE} WHERE seen_at < now() - make_interval(secs => %s)", [STALE_S * 6])
        row = conn.execute(f"INSERT INTO {TABLE} (hosts, priority, ticket_id, requested_at, seen_at) "
                           "VALUES (%s, %s, %s, clock_timestamp(), clock_timestamp()) RETURNING id",
                           [hosts, priority, ticket_id]).fetchone()
        assert row is not None
        self.id = row[0]

    def wait(self, *, cancel: threading.Event | None, on_progress: Progress) -> str:
        """The host whose place this request now holds; TurnCancelled when `cancel` is set first."""
        shown = ""
        try:
            while True:
                ahead = self.ahead()
                host = self.try_places([host for host in self.hosts if ahead[host] == 0])
                if host is not None:
                    return host
                if cancel is not None and cancel.is_set():
                    raise TurnCancelled("no longer wanted")
                news = f"waiting for the model: {min(ahead.values())} request(s) ahead, every place busy"
                if on_progress and news != shown:
                    on_progress(news)
                    shown = news
                self.sleep()
        finally:
            self.leave()

    def ahead(self) -> dict[str, int]:
        """Per host: live waiters before this one that want it too (and this one seen alive, in the same trip)."""
        rows = self.conn.execute(
            f"WITH me AS (UPDATE {TABLE} SET seen_at = clock_timestamp() WHERE id = %s RETURNING *) "
            f"SELECT h, count(w.id) FROM me CROSS JOIN unnest(me.hosts) h "
            f"LEFT JOIN {TABLE} w ON h = ANY(w.hosts) AND w.id <> me.id "
            "  AND w.seen_at > clock_timestamp() - make_interval(secs => %s) "
            "  AND (w.priority, w.requested_at, w.id) < (me.priority, me.requested_at, me.id) "
            "GROUP BY h", [self.id, STALE_S]).fetchall()
        return {host: 0 for host in self.hosts} | {host: count for host, count in rows}

    def try_places(self, hosts: list[str]) -> str | None:
        for host in hosts:
            for index in range(places(host)):
                row = self.conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                        [PLACE_CLASS, place_key(host, index)]).fetchone()
                if row and row[0]:
                    return host
        return None

    def sleep(self) -> None:
        """Until a place may have come free (psycopg keeps what arrived meanwhile), or POLL_S."""
        for _ in self.conn.notifies(timeout=POLL_S, stop_after=1):
            pass

    def leave(self) -> None:
        """Out of the queue (with a place, cancelled or failing): the next waiter may be the head now."""
        try:
            self.conn.execute(f"WITH gone AS (DELETE FROM {TABLE} WHERE id = %s RETURNING id) "
                              "SELECT pg_notify(%s, '') FROM gone", [self.id, CHANNEL])
        except psycopg.Error:
            pass  # the session is gone: the row goes stale and is ignored, then deleted


def taking_turns(model: Model, turns: RunTurns) -> Model:
    """The run's model with its requests waiting their turn (a scripted model, tests' and benchmarks', never waits)."""
    return model.taking_turns(turns) if isinstance(model, OllamaModel) else model
