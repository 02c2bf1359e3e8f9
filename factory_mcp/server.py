"""MCP server for Claude Code: the factory's tools over stdio, backed by the factory's HTTP API.

It needs only FACTORY_URL and FACTORY_TOKEN, never the database or Django, so
it runs on the architect's machine against a factory anywhere on the network:
`python manage.py factory_mcp`, or `python -m factory_mcp.server` from a checkout.
API errors come back as tool errors Claude can read and act on: the HTTP status
plus every field error, e.g. `tickets[2].prioridad: Ensure this value is less
than or equal to 5.`
"""
import json
import os
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlparse

import httpx
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

API_PREFIX = "/api/factory"
DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 120.0  # an approve fetches, merges and pushes before it answers
MAX_ERROR_TEXT = 2000

INSTRUCTIONS = """\
Tools of the AI Software Factory: a local 14B code model implements small tickets in git branches, runs the
project's tests, and waits for review. Typical session: memory_search for the project's patterns and past
lessons; read the code; create_tickets with atomic tickets (one concern each, exact files, reference files,
mandatory patterns, concrete required tests, dependencies by batch position); later list_tickets
estado=completed, read ticket_diff and get_ticket (tests_resultado), then approve or request_changes with a
precise comment; memory_store the decisions worth remembering."""


class ConfigError(Exception):
    """The server cannot start: a missing or malformed environment variable."""


@dataclass(frozen=True)
class FactoryConfig:
    url: str
    token: str
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "FactoryConfig":
        token = environ.get("FACTORY_TOKEN", "").strip()
        # Claude Code passes an unset ${FACTORY_TOKEN} of .mcp.json through literally.
        if not token or token.startswith("${"):
            raise ConfigError(
                "FACTORY_TOKEN is not set. On the factory run `python manage.py factory_token NAME --role "
                "architect`, then export FACTORY_TOKEN=<the printed key> before starting Claude Code "
                "(.mcp.json passes it to this server).")
        url = (environ.get("FACTORY_URL", "").strip() or DEFAULT_URL).rstrip("/")
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(f"FACTORY_URL={url!r} must be the factory's http:// or https:// address, "
                              "e.g. http://factory.lan:8000")
        try:
            timeout = float(environ.get("FACTORY_MCP_TIMEOUT", "") or DEFAULT_TIMEOUT)
        except ValueError:
            raise ConfigError("FACTORY_MCP_TIMEOUT must be a number of seconds") from None
        return cls(url=url, token=token, timeout=timeout)


# Talking to the factory --------------------------------------------------------


class FactoryApi:
    def __init__(self, config: FactoryConfig) -> None:
        self.config = config

    async def call(
        self, method: str, path: str, *, body: Any = None, params: dict | None = None,
        headers: dict | None = None, text: bool = False,
    ) -> Any:
        """One request to /api/factory{path}; any failure becomes a ToolError Claude can read."""
        url = f"{self.config.url}{API_PREFIX}{path}"
        request_headers = {"Authorization": f"Token {self.config.token}", "Accept": "application/json",
                           "User-Agent": "ai-software-factory-mcp/1", **(headers or {})}
        try:
            async with httpx.AsyncClient(timeout=self.config.timeout) as client:
                response = await client.request(method, url, json=body, params=without_none(params),
                                                headers=request_headers)
        except httpx.TimeoutException:
            raise ToolError(f"The factory at FACTORY_URL={self.config.url} did not answer {method} "
                            f"{API_PREFIX}{path} within {self.config.timeout:g} s.") from None
        except httpx.HTTPError as exc:
            raise ToolError(f"Cannot reach the factory at FACTORY_URL={self.config.url} ({type(exc).__name__}: "
                            f"{exc}). Is it running, and is FACTORY_URL right?") from None
        if response.status_code >= 400:
            raise ToolError(describe_error(method, f"{API_PREFIX}{path}", response))
        if text:
            return response.text
        try:
            return response.json()
        except ValueError:
            raise ToolError(f"{method} {API_PREFIX}{path} answered HTTP {response.status_code} with a body that "
                            f"is not JSON; is FACTORY_URL={self.config.url} really the factory?") from None


HINTS = {
    401: "FACTORY_TOKEN was not accepted; create one with `python manage.py factory_token NAME --role architect`.",
    403: "The token's user lacks the role for this: 'architect' creates tickets, 'reviewer' or 'architect' reviews.",
    404: "Not found: check the id (or this factory predates the endpoint).",
}


