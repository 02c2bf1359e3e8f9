"""The API token -> user and roles lookup, remembered per process so that a request skips its round trip.

Every API request authenticates, and the lookup was a third of what a ticket list page costs beyond its bare
floor. Entries are bounded (FACTORY_TOKEN_CACHE_SIZE, least recently used out) and live at most
FACTORY_TOKEN_CACHE_SECONDS. Any change to a token, a user, a group or a membership made through Django
empties this process's cache at once (the signals below) and bumps a stamp file in FACTORY_DATA_DIR that
every process on the machine reads (one stat) before trusting an entry, so a role revoked by a management
command or another web process is seen on the next request. A change made around Django (raw SQL) is seen
within FACTORY_TOKEN_CACHE_SECONDS.
"""
import logging
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save
from rest_framework.authtoken.models import Token

logger = logging.getLogger("factory.tickets")
STAMP_NAME = "auth-stamp"

# key -> (stored at (monotonic seconds), the stamp seen then, the user's column values, role names)
Entry = tuple[float, tuple[int, int, int] | None, dict[str, Any], frozenset[str]]
_entries: "OrderedDict[str, Entry]" = OrderedDict()
_lock = threading.Lock()
# Counts the changes seen in this process: a lookup that read the database before a change is not remembered.
_generation = [0]


class Snapshot:
    """Taken before the database is read: what remember() checks so that a change made meanwhile wins."""

    def __init__(self) -> None:
        self.generation, self.stamp = _generation[0], current_stamp()


def stamp_path() -> str:
    return os.path.join(settings.FACTORY_DATA_DIR, STAMP_NAME)  # no Path built per request


def current_stamp() -> tuple[int, int, int] | None:
    """What the stamp file looks like now (None: never written); a new file replaces it on each change."""
    try:
        found = os.stat(stamp_path())
    except OSError:
        return None
    return found.st_ino, found.st_mtime_ns, found.st_size


def cached(key: str) -> tuple[User, frozenset[str]] | None:
    """The token's user (a fresh instance) and roles, if remembered, not expired and nothing changed since."""
    if settings.FACTORY_TOKEN_CACHE_SIZE == 0:
        return None
    with _lock:
        entry = _entries.get(key)
        if entry is None:
            return None
        stored_at, stamp, values, roles = entry
        if time.monotonic() - stored_at > settings.FACTORY_TOKEN_CACHE_SECONDS or stamp != current_stamp():
            del _entries[key]
            return None
        _entries.move_to_end(key)
    user_model = get_user_model()
    return user_model.from_db("default", list(values), list(values.values())), roles


def remember(key: str, user: Model, roles: frozenset[str], *, before: Snapshot) -> None:
    """Keep what the database said about `key`, unless a change was seen since `before` was taken."""
    limit = settings.FACTORY_TOKEN_CACHE_SIZE
    if limit == 0:
        return
    values = {field.attname: getattr(user, field.attname) for field in user._meta.concrete_fields}
    with _lock:
        if before.generation != _generation[0] or before.stamp != current_stamp():
            return
        _entries[key] = (time.monotonic(), before.stamp, values, roles)
        _entries.move_to_end(key)
        while len(_entries) > limit:
            _entries.popitem(last=False)


def forget_all(**_signal_kwargs: Any) -> None:
    """A token, user, group or membership changed: drop this process's entries and tell the others, now and
    again once the change commits: a lookup made in between reads the old committed row and could keep it."""
    forget_now()
    transaction.on_commit(forget_now)


def forget_now() -> None:
    with _lock:
        _entries.clear()
        _generation[0] += 1
    bump_stamp()


def forget_if_auth_model(sender: type[Model], **signal_kwargs: Any) -> None:
    """Any model whose rows are tokens, users or groups, proxies included (DRF's admin shows TokenProxy)."""
    if issubclass(sender._meta.concrete_model or sender, (Token, get_user_model(), Group)):
        forget_all(**signal_kwargs)


def bump_stamp() -> None:
    path = Path(stamp_path())
    fresh = path.with_name(f"{STAMP_NAME}.{os.getpid()}.{threading.get_ident()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh.write_text(f"{time.time_ns()}\n")
        os.replace(fresh, path)  # a new inode each time: two changes in one clock tick still differ
    except OSError as exc:
        logger.warning("Could not write %s (%s): other processes see the change to tokens or roles within "
                       "FACTORY_TOKEN_CACHE_SECONDS=%s", path, exc, settings.FACTORY_TOKEN_CACHE_SECONDS)


def size() -> int:
    return len(_entries)


def connect() -> None:
    """Called from TicketsConfig.ready: every change that can alter who a token is or what it may do."""
    user_model = get_user_model()
    for signal in (post_save, post_delete):
        signal.connect(forget_if_auth_model, dispatch_uid=f"tokencache.{signal}")
    m2m_changed.connect(forget_all, sender=user_model.groups.through, dispatch_uid="tokencache.groups")
