"""Whose turn it is to generate on a model host: the interface the model client asks before each request.

A host generates `OLLAMA_NUM_PARALLEL` answers at once; more requests sent to it only queue inside Ollama,
where nobody can order them and their wait looks like generation time. With turns, a request first waits at
the factory for a free place on one of the hosts that have its model, then goes to that host. The waiting is
not the model's: it burns no attempt, no timeout runs meanwhile, and it is reported apart (`Turn.waited_s`).
agent.worker.turns keeps the places in PostgreSQL, so every worker process and machine shares them.
"""
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from threading import Event
from typing import Protocol


@dataclass(frozen=True)
class Turn:
    host: str  # the host whose place was taken: the request goes there
    waited_s: float  # seconds spent waiting for it


class Turns(Protocol):
    def take(self, hosts: Sequence[str], *, cancel: Event | None,
             on_progress: Callable[[str], None] | None) -> AbstractContextManager[Turn]:
        """A place on one of `hosts` (listed in order of preference), held while the block runs.

        Raises TurnCancelled when `cancel` is set while waiting.
        """
        ...


class TurnCancelled(RuntimeError):
    """The request stopped waiting for its turn: its answer is no longer wanted."""


class NoTurns:
    """No waiting at the factory: the first host listed, at once (Ollama queues what exceeds its parallelism)."""

    @contextmanager
    def take(self, hosts: Sequence[str], *, cancel: Event | None = None,
             on_progress: Callable[[str], None] | None = None) -> Iterator[Turn]:
        yield Turn(host=hosts[0], waited_s=0.0)