def describe_error(method: str, path: str, response: httpx.Response) -> str:
    try:
        details = flatten_errors(response.json())
    except ValueError:
        # An HTML error page (a proxy, or a route this factory lacks) says nothing the status does not.
        html = "html" in response.headers.get("content-type", "")
        details = [response.text.strip()[:MAX_ERROR_TEXT]] if response.text.strip() and not html else []
    lines = [f"{method} {path} failed: HTTP {response.status_code} {response.reason_phrase}", *details]
    if response.status_code in HINTS:
        lines.append(HINTS[response.status_code])
    return "\n".join(lines)[:MAX_ERROR_TEXT]


def flatten_errors(value: Any, path: str = "") -> list[str]:
    """DRF's nested error bodies as one line per field: `tickets[2].prioridad: message`."""
    if isinstance(value, dict):
        return [line for key, item in value.items() for line in flatten_errors(item, error_path(path, key))]
    if isinstance(value, list) and all(not isinstance(item, (dict, list)) for item in value):
        text = "; ".join(str(item) for item in value)
        return [f"{path}: {text}" if path else text]
    if isinstance(value, list):
        return [line for index, item in enumerate(value) for line in flatten_errors(item, error_path(path, index))]
    return [f"{path}: {value}" if path else str(value)]


def error_path(path: str, key: Any) -> str:
    key = str(key)
    if key.isdigit():
        return f"{path}[{key}]"
    if key in ("detail", "non_field_errors"):
        return path
    return f"{path}.{key}" if path else key


def without_none(params: dict | None) -> dict | None:
    return {name: value for name, value in params.items() if value not in (None, "", [])} if params else None


def ticket_path(ticket_id: str, action: str = "") -> str:
    try:
        canonical = str(uuid.UUID(ticket_id.strip()))
    except ValueError:
        raise ToolError(f"{ticket_id!r} is not a ticket id: give the full UUID that create_tickets or "
                        "list_tickets returned.") from None
    return f"/tickets/{canonical}" + (f"/{action}" if action else "")


def dumps(value: Any) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False)


def summary(ticket: dict) -> dict:
    keys = ("id", "titulo", "estado", "project", "prioridad", "intentos", "depende_de", "branch_name",
            "error_mensaje", "failure_kind")
    return {**{key: ticket.get(key) for key in keys}, "url": (ticket.get("links") or {}).get("self")}


def without_large_diff(ticket: dict) -> dict:
    code = ticket.get("codigo_generado")
    if isinstance(code, dict) and code.get("diff"):
        code = {**code, "diff": f"({len(code['diff'])} characters: read it with ticket_diff)"}
    return {**ticket, "codigo_generado": code}


# The tools ---------------------------------------------------------------------

TicketId = Annotated[str, Field(description="The ticket's UUID.")]


