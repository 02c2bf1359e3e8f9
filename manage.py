#!/usr/bin/env python
import multiprocessing
import os
import sys

import django
from django.core.management import execute_from_command_line
from django.db import connections
from django.db.utils import OperationalError

from factory_site import dbcheck
from factory_site.env import ImproperlyConfiguredEnv


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "factory_site.settings")
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    try:
        if dbcheck.needs_database(command):
            django.setup()
            exit_if_unreachable(dbcheck.unreachable_message())
        execute_from_command_line(sys.argv)
        if command == "qcluster":
            exit_when_cluster_stopped()
    except ImproperlyConfiguredEnv as exc:
        sys.exit(str(exc))  # a setting that cannot be used: its name and why, not a traceback
    except OperationalError:
        message = dbcheck.unreachable_message()
        if message is None:
            raise  # the database answers: a real error, shown in full
        sys.exit(message)


def exit_if_unreachable(message: str | None) -> None:
    if message is not None:
        sys.exit(message)


def exit_when_cluster_stopped() -> None:
    """django-q2's qcluster command returns as soon as its cluster runs, and Python then waits for the
    cluster's processes before exiting. Wait for them here instead, and once they have stopped skip the
    interpreter's teardown of some 1,400 modules: it takes seconds on a busy machine, and a stop must
    stay within the 10 s a service manager gives."""
    for process in multiprocessing.active_children():
        process.join()
    connections.close_all()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
