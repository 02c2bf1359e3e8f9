"""A real HTTP server that speaks enough of Ollama's API for the official `ollama` client, answering from a script.

In tests:
    with FakeOllama(answers=["first reply", "second reply"]) as fake:
        ollama.Client(host=fake.url).chat(model="qwen2.5-coder:14b", messages=[...])

As a process for manual demos (answers are the files of DIR, sorted by name):
    python tests/fake_ollama.py --port 11434 --answers-dir DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DEFAULT_MODELS = ("qwen2.5-coder:14b", "nomic-embed-text")
FAKE_SERVER_VERSION = "0.9.0"
MAX_STREAM_CHUNKS = 32
LOAD_DURATION_NS = 1_000_000
PROMPT_EVAL_NS_PER_TOKEN = 100_000
EVAL_NS_PER_TOKEN = 1_000_000
NO_ANSWER_LEFT = "no scripted answer left"
SHUTDOWN_POLL_S = 0.05  # stop() waits up to this long; the stdlib default of 0.5 s slows every test

Answers = Iterable[str] | Callable[[dict], str]

# Bound but never listening: connecting is refused, and nobody else can take the port while this process lives.
_RESERVED_SOCKETS: list[socket.socket] = []


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Reply:
    status: int = 200
    body: dict | str = ""
    stream: Iterator[dict] | None = None
    cut: bool = False  # the connection is dropped after the stream's chunks, without the chunked body's end


@dataclass(frozen=True)
class Fault:
    """How the next chat request breaks instead of answering (its scripted answer is left for the retry).

    status: answer that HTTP error; cut_after: stream that many chunks of the answer, then drop the
    connection; end_after: stream that many chunks and end the body cleanly, but without Ollama's done chunk.
    """

    status: int | None = None
    cut_after: int | None = None
    end_after: int | None = None


def unreachable_url() -> str:
    """A http://127.0.0.1:PORT URL where nothing listens (connections are refused)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    _RESERVED_SOCKETS.append(sock)
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


