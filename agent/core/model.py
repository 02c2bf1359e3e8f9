"""The Model interface the agent talks to, with the Ollama implementation (one host or several) and a scripted one
for tests."""
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import ollama

from agent.core.hosts import Host, HostPool, NoHost
from agent.core.turns import NoTurns, TurnCancelled, Turns

NS = 1_000_000_000
ProgressCallback = Callable[[str], None]


class ModelUnavailable(RuntimeError):
    """The model server cannot be reached or lacks the model: the ticket must not be burned."""


class ModelBroken(ModelUnavailable):
    """The model server answered but kept breaking (stream cut, 5xx, timeout) through every retry.

    Like ModelUnavailable it burns no attempt: the server, not the model's answer, is at fault.
    """


class StreamBroken(RuntimeError):
    """One request's answer did not arrive whole: retried (agent.core.model.OllamaModel.complete) before giving up."""


class HostDown(RuntimeError):
    """One host could not be reached: the request moves to another host (ModelUnavailable when none is left)."""


class ModelMissing(RuntimeError):
    """One host lacks the model: the request moves to another host."""


class StreamCut(RuntimeError):
    """The connection to one host died mid-answer: retried like StreamBroken, preferably elsewhere."""


class ModelFailed(RuntimeError):
    """The model server answered with an error for this request: the attempt counts as failed."""


class ModelCancelled(RuntimeError):
    """The answer was no longer wanted (another candidate already won) and its request was closed.

    `reply`: what had come by then, with the host and the seconds it took (the busy fraction counts them).
    """

    def __init__(self, message: str, *, reply: "ModelReply | None" = None) -> None:
        super().__init__(message)
        self.reply = reply


@dataclass(frozen=True)
class Sampling:
    """One sample's randomness: several candidates of one attempt differ by seed and temperature."""

    seed: int
    temperature: float


@dataclass(frozen=True)
class ModelFacts:
    """What Ollama says about a model (/api/tags and /api/show)."""

    name: str
    digest: str
    family: str = ""
    parameter_size: str = ""
    quantization: str = ""
    context_length: int | None = None


@dataclass
class ModelReply:
    text: str
    prompt_tokens: int | None = None
    eval_tokens: int | None = None
    total_seconds: float = 0.0
    prompt_eval_seconds: float | None = None
    eval_seconds: float | None = None
    host: str = ""  # the Ollama server that answered
    started: float | None = None  # when the request was sent (epoch seconds): the busy fraction's intervals
    waited_seconds: float = 0.0  # waiting for a turn on the hosts before it was sent (agent.core.turns)


class Model(Protocol):
    name: str

    def complete(self, *, system: str, user: str, on_progress: ProgressCallback | None = None,
                 sampling: Sampling | None = None, cancel: threading.Event | None = None) -> ModelReply: ...


def _seconds(value: int | None) -> float | None:
    return None if value is None else value / NS


