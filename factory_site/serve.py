"""The production web server of `make run` and the Docker image: waitress, in one process.

    python -m factory_site.serve

Waitress reads and buffers each whole request (headers and body) in its asynchronous main loop before one
of its FACTORY_WEB_THREADS threads runs Django on it, so clients that send slowly (slowloris: a header byte
every few seconds), or never finish, hold only a socket, never a thread: up to FACTORY_WEB_CONNECTIONS of
them, each closed after FACTORY_WEB_IDLE_TIMEOUT seconds without a byte. SIGTERM and SIGINT stop it; requests
still running get 5 s.
"""
import resource
import signal
import sys
from types import FrameType

from waitress import serve

from factory_site.env import env_int, env_str
from factory_site.wsgi import application

# Headroom over the connections for the database pool, git, log and static files.
SPARE_FILES = 256


def settings() -> dict:
    """waitress.serve's options from the environment; a bad value stops the start naming the variable."""
    body_limit = env_int("FACTORY_MAX_REQUEST_BYTES", 2_621_440, minimum=1024)
    return {
        "listen": env_str("FACTORY_BIND", "127.0.0.1:8000"),
        "threads": env_int("FACTORY_WEB_THREADS", 4, minimum=1, maximum=256),
        "connection_limit": env_int("FACTORY_WEB_CONNECTIONS", 1000, minimum=10, maximum=100_000),
        "channel_timeout": env_int("FACTORY_WEB_IDLE_TIMEOUT", 60, minimum=1),
        # Bigger bodies get waitress's own 413 before any is buffered to disk; up to it, the API's JSON 413.
        "max_request_body_size": 4 * body_limit,
        "asyncore_use_poll": True,  # select() cannot watch descriptors past 1023
        "ident": "factory",
    }


def allow_open_files(connections: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + SPARE_FILES
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard),
                                                    hard))


def stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)  # waitress's loop ends on it and gives running requests 5 s


def main() -> int:
    options = settings()
    allow_open_files(options["connection_limit"])
    signal.signal(signal.SIGTERM, stop)
    serve(application, **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
