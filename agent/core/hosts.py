"""Several Ollama servers as one: which host answers a request for a model.

Each host's models come from its own /api/tags (kept TAGS_TTL_S seconds). A
request goes to a reachable host that has the model and the fewest requests
outstanding; ties go to the host listed first. A host that cannot be reached is
skipped for `retry_after_s` and then tried again. The outstanding counts are
this process's own; what every process and machine shares is the hosts' places
(agent.core.turns): a request waits for a free place on one of the usable hosts,
in this order of preference, before it is sent.
"""
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import ollama

TAGS_TTL_S = 30.0
CONNECT_TIMEOUT_S = 5.0


class NoHost(RuntimeError):
    """No host can serve the model now; the message names each host and why."""


@dataclass
class Host:
    url: str
    client: ollama.Client
    outstanding: int = 0
    down_until: float = 0.0
    problem: str = ""  # why the host was last skipped; empty while it works
    models: dict[str, str] = field(default_factory=dict)  # name -> digest, from /api/tags
    tags_at: float = float("-inf")


class HostPool:
    """The hosts of FACTORY_OLLAMA_HOSTS (or the one OLLAMA_HOST), shared by every model of a process."""

    def __init__(self, urls: list[str] | tuple[str, ...], *, timeout: float, retry_after_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not urls:
            raise ValueError("a host pool needs at least one Ollama URL")
        self.hosts = [Host(url=url, client=ollama.Client(host=url, timeout=httpx.Timeout(timeout,
                                                                                          connect=CONNECT_TIMEOUT_S)))
                      for url in dict.fromkeys(urls)]
        self.retry_after_s, self.clock = retry_after_s, clock
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return ", ".join(host.url for host in self.hosts)

    def choose(self, name: str, *, exclude: dict[str, str] | None = None) -> Host:
        """The usable host with `name` and the fewest outstanding requests; NoHost naming each host's problem.

        `exclude`: hosts that failed this request, with why.
        """
        return self.usable(name, exclude=exclude)[0]

    def usable(self, name: str, *, exclude: dict[str, str] | None = None) -> list[Host]:
        """Every usable host with `name`, the fewest outstanding requests first (ties: as listed); NoHost if none."""
        exclude = exclude or {}
        usable = [host for host in self.hosts if host.url not in exclude and self.has_model(host, name)]
        if not usable:
            raise NoHost(self.why_not(name, exclude=exclude))
        with self._lock:
            return sorted(usable, key=lambda host: host.outstanding)

    def host(self, url: str) -> Host:
        return next(host for host in self.hosts if host.url == url)

    def has_model(self, host: Host, name: str) -> bool:
        if host.down_until > self.clock():
            return False
        if self.clock() - host.tags_at > TAGS_TTL_S:
            self.refresh(host)
        return digest_in(host.models, name) is not None

    def refresh(self, host: Host) -> None:
        try:
            host.models = {model.model: model.digest or "" for model in host.client.list().models if model.model}
        except (ConnectionError, httpx.TransportError, ollama.ResponseError) as exc:
            self.mark_down(host, f"Ollama is unreachable at {host.url}: {exc}")
            return
        host.tags_at, host.problem = self.clock(), ""

    def mark_down(self, host: Host, problem: str) -> None:
        """Skip the host for retry_after_s; its tags are read again when it is next considered.

        A lone host is never skipped: there is nowhere else to go, and a ticket should start as soon as it is back.
        """
        pause = self.retry_after_s if len(self.hosts) > 1 else 0.0
        host.down_until, host.problem, host.tags_at = self.clock() + pause, problem, float("-inf")

    def forget(self, host: Host, name: str) -> None:
        """The host said it lacks `name` (deleted since its tags were read): read them again next time."""
        host.models.pop(name, None)
        host.models.pop(f"{name}:latest", None)
        host.tags_at = float("-inf")

    @contextmanager
    def outstanding(self, host: Host) -> Iterator[None]:
        with self._lock:
            host.outstanding += 1
        try:
            yield
        finally:
            with self._lock:
                host.outstanding -= 1

    def digest(self, name: str) -> tuple[Host, str]:
        """The model's digest, its tags read afresh on every usable host (a re-pulled model changes it: probing)."""
        for host in self.hosts:
            if host.down_until <= self.clock():
                self.refresh(host)
        host = self.choose(name)
        return host, digest_in(host.models, name) or ""

    def why_not(self, name: str, *, exclude: dict[str, str] | None = None) -> str:
        return "; ".join((exclude or {}).get(host.url) or self.reason(host, name) for host in self.hosts)

    def reason(self, host: Host, name: str) -> str:
        if host.problem:
            return host.problem
        return f"Model '{name}' is not available on {host.url}: run `ollama pull {name}` there"

    def status(self, name: str) -> list[tuple[str, bool, str]]:
        """Per host: (url, usable for `name`, why not), reading tags where they are stale."""
        return [(host.url, True, "") if self.has_model(host, name) else (host.url, False, self.reason(host, name))
                for host in self.hosts]

def digest_in(models: dict[str, str], name: str) -> str | None:
    for candidate in (name, f"{name}:latest"):
        if candidate in models:
            return models[candidate]
    return None
