"""PostgreSQL backend that keeps every table in the `factory` schema.

The schema is created on the first connection of a process when it is
missing, so a fresh database (including the test database) migrates with no
manual step, and django_migrations itself lands in `factory` too.

A forked process (django-q2 forks its workers) starts a connection pool of its
own: the inherited one shares its sockets with the parent and lost its threads.
"""
import os
import threading
from typing import Any

from django.db import connections
from django.db.backends.postgresql import base

SCHEMA = "factory"
_schemas_ready: set[tuple[str, str]] = set()
# What a forked child inherited: kept referenced, never closed, since closing a
# connection sends the server a goodbye on the parent's socket.
_inherited: list = []


def _forget_inherited_pools() -> None:
    # Django's registry of connection pools (a class attribute since 5.1), which django-stubs do not declare
    pools: dict[str, Any] = base.DatabaseWrapper._connection_pools  # type: ignore[attr-defined]
    _inherited.extend(pools.values())
    pools.clear()
    for wrapper in connections.all(initialized_only=True):
        if wrapper.connection is not None:
            _inherited.append(wrapper.connection)
            wrapper.connection = None
            wrapper.in_atomic_block = False
            wrapper.needs_rollback = False
            wrapper.savepoint_ids = []
            wrapper.run_on_commit = []
            wrapper.closed_in_transaction = False


os.register_at_fork(after_in_child=_forget_inherited_pools)

_this_thread = threading.local()


class _GiveBackAtThreadExit:
    """Kept in the thread's local storage: when the thread ends, its pooled connection goes back to the pool.

    Django closes connections at the end of the requests and tasks it runs, not for threads it knows nothing
    about (an agent's candidates, tests' concurrent clients). Without this, such a thread keeps its connection
    out of the pool forever and, a few threads later, the process waits FACTORY_DB_POOL_TIMEOUT for one.
    """

    def __init__(self, wrapper, connection) -> None:
        self.wrapper, self.connection = wrapper, connection

    def __del__(self) -> None:
        if self.wrapper.connection is not self.connection:
            return  # closed properly, or replaced by a newer connection
        try:
            self.wrapper.close()
        except Exception:  # noqa: BLE001 - a finalizer must not raise; the pool replaces what it cannot reuse
            pass


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict:
        params = super().get_connection_params()
        # search_path as a startup option: every statement, including the
        # migration recorder's first CREATE TABLE, targets the factory schema.
        params["options"] = f"-c search_path={SCHEMA},public " + params.get("options", "")
        return params

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        if self.settings_dict["OPTIONS"].get("pool"):
            guards = _this_thread.__dict__.setdefault("guards", {})
            guards[self.alias] = _GiveBackAtThreadExit(self, connection)
        return connection

    def init_connection_state(self) -> None:
        super().init_connection_state()
        key = (str(self.settings_dict.get("HOST")), str(self.settings_dict["NAME"]))
        if key in _schemas_ready:
            return
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [SCHEMA])
            if cursor.fetchone() is None:
                cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        if not self.get_autocommit():
            self.connection.commit()
        _schemas_ready.add(key)
