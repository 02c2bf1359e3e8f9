"""PostgreSQL backend that keeps every table in the `factory` schema.

The schema is created on the first connection of a process when it is
missing, so a fresh database (including the test database) migrates with no
manual step, and django_migrations itself lands in `factory` too.

A forked process (django-q2 forks its workers) starts a connection pool of its
own: the inherited one shares its sockets with the parent and lost its threads.
"""
import os

from django.db import connections
from django.db.backends.postgresql import base

SCHEMA = "factory"
_schemas_ready: set[tuple[str, str]] = set()
# What a forked child inherited: kept referenced, never closed, since closing a
# connection sends the server a goodbye on the parent's socket.
_inherited: list = []


def _forget_inherited_pools() -> None:
    _inherited.extend(base.DatabaseWrapper._connection_pools.values())
    base.DatabaseWrapper._connection_pools.clear()
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


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict:
        params = super().get_connection_params()
        # search_path as a startup option: every statement, including the
        # migration recorder's first CREATE TABLE, targets the factory schema.
        params["options"] = f"-c search_path={SCHEMA},public " + params.get("options", "")
        return params

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