class FakeOllama:
    def __init__(
        self,
        *,
        answers: Answers = (),
        models: Iterable[str] = DEFAULT_MODELS,
        embed_dim: int = 768,
        delay_s: float = 0.0,
        port: int = 0,
        context_lengths: dict[str, int] | None = None,
        digest_salt: str = "",
        parallel: int | None = None,
        tokens_per_s: float | None = None,
    ) -> None:
        if isinstance(answers, str):
            raise TypeError("answers must be a list of strings or a callable, not a single string")
        if embed_dim < 1:
            raise ValueError(f"embed_dim must be at least 1, got {embed_dim}")
        self._answer_fn = answers if callable(answers) else None
        self._queue: deque[str] = deque() if callable(answers) else deque(answers)
        self._models = tuple(dict.fromkeys(_full_model_name(name) for name in models))
        self.embed_dim = embed_dim
        self.delay_s = delay_s
        self.tokens_per_s = tokens_per_s  # generation also takes the answer's tokens at this speed
        # /api/show's context length per model (32768 unless given); the salt changes every model's digest,
        # as a re-pulled model would.
        self.context_lengths = {_full_model_name(name): length for name, length in (context_lengths or {}).items()}
        self.digest_salt = digest_salt
        # Like OLLAMA_NUM_PARALLEL: at most this many answers are generated at once, the rest wait their turn.
        # `generating` keeps each generation's (start, end), epoch seconds: the server's own busy time.
        self._slots = threading.Semaphore(parallel) if parallel else None
        self.generating: list[tuple[float, float]] = []
        self.shows: list[str] = []
        self.requests: list[dict] = []
        self._port = port
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._faults: deque[Fault] = deque()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeOllama is not running; call start() or use it as a context manager")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeOllama:
        if self._server is not None:
            raise RuntimeError("FakeOllama is already running")
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_S}, name="fake-ollama", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        self._close_open_connections()
        server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def push(self, *answers: str) -> None:
        if self._answer_fn is not None:
            raise TypeError("push() needs a scripted list of answers; this FakeOllama answers with a callable")
        with self._lock:
            self._queue.extend(answers)

    def break_next(self, *faults: Fault) -> None:
        """The next chat requests fail as `faults` say, one each, before answers are given again."""
        with self._lock:
            self._faults.extend(faults)

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def handle(self, *, method: str, path: str, body: bytes) -> Reply:
        route = _ROUTES.get(path)
        if route is None:
            return Reply(404, "404 page not found")
        if method not in route:
            return Reply(405, "405 method not allowed")
        try:
            return getattr(self, route[method])(_parse_body(body) if method == "POST" else {})
        except ApiError as error:
            return Reply(error.status, {"error": error.message})

    def track_connection(self, connection: socket.socket, *, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _close_open_connections(self) -> None:
        # Keep-alive connections would otherwise keep being served after stop().
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _root(self, _: dict) -> Reply:
        return Reply(200, "Ollama is running")

    def _version(self, _: dict) -> Reply:
        return Reply(200, {"version": FAKE_SERVER_VERSION})

    def _tags(self, _: dict) -> Reply:
        return Reply(200, {"models": [_model_entry(name, salt=self.digest_salt) for name in self._models]})

    def _show(self, body: dict) -> Reply:
        name = self._require_model(body)
        embedding = _is_embedding_model(name)
        with self._lock:
            self.shows.append(name)
        context_length = self.context_lengths.get(_full_model_name(name), 32768)
        return Reply(200, {
            "license": "",
            "modelfile": f"FROM {name}\n",
            "parameters": "stop \"<|im_end|>\"",
            "template": "{{ .Prompt }}",
            "details": _model_details(name),
            "model_info": {"general.architecture": _family(name), f"{_family(name)}.context_length": context_length},
            "capabilities": ["embedding"] if embedding else ["completion", "tools", "insert"],
            "modified_at": _timestamp(),
        })

    def _chat(self, body: dict) -> Reply:
        with self._lock:
            self.requests.append(body)
        model = self._require_model(body)
        messages = body.get("messages") or []
        if not isinstance(messages, list) or not all(isinstance(message, dict) for message in messages):
            raise ApiError(400, "messages must be a list of objects")
        if not messages:
            return Reply(200, _final_chunk(model, {"message": _assistant("")}, done_reason="load"))
        fault = self._next_fault()
        if fault is not None:
            return _broken_reply(model, fault)
        prompt_tokens = sum(len(_tokens(str(message.get("content") or ""))) for message in messages)
        answer = self._next_answer(body)
        return self._answer_reply(body, answer, prompt_tokens=prompt_tokens, payload_key="message")

    def _generate(self, body: dict) -> Reply:
        model = self._require_model(body)
        prompt = str(body.get("prompt") or "")
        if not prompt:
            return Reply(200, _final_chunk(model, {"response": ""}, done_reason="load"))
        answer = self._next_answer(body)
        return self._answer_reply(body, answer, prompt_tokens=len(_tokens(prompt)), payload_key="response")

    def _embed(self, body: dict) -> Reply:
        model = self._require_model(body)
        inputs = body.get("input", [])
        inputs = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(inputs, list) or not all(isinstance(text, str) for text in inputs):
            raise ApiError(400, "invalid input type")
        dim = body.get("dimensions") or self.embed_dim
        if not isinstance(dim, int) or dim < 1:
            raise ApiError(400, f"dimensions must be a positive integer, got {dim!r}")
        return Reply(200, {
            "model": model,
            "embeddings": [embedding_for(text, dim=min(dim, self.embed_dim)) for text in inputs],
            "total_duration": LOAD_DURATION_NS + PROMPT_EVAL_NS_PER_TOKEN * len(inputs),
            "load_duration": LOAD_DURATION_NS,
            "prompt_eval_count": sum(len(_tokens(text)) for text in inputs),
        })

    def _require_model(self, body: dict) -> str:
        model = body.get("model")
        if not model or not isinstance(model, str):
            raise ApiError(400, "model is required")
        if _full_model_name(model) not in self._models:
            raise ApiError(404, f'model "{model}" not found, try pulling it first')
        return model

    def _next_answer(self, body: dict) -> str:
        if self._answer_fn is not None:
            return self._call_answer_fn(body)
        with self._lock:
            if not self._queue:
                raise ApiError(500, NO_ANSWER_LEFT)
            return self._queue.popleft()

    def _call_answer_fn(self, body: dict) -> str:
        try:
            answer = self._answer_fn(body)
        except Exception as error:  # the script is test code; its failure must surface as a server error
            raise ApiError(500, f"scripted answer failed: {error!r}") from error
        if not isinstance(answer, str):
            raise ApiError(500, f"scripted answer must be a str, got {type(answer).__name__}")
        return answer

    def _answer_reply(self, body: dict, answer: str, *, prompt_tokens: int, payload_key: str) -> Reply:
        seconds = self.delay_s + (len(_tokens(answer)) / self.tokens_per_s if self.tokens_per_s else 0.0)
        if self._slots is not None:
            with self._slots:
                self._generate_for(seconds)
        elif seconds > 0:
            time.sleep(seconds)
        stats = _stats(prompt_tokens=prompt_tokens, eval_tokens=len(_tokens(answer)), delay_s=seconds)
        model = body["model"]
        if body.get("stream", True) is False:
            return Reply(200, _final_chunk(model, _payload(payload_key, answer), **stats))
        chunks = [_chunk(model, _payload(payload_key, piece)) for piece in _stream_pieces(answer)]
        chunks.append(_final_chunk(model, _payload(payload_key, ""), **stats))
        return Reply(200, stream=iter(chunks))


    def _generate_for(self, seconds: float) -> None:
        started = time.time()
        time.sleep(seconds)
        with self._lock:
            self.generating.append((started, time.time()))


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # the client gave up (its timeout, a test's cancel): nothing to report
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOllama"
    timeout = 60

    def setup(self) -> None:
        super().setup()
        # As Ollama's Go server does: without it each answer's body waits behind its headers for the
        # client's delayed ACK (40 ms) on a kept-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake.track_connection(self.connection, open_=True)

    def finish(self) -> None:
        self.server.fake.track_connection(self.connection, open_=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # test output stays readable; requests are inspected through FakeOllama.requests

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit():
            self.close_connection = True
            self._send_whole(Reply(400, {"error": f"invalid Content-Length {length!r}"}), include_body=True)
            return
        body = self.rfile.read(int(length))
        route_method = "GET" if method == "HEAD" else method
        reply = self.server.fake.handle(method=route_method, path=self._route_path(), body=body)
        try:
            if reply.stream is not None:
                self._send_stream(reply.stream, cut=reply.cut)
            else:
                self._send_whole(reply, include_body=method != "HEAD")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _route_path(self) -> str:
        return self.path.split("?", 1)[0]

    def _send_whole(self, reply: Reply, *, include_body: bool) -> None:
        is_json = isinstance(reply.body, dict)
        data = (json.dumps(reply.body) if is_json else reply.body).encode()
        self.send_response(reply.status)
        content_type = "application/json" if is_json else "text/plain"
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if include_body:
            self.wfile.write(data)

    def _send_stream(self, chunks: Iterator[dict], *, cut: bool = False) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in chunks:
            data = (json.dumps(chunk) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        if cut:  # as a crashed or restarted server: the body never ends
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(b"0\r\n\r\n")


_ROUTES: dict[str, dict[str, str]] = {
    "/": {"GET": "_root"},
    "/api/version": {"GET": "_version"},
    "/api/tags": {"GET": "_tags"},
    "/api/show": {"POST": "_show"},
    "/api/chat": {"POST": "_chat"},
    "/api/generate": {"POST": "_generate"},
    "/api/embed": {"POST": "_embed"},
}


def _broken_reply(model: str, fault: Fault) -> Reply:
    if fault.status is not None:
        raise ApiError(fault.status, "the fake server broke (scripted fault)")
    count = fault.cut_after if fault.cut_after is not None else fault.end_after or 0
    chunks = [_chunk(model, _payload("message", f"half an answer {number} ")) for number in range(count)]
    return Reply(200, stream=iter(chunks), cut=fault.cut_after is not None)


def embedding_for(text: str, *, dim: int) -> list[float]:
    """Deterministic unit vector derived from sha256(text); equal texts give equal vectors."""
    values: list[float] = []
    counter = 0
    while len(values) < dim:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend(number / 2**31 - 1.0 for number in struct.unpack("<8I", digest))
        counter += 1
    values = values[:dim]
    norm = math.sqrt(sum(value * value for value in values)) or 1.0
    return [value / norm for value in values]


def _parse_body(body: bytes) -> dict:
    try:
        parsed = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ApiError(400, f"invalid JSON body: {error}") from error
    if not isinstance(parsed, dict):
        raise ApiError(400, "request body must be a JSON object")
    return parsed


def _tokens(text: str) -> list[str]:
    # Words (with their surrounding whitespace) stand in for model tokens; joining them gives back the text.
    return re.findall(r"\s*\S+(?:\s+$)?|\s+", text)


def _stream_pieces(answer: str) -> list[str]:
    tokens = _tokens(answer)
    size = max(1, math.ceil(len(tokens) / MAX_STREAM_CHUNKS))
    return ["".join(tokens[start:start + size]) for start in range(0, len(tokens), size)]


def _stats(*, prompt_tokens: int, eval_tokens: int, delay_s: float) -> dict[str, int]:
    prompt_eval_duration = prompt_tokens * PROMPT_EVAL_NS_PER_TOKEN
    eval_duration = eval_tokens * EVAL_NS_PER_TOKEN
    return {
        "total_duration": LOAD_DURATION_NS + prompt_eval_duration + eval_duration + int(delay_s * 1e9),
        "load_duration": LOAD_DURATION_NS,
        "prompt_eval_count": prompt_tokens,
        "prompt_eval_duration": prompt_eval_duration,
        "eval_count": eval_tokens,
        "eval_duration": eval_duration,
    }


def _payload(key: str, text: str) -> dict:
    return {"message": _assistant(text)} if key == "message" else {key: text}


def _assistant(content: str) -> dict:
    return {"role": "assistant", "content": content}


def _chunk(model: str, payload: dict) -> dict:
    return {"model": model, "created_at": _timestamp(), **payload, "done": False}


def _final_chunk(model: str, payload: dict, *, done_reason: str = "stop", **stats: int) -> dict:
    final = {"model": model, "created_at": _timestamp(), **payload, "done": True, "done_reason": done_reason}
    return {**final, **stats}


def _timestamp() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _full_model_name(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _is_embedding_model(name: str) -> bool:
    return "embed" in name


def _family(name: str) -> str:
    if _is_embedding_model(name):
        return "nomic-bert"
    base = name.rsplit("/", 1)[-1].split(":", 1)[0]
    match = re.match(r"[A-Za-z]+\d*", base)
    return match.group(0) if match else base


def _model_details(name: str) -> dict:
    tag = _full_model_name(name).rsplit(":", 1)[1]
    return {
        "parent_model": "",
        "format": "gguf",
        "family": _family(name),
        "families": [_family(name)],
        "parameter_size": tag.upper() if re.fullmatch(r"\d+(\.\d+)?b", tag) else "137M",
        "quantization_level": "Q4_K_M",
    }


def _model_entry(name: str, *, salt: str = "") -> dict:
    return {
        "name": name,
        "model": name,
        "modified_at": _timestamp(),
        "size": 1_000_000,
        "digest": hashlib.sha256((salt + name).encode()).hexdigest(),
        "details": _model_details(name),
    }


def _read_answers_dir(directory: Path) -> list[str]:
    files = sorted(path for path in directory.iterdir() if path.is_file())
    return [path.read_text(encoding="utf-8") for path in files]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a scripted fake Ollama API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=11434, help="port to listen on (0 picks a free one)")
    parser.add_argument("--answers-dir", type=Path, help="directory whose files, sorted by name, are the answers")
    parser.add_argument("--model", action="append", dest="models", help="model to serve (repeatable)")
    parser.add_argument("--embed-dim", type=int, default=768)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each chat/generate reply")
    args = parser.parse_args(argv)
    if args.answers_dir is not None and not args.answers_dir.is_dir():
        parser.error(f"--answers-dir {args.answers_dir} is not a directory")
    answers = _read_answers_dir(args.answers_dir) if args.answers_dir else []
    fake = FakeOllama(
        answers=answers,
        models=args.models or DEFAULT_MODELS,
        embed_dim=args.embed_dim,
        delay_s=args.delay,
        port=args.port,
    )
    try:
        fake.start()
    except OSError as error:
        print(f"cannot listen on 127.0.0.1:{args.port}: {error.strerror}", file=sys.stderr)
        return 1
    print(f"fake Ollama listening on {fake.url} with {len(answers)} scripted answers", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
