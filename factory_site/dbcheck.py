"""One clear line, never a traceback, when a management command cannot reach PostgreSQL.

Commands run from a second shell find `make run`'s private cluster by themselves (settings read its
port and the password kept in FACTORY_DATA_DIR); when it is not running they say so and what to do.
"""
import os

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections

# Commands that never touch the database; every other one is checked before it starts. Checking
# first matters: through the connection pool a missing server costs FACTORY_DB_POOL_TIMEOUT of
# retries, each logged, and the queue worker's children would print a traceback per poll.
NO_DATABASE = frozenset({"", "help", "--help", "-h", "version", "--version", "check", "makemigrations",
                         "collectstatic", "spectacular", "diffsettings", "findstatic", "startapp",
                         "factory_apply"})
CONNECT_TIMEOUT_S = 5


def needs_database(command: str) -> bool:
    return command not in NO_DATABASE


def unreachable_message() -> str | None:
    """None when the database answers; otherwise what is wrong and what to do, on one line."""
    connection = connections[DEFAULT_DB_ALIAS]
    # A connection of its own, not one from the pool: the pool would retry for its whole timeout.
    params = connection.get_connection_params() | {"connect_timeout": CONNECT_TIMEOUT_S}
    try:
        psycopg.connect(**params).close()
    except psycopg.OperationalError as exc:
        return describe(settings_dict=connection.settings_dict, reason=short_reason(exc))
    return None


def short_reason(error: Exception) -> str:
    # psycopg: 'connection failed: connection to server at "127.0.0.1", port 55432 failed: Connection refused'
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return first_line.split(": ")[-1].strip() or first_line


def describe(*, settings_dict: dict, reason: str) -> str:
    where = f"{settings_dict['HOST'] or 'localhost'}:{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
    if os.environ.get("DATABASE_URL"):
        return (f"Cannot reach the database of DATABASE_URL ({where}): {reason}. "
                "Check that this PostgreSQL is running and that DATABASE_URL is right.")
    return (f"Cannot reach the factory's database at {where} ({reason}). Start it with `make run` in this "
            "checkout (same FACTORY_DATA_DIR and FACTORY_PG_PORT), or set DATABASE_URL to a running PostgreSQL.")
