"""gunicorn settings of `make run` and the Docker image:

    gunicorn --config python:factory_site.gunicorn_conf factory_site.wsgi

Extra options go in GUNICORN_CMD_ARGS (for instance `--access-logfile -` for one line per request).
"""
import os
import sys

from factory_site.env import env_int, env_str

bind = [env_str("FACTORY_BIND", "127.0.0.1:8000")]
workers = env_int("FACTORY_WEB_WORKERS", 2, minimum=1, maximum=64)
# Threads, so that a request waiting on git (an approval merges and pushes) does not hold a whole worker.
worker_class = "gthread"
threads = 4
timeout = 120
# Requests still running get this long after a stop; `make run` stops everything within 10 s.
graceful_timeout = 5
# gunicorn's control socket is one path per user ($HOME/.gunicorn/gunicorn.ctl): a second factory on
# the same machine (tests, a benchmark) would take it over. Nothing here uses it.
control_socket_disable = True
proc_name = "factory-web"
loglevel = env_str("FACTORY_LOG_LEVEL", "INFO").lower()
errorlog = "-"


def worker_exit(server, worker) -> None:
    """A worker stopped after its last request has nothing left to tidy (the database closes its side):
    skip the interpreter's teardown of some 1,400 modules, which takes seconds on a busy machine. The exit
    status stays the one the worker was leaving with (gunicorn calls this while its SystemExit is in flight)."""
    if worker.booted and not worker.alive:
        leaving = sys.exc_info()[1]
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exit_status(leaving))


def exit_status(leaving: BaseException | None) -> int:
    if isinstance(leaving, SystemExit):
        return leaving.code if isinstance(leaving.code, int) else (0 if leaving.code is None else 1)
    return 0 if leaving is None else 1
