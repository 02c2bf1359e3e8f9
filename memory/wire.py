"""The protocol between the process that owns the embedded memory index and the processes that use it.

A frame is a header (MAGIC, the protocol VERSION, the body's length) and a JSON body. A request's
body is {"op": name, "args": {...}}, an answer's {"ok": result} or {"error": kind, "message": text}.
Dense vectors travel as base64 of their float64 bytes: JSON would spend about 1 ms on 768 floats
each way, more than the engine's search. Both ends check the version first, so an owner and a
caller from two different releases (during an upgrade) fail with a message instead of guessing.
"""
from __future__ import annotations

import base64
import json
import socket
import struct
from array import array

from memory.index_base import Hit, IndexMismatch, IndexPoint, IndexUnavailable, PointNotFound

MAGIC = b"FMEM"
VERSION = 1
HEADER = struct.Struct("!4sBI")  # magic, version, body length
MAX_BODY = 256 * 1024 * 1024  # a rebuild's batch of 500 items of 20,000 characters fits many times over
# Errors an operation may raise on purpose, raised again as themselves in the caller; any other is the owner's fault.
KNOWN_ERRORS: dict[str, type[Exception]] = {
    error.__name__: error for error in (IndexMismatch, IndexUnavailable, PointNotFound, ValueError)
}


class WireError(Exception):
    """The peer sent something that is not a frame of this protocol and version."""


class PeerGone(Exception):
    """The connection ended (or broke) before a whole frame arrived: the peer closed it or died."""


def send(connection: socket.socket, body: dict) -> None:
    data = json.dumps(body, separators=(",", ":")).encode()
    connection.sendall(HEADER.pack(MAGIC, VERSION, len(data)) + data)


def receive(connection: socket.socket) -> dict:
    """The next frame's body; PeerGone on a clean or broken end, WireError on a foreign or other-version frame."""
    magic, version, length = HEADER.unpack(_exactly(connection, HEADER.size))
    if magic != MAGIC:
        raise WireError("not a memory index frame")
    if version != VERSION:
        raise WireError(f"speaks memory protocol version {version}, this process version {VERSION}")
    if length > MAX_BODY:
        raise WireError(f"a frame of {length} bytes is over the limit of {MAX_BODY}")
    try:
        body = json.loads(_exactly(connection, length))
    except ValueError as exc:
        raise WireError(f"a frame that is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise WireError("a frame whose body is not an object")
    return body


def _exactly(connection: socket.socket, size: int) -> bytes:
    chunks, missing = [], size
    while missing:
        try:
            chunk = connection.recv(min(missing, 1 << 20))
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise PeerGone(str(exc)) from exc
        if not chunk:
            raise PeerGone("the connection ended")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


# -- values that JSON does not carry as they are -----------------------------------------------

def pack_vector(vector: list[float] | None) -> str | None:
    return None if vector is None else base64.b64encode(array("d", vector).tobytes()).decode()


def unpack_vector(packed: object) -> list[float] | None:
    if packed is None:
        return None
    if not isinstance(packed, str):
        raise WireError("a dense vector that is not base64 text")
    return array("d", base64.b64decode(packed)).tolist()


def encode_args(op: str, args: dict) -> dict:
    if op == "upsert":
        return {"points": [{"id": p.id, "text": p.text, "dense": pack_vector(p.dense), "payload": p.payload,
                            "language": p.language} for p in args["points"]]}
    if op in ("search", "set_dense"):
        return {**args, "dense": pack_vector(args["dense"])}
    return args


def decode_args(op: str, args: dict) -> dict:
    if op == "upsert":
        return {"points": [IndexPoint(id=p["id"], text=p["text"], dense=unpack_vector(p["dense"]),
                                      payload=p["payload"], language=p["language"]) for p in args["points"]]}
    if op in ("search", "set_dense"):
        return {**args, "dense": unpack_vector(args.get("dense"))}
    return args


def encode_result(op: str, result: object) -> object:
    if op == "search" and isinstance(result, list):
        return [[hit.id, hit.score, hit.payload] for hit in result]
    return result


def decode_result(op: str, result: object) -> object:
    if op == "search" and isinstance(result, list):
        return [Hit(id=hit_id, score=score, payload=payload) for hit_id, score, payload in result]
    return result


def error_body(exc: BaseException) -> dict:
    kind = type(exc).__name__
    return {"error": kind if kind in KNOWN_ERRORS else "unexpected", "message": f"{exc}" if kind in KNOWN_ERRORS
            else f"{kind}: {exc}"}
