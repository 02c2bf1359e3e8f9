"""The Model interface the agent talks to, with the Ollama implementation and a scripted one for tests."""
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import httpx
import ollama

NS = 1_000_000_000
ProgressCallback = Callable[[str], None]


class ModelUnavailable(RuntimeError):
    """The model server cannot be reached or lacks the model: the ticket must not be burned."""


class ModelFailed(RuntimeError):
    """The model server answered with an error for this request: the attempt counts as failed."""


@dataclass
class ModelReply:
    text: str
    prompt_tokens: int | None = None
    eval_tokens: int | None = None
    total_seconds: float = 0.0
    prompt_eval_seconds: float | None = None
    eval_seconds: float | None = None


class Model(Protocol):
    name: str

    def complete(self, *, system: str, user: str, on_progress: ProgressCallback | None = None) -> ModelReply: ...


def _seconds(value: int | None) -> float | None:
    return None if value is None else value / NS


class OllamaModel:
    """Ollama's chat API, streamed, with num_ctx always sent (Ollama's 2k default silently truncates)."""

    def __init__(self, *, host: str, name: str, num_ctx: int, temperature: float, timeout: float) -> None:
        self.host, self.name = host, name
        self.options = {"num_ctx": num_ctx, "temperature": temperature}
        self.client = ollama.Client(host=host, timeout=httpx.Timeout(timeout, connect=5.0))

    def complete(self, *, system: str, user: str, on_progress: ProgressCallback | None = None) -> ModelReply:
        started = time.monotonic()
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        try:
            stream = self.client.chat(model=self.name, messages=messages, stream=True, options=self.options)
            return self._collect(stream, started=started, on_progress=on_progress)
        except (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ModelUnavailable(f"Ollama is unreachable at {self.host}: {exc}") from None
        except ollama.ResponseError as exc:
            if exc.status_code == 404 or "not found" in str(exc.error).lower():
                raise ModelUnavailable(
                    f"Model '{self.name}' is not available on {self.host}: run `ollama pull {self.name}`"
                ) from None
            raise ModelFailed(f"Ollama error ({exc.status_code}): {exc.error}") from None
        except httpx.TimeoutException:
            raise ModelFailed(f"Ollama did not answer within the timeout ({self.host}, {self.name})") from None
        except httpx.TransportError as exc:
            raise ModelUnavailable(f"Lost the connection to Ollama at {self.host}: {exc}") from None

    @staticmethod
    def _collect(stream: Iterable, *, started: float, on_progress: ProgressCallback | None) -> ModelReply:
        parts: list[str] = []
        final = None
        last_report = 0.0
        for chunk in stream:
            parts.append(chunk.message.content or "")
            if chunk.done:
                final = chunk
            if on_progress and time.monotonic() - last_report > 1.0:
                last_report = time.monotonic()
                on_progress(f"model writing: {sum(map(len, parts))} characters so far")
        reply = ModelReply(text="".join(parts), total_seconds=time.monotonic() - started)
        if final is not None:
            reply.prompt_tokens = final.prompt_eval_count
            reply.eval_tokens = final.eval_count
            reply.prompt_eval_seconds = _seconds(final.prompt_eval_duration)
            reply.eval_seconds = _seconds(final.eval_duration)
        return reply

    def check(self) -> None:
        """Raise ModelUnavailable unless the server answers and has the model."""
        try:
            names = {model.model for model in self.client.list().models}
        except (ConnectionError, httpx.TransportError) as exc:
            raise ModelUnavailable(f"Ollama is unreachable at {self.host}: {exc}") from None
        if self.name not in names and f"{self.name}:latest" not in names:
            raise ModelUnavailable(f"Model '{self.name}' is not available on {self.host}: run `ollama pull {self.name}`")


class ScriptedModel:
    """Answers from a list (or a function of the prompt), for tests and the benchmark harness."""

    def __init__(self, answers: Iterable[str] | Callable[[str, str], str], *, name: str = "scripted") -> None:
        self.name = name
        self.prompts: list[tuple[str, str]] = []
        self._respond = answers if callable(answers) else None
        self._queue = deque([] if callable(answers) else answers)

    def complete(self, *, system: str, user: str, on_progress: ProgressCallback | None = None) -> ModelReply:
        self.prompts.append((system, user))
        if self._respond is not None:
            text = self._respond(system, user)
        elif self._queue:
            text = self._queue.popleft()
        else:
            raise ModelFailed("the scripted model has no answer left")
        return ModelReply(text=text, prompt_tokens=len(system + user) // 4, eval_tokens=len(text) // 4)