def build_server(api: FactoryApi) -> MCPServer:
    server = MCPServer("ai-software-factory", instructions=INSTRUCTIONS, version="1.0")

    @server.tool(structured_output=False)
    async def create_tickets(
        tickets: Annotated[list[dict[str, Any]], Field(min_length=1, description=(
            "The tickets, in order. Fields: titulo (<=200 chars), descripcion, tipo (feature|bugfix|refactor|test"
            "|...), prioridad (1 highest - 5), archivos_modificar (repo-relative paths to change or create), "
            "archivos_referencia (files to imitate), patrones_obligatorios (hard rules), contexto_cipher "
            "(context text), tests_requeridos (concrete test cases), tests_codigo (acceptance tests you wrote, as "
            "whole files {path: content}; each must fail on the base, the model may not edit them, they must "
            "pass), depende_de (ticket UUIDs, or the 0-based "
            "index of an EARLIER ticket in this list), project (optional, overrides the default)."))],
        project: Annotated[str | None, Field(description="Default project name for tickets that name none.")] = None,
        idempotency_key: Annotated[str | None, Field(description=(
            "Optional key; repeating the call with the same key and tickets returns the first batch "
            "instead of creating duplicates."))] = None,
    ) -> str:
        """Create several tickets at once, atomically (all or none), for the factory's implementer agent.

        A ticket that depends on others starts only after they are merged. Returns the created tickets in
        order with their ids."""
        body = {"tickets": tickets, **({"project": project} if project else {})}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        data = await api.call("POST", "/tickets/batch", body=body, headers=headers)
        return dumps({"created": [{"index": index, **summary(ticket)}
                                  for index, ticket in enumerate(data["tickets"])]})

    @server.tool(structured_output=False)
    async def get_ticket(ticket_id: TicketId) -> str:
        """One ticket with everything: its definition, state, attempts, test result (tests_resultado), error
        and event log. The diff itself is left out; read it with ticket_diff."""
        return dumps(without_large_diff(await api.call("GET", ticket_path(ticket_id))))

    @server.tool(structured_output=False)
    async def list_tickets(
        estado: Annotated[str | None, Field(description=(
            "State filter, comma-separated for several: pending, in_progress, completed (awaiting review), "
            "failed, changes_requested, merged, cancelled."))] = None,
        project: Annotated[str | None, Field(description="Project name.")] = None,
        q: Annotated[str | None, Field(description="Text to find in titulo or descripcion.")] = None,
        ordering: Annotated[str | None, Field(description=(
            "creado_en, prioridad, estado, completado_en...; prefix '-' for descending."))] = None,
        page: Annotated[int, Field(ge=1)] = 1,
        page_size: Annotated[int, Field(ge=1, le=200)] = 25,
    ) -> str:
        """List tickets, newest first unless ordered otherwise, with filters."""
        states = [state.strip() for state in estado.split(",") if state.strip()] if estado else None
        data = await api.call("GET", "/tickets", params={
            "estado": states, "project": project, "q": q, "ordering": ordering, "page": page,
            "page_size": page_size})
        return dumps({"count": data.get("count"), "count_is_estimate": bool(data.get("count_is_estimate")),
                      "page": page, "has_more": bool(data.get("next")),
                      "tickets": [summary(ticket) for ticket in data.get("results", [])]})

    @server.tool(structured_output=False)
    async def ticket_diff(ticket_id: TicketId) -> str:
        """The ticket's change as a unified diff against the project's default branch."""
        diff = await api.call("GET", ticket_path(ticket_id, "diff"), text=True)
        return diff or "(empty diff: the agent has not produced a change for this ticket yet)"

    @server.tool(structured_output=False)
    async def approve(
        ticket_id: TicketId,
        head: Annotated[str | None, Field(description=(
            "The head commit you reviewed (codigo_generado.head); if the branch changed since, nothing is "
            "merged."))] = None,
    ) -> str:
        """Approve a completed ticket: merge its branch into the default branch and push. On a merge conflict
        nothing is pushed and the conflicting files are listed."""
        ticket = await api.call("POST", ticket_path(ticket_id, "approve"), body={"head": head} if head else {})
        return dumps(summary(ticket))

    @server.tool(structured_output=False)
    async def request_changes(
        ticket_id: TicketId,
        comentario: Annotated[str, Field(min_length=1, description=(
            "What to change, precisely: the agent's next attempt is given this text."))],
    ) -> str:
        """Send a completed (or failed) ticket back to the agent with a precise comment; it continues from its
        branch."""
        ticket = await api.call("POST", ticket_path(ticket_id, "request-changes"), body={"comentario": comentario})
        return dumps(summary(ticket))

    @server.tool(structured_output=False)
    async def memory_search(
        q: Annotated[str, Field(min_length=1, description="What to look for, in natural language.")],
        k: Annotated[int, Field(ge=1, le=50)] = 5,
        project: Annotated[str | None, Field(description="Only this project's memory.")] = None,
        kind: Annotated[str | None, Field(description="pattern, decision, error, solution or context.")] = None,
    ) -> str:
        """Search the factory's shared memory: project patterns, decisions, and lessons from past tickets."""
        return dumps(await api.call("GET", "/memory/search", params={"q": q, "k": k, "project": project,
                                                                      "kind": kind}))

    @server.tool(structured_output=False)
    async def memory_store(
        text: Annotated[str, Field(min_length=1, description="The lesson, pattern or decision, self-contained.")],
        kind: Annotated[str, Field(description="pattern, decision, error, solution or context.")],
        project: Annotated[str | None, Field(description="Project name.")] = None,
        tags: list[str] | None = None,
        files: Annotated[list[str] | None, Field(description="Repo-relative paths it is about.")] = None,
        ticket: Annotated[str | None, Field(description="Ticket UUID it came from.")] = None,
    ) -> str:
        """Store an item in the factory's shared memory, where the agent and later sessions will find it."""
        # The factory sets source from the token's role.
        body = without_none({"text": text, "kind": kind, "project": project, "tags": tags, "files": files,
                             "ticket": ticket})
        return dumps(await api.call("POST", "/memory", body=body))

    return server


def main(environ: Mapping[str, str] = os.environ) -> None:
    try:
        config = FactoryConfig.from_env(environ)
    except ConfigError as exc:
        sys.exit(f"factory_mcp: {exc}")
    build_server(FactoryApi(config)).run("stdio")


if __name__ == "__main__":
    main()