class OllamaModel:
    """Ollama's chat API, streamed, with num_ctx always sent (Ollama's 2k default silently truncates).

    Requests go to a host of the pool that has the model (agent.core.hosts); an unreachable host is skipped
    and the request goes to the next, without a pause. A request whose answer breaks (cut stream, 5xx,
    timeout) is sent again up to `retries` times with doubling pauses from `backoff_s`, then ModelBroken:
    an infrastructure wait, never the model's attempt. Each request first waits for its turn on the hosts
    (`turns`, agent.core.turns): none by default.
    """

    def __init__(self, *, name: str, num_ctx: int, temperature: float, timeout: float, host: str = "",
                 pool: HostPool | None = None, retries: int = 2, backoff_s: float = 2.0,
                 turns: Turns | None = None) -> None:
        self.pool = pool or HostPool([host], timeout=timeout)
        self.name = name
        self.turns: Turns = turns or NoTurns()
        self.retries, self.backoff_s = retries, backoff_s
        self.options: dict[str, Any] = {"num_ctx": num_ctx, "temperature": temperature}

    @property
    def host(self) -> str:
        return self.pool.label

    def complete(self, *, system: str, user: str, on_progress: ProgressCallback | None = None,
                 sampling: Sampling | None = None, cancel: threading.Event | None = None) -> ModelReply:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        options = self.options if sampling is None else {**self.options, "seed": sampling.seed,
                                                         "temperature": sampling.temperature}
        problems: list[str] = []
        for number in range(self.retries + 1):
            if number:
                self._pause(number, problem=problems[-1], on_progress=on_progress, cancel=cancel)
            try:
                return self._on_some_host(messages=messages, options=options, on_progress=on_progress,
                                          cancel=cancel)
            except StreamBroken as exc:
                problems.append(str(exc))
        raise ModelBroken(f"Ollama at {self.host} kept failing to answer with {self.name} ({len(problems)} "
                          f"tries): {problems[-1]}")

    def _on_some_host(self, *, messages: list[dict[str, Any]], options: dict[str, Any], on_progress: ProgressCallback | None,
                      cancel: threading.Event | None) -> ModelReply:
        """The request on the least busy host with the model, moving on while hosts are unreachable."""
        failed: dict[str, str] = {}
        waited = 0.0
        while True:
            try:
                hosts = [host.url for host in self.pool.usable(self.name, exclude=failed)]
            except NoHost as exc:
                raise ModelUnavailable(str(exc)) from None
            try:
                with self.turns.take(hosts, cancel=cancel, on_progress=on_progress) as turn:
                    waited += turn.waited_s
                    host = self.pool.host(turn.host)
                    with self.pool.outstanding(host):
                        reply = self._complete_once(host, messages=messages, options=options,
                                                    on_progress=on_progress, cancel=cancel)
                reply.waited_seconds = waited
                return reply
            except ModelCancelled as exc:  # cut mid-answer: its wait for the turn still counts apart
                if exc.reply is not None:
                    exc.reply.waited_seconds = waited
                raise
            except TurnCancelled:
                raise ModelCancelled("another candidate already won") from None
            except HostDown as exc:
                self.pool.mark_down(host, str(exc))
                failed[host.url] = str(exc)
            except ModelMissing:
                self.pool.forget(host, self.name)
                failed[host.url] = (f"Model '{self.name}' is not available on {host.url}: "
                                    f"run `ollama pull {self.name}` there")
            except StreamCut as exc:
                # The connection died mid-answer (the host stopped?): the retry prefers the other hosts.
                if len(self.pool.hosts) > 1:
                    self.pool.mark_down(host, str(exc))
                raise StreamBroken(str(exc)) from None

    def _pause(self, number: int, *, problem: str, on_progress: ProgressCallback | None,
               cancel: threading.Event | None) -> None:
        seconds = self.backoff_s * 2 ** (number - 1)
        if on_progress:
            on_progress(f"model answer broke ({problem[:120]}); asking again in {seconds:.0f} s")
        if cancel is not None and cancel.wait(seconds):
            raise ModelCancelled("another candidate already won")
        if cancel is None:
            time.sleep(seconds)

    def _complete_once(self, host: Host, *, messages: list[dict[str, Any]], options: dict[str, Any],
                       on_progress: ProgressCallback | None, cancel: threading.Event | None) -> ModelReply:
        started, sent = time.monotonic(), time.time()
        try:
            stream = host.client.chat(model=self.name, messages=messages, stream=True, options=options)
            reply = self._collect(stream, started=started, on_progress=on_progress, cancel=cancel)
        except ModelCancelled as exc:
            if exc.reply is not None:
                exc.reply.host, exc.reply.started = host.url, sent
            raise
        except (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise HostDown(f"Ollama is unreachable at {host.url}: {exc}") from None
        except ollama.ResponseError as exc:
            if exc.status_code == 404 or "not found" in str(exc.error).lower():
                raise ModelMissing(host.url) from None
            if exc.status_code >= 500 or exc.status_code < 0:  # -1: an error line inside the stream
                raise StreamBroken(f"Ollama error ({exc.status_code}) at {host.url}: {exc.error}") from None
            raise ModelFailed(f"Ollama error ({exc.status_code}) at {host.url}: {exc.error}") from None
        except httpx.TimeoutException:
            raise StreamBroken(f"no answer within the timeout ({host.url}, {self.name})") from None
        except (httpx.TransportError, json.JSONDecodeError) as exc:
            raise StreamCut(f"the connection to {host.url} broke during the answer: {exc}") from None
        reply.host, reply.started = host.url, sent
        return reply

    @staticmethod
    def _collect(stream: Iterable[Any], *, started: float, on_progress: ProgressCallback | None,
                 cancel: threading.Event | None = None) -> ModelReply:
        parts: list[str] = []
        final = None
        last_report = 0.0
        for chunk in stream:
            if cancel is not None and cancel.is_set():
                getattr(stream, "close", lambda: None)()  # closes the HTTP response: Ollama stops generating
                raise ModelCancelled("another candidate already won", reply=ModelReply(
                    text="".join(parts), total_seconds=time.monotonic() - started))
            parts.append(chunk.message.content or "")
            if chunk.done:
                final = chunk
            if on_progress and time.monotonic() - last_report > 1.0:
                last_report = time.monotonic()
                on_progress(f"model writing: {sum(map(len, parts))} characters so far")
        if final is None:
            # Ollama always ends with a done chunk: a stream ending without one was cut, and half an answer
            # must not be judged as the model's.
            raise StreamBroken(f"the answer stopped after {sum(map(len, parts))} characters without its end")
        return ModelReply(text="".join(parts), total_seconds=time.monotonic() - started,
                          prompt_tokens=final.prompt_eval_count, eval_tokens=final.eval_count,
                          prompt_eval_seconds=_seconds(final.prompt_eval_duration),
                          eval_seconds=_seconds(final.eval_duration))

    def check(self) -> str:
        """The model's digest; raises ModelUnavailable unless some host answers and has the model."""
        try:
            return self.pool.digest(self.name)[1]
        except NoHost as exc:
            raise ModelUnavailable(str(exc)) from None

    def describe(self, *, digest: str) -> ModelFacts:
        """Family, size and the real context length, from /api/show (once per digest: agent.strategies.probing)."""
        try:
            host = self.pool.choose(self.name)
            shown = host.client.show(self.name)
        except NoHost as exc:
            raise ModelUnavailable(str(exc)) from None
        except (ConnectionError, httpx.TransportError) as exc:
            raise ModelUnavailable(f"Ollama is unreachable at {host.url}: {exc}") from None
        except ollama.ResponseError as exc:
            raise ModelUnavailable(f"Ollama cannot describe '{self.name}' ({exc.status_code}): {exc.error}") from None
        info = dict(shown.modelinfo or {})
        lengths = [value for key, value in info.items() if key.endswith(".context_length") and isinstance(value, int)]
        details = shown.details
        return ModelFacts(name=self.name, digest=digest, family=(details.family if details else "") or "",
                          parameter_size=(details.parameter_size if details else "") or "",
                          quantization=(details.quantization_level if details else "") or "",
                          context_length=lengths[0] if lengths else None)

    def with_context(self, num_ctx: int) -> "OllamaModel":
        """The same model on the same hosts with another num_ctx (capped at what the model really has)."""
        return OllamaModel(name=self.name, pool=self.pool, num_ctx=num_ctx, temperature=self.options["temperature"],
                           timeout=0, retries=self.retries, backoff_s=self.backoff_s, turns=self.turns)

    def taking_turns(self, turns: Turns) -> "OllamaModel":
        """The same model whose requests wait for their turn in `turns` (one ticket run's: agent.worker.turns)."""
        return OllamaModel(name=self.name, pool=self.pool, num_ctx=self.num_ctx,
                           temperature=self.options["temperature"], timeout=0, retries=self.retries,
                           backoff_s=self.backoff_s, turns=turns)

    @property
    def num_ctx(self) -> int:
        return int(self.options["num_ctx"])


class ScriptedModel:
    """Answers from a list (or a function of the prompt), for tests and the benchmark harness."""

    def __init__(self, answers: Iterable[str] | Callable[[str, str], str], *, name: str = "scripted") -> None:
        self.name = name
        self.prompts: list[tuple[str, str]] = []
        self._respond = answers if callable(answers) else None
        self._queue = deque([] if callable(answers) else answers)

    def complete(self, *, system: str, user: str, on_progress: ProgressCallback | None = None,
                 sampling: Sampling | None = None, cancel: threading.Event | None = None) -> ModelReply:
        self.prompts.append((system, user))
        if self._respond is not None:
            text = self._respond(system, user)
        elif self._queue:
            text = self._queue.popleft()
        else:
            raise ModelFailed("the scripted model has no answer left")
        return ModelReply(text=text, prompt_tokens=len(system + user) // 4, eval_tokens=len(text) // 4)
