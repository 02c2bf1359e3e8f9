"""The MCP server as Claude Code runs it: `manage.py factory_mcp` over stdio, driven by the mcp SDK's own client,
against a live factory in this test (pytest-django live_server), over HTTP only."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from django.conf import settings
from mcp import Client, StdioServerParameters
from rest_framework.authtoken.models import Token

from tests.support import APP, completed_ticket, git
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)

TOOLS = {"create_tickets", "get_ticket", "list_tickets", "ticket_diff", "approve", "request_changes",
         "memory_search", "memory_store"}


def ticket(titulo: str, **extra) -> dict:
    return {"titulo": titulo, "descripcion": f"{titulo}, as described.", "archivos_modificar": ["app.py"],
            "tests_requeridos": [f"{titulo} works"], **extra}


def server_env(url: str, token: str) -> dict[str, str]:
    inherited = {name: os.environ[name] for name in ("DATABASE_URL", "FACTORY_DATA_DIR") if name in os.environ}
    return {**inherited, "FACTORY_URL": url, "FACTORY_TOKEN": token}


def run_session(url: str, token: str, scenario):
    """Spawn the server as Claude Code would and run an async scenario against it."""
    params = StdioServerParameters(command=sys.executable, args=["manage.py", "factory_mcp"],
                                   cwd=str(settings.BASE_DIR), env=server_env(url, token))

    async def main():
        async with Client(params, read_timeout_seconds=60) as client:
            return await scenario(client)

    return anyio.run(main)


async def call(client: Client, tool: str, arguments: dict) -> tuple[bool, str]:
    result = await client.call_tool(tool, arguments)
    return result.is_error, "".join(block.text for block in result.content)


async def ok(client: Client, tool: str, arguments: dict) -> str:
    is_error, text = await call(client, tool, arguments)
    assert not is_error, f"{tool} failed: {text}"
    return text


@pytest.fixture
def demo(repo_project):
    """The project the MCP tools work on (the root conftest's repo_project)."""
    return repo_project


@pytest.fixture
def token(architect) -> str:
    return Token.objects.create(user=architect).key


def test_a_whole_session_through_the_mcp_server(live_server, demo, token):
    project, remote = demo
    done = completed_ticket(project, remote, {"app.py": APP.replace("'Hello '", "'Good day, '")})

    async def scenario(client: Client) -> dict:
        seen = {"tools": {tool.name for tool in (await client.list_tools()).tools}}
        created = json.loads(await ok(client, "create_tickets", {"project": "demo", "tickets": [
            ticket("Add farewell()"), ticket("Use farewell() in main", depende_de=[0]),
        ]}))["created"]
        seen["created"] = created
        seen["second"] = json.loads(await ok(client, "get_ticket", {"ticket_id": created[1]["id"]}))
        seen["listed"] = json.loads(await ok(client, "list_tickets", {"estado": "pending,completed",
                                                                      "q": "farewell"}))
        seen["bad_batch"] = await call(client, "create_tickets", {"tickets": [
            ticket("Fine"), ticket("Too urgent", prioridad=9), ticket("Forward", depende_de=[5])]})
        seen["unknown"] = await call(client, "get_ticket", {"ticket_id": "7a1d4a9e-0000-4000-8000-000000000000"})
        seen["illegal"] = await call(client, "request_changes", {"ticket_id": created[0]["id"],
                                                                 "comentario": "Rename it."})
        seen["diff"] = await ok(client, "ticket_diff", {"ticket_id": str(done.pk)})
        seen["done"] = json.loads(await ok(client, "get_ticket", {"ticket_id": str(done.pk)}))
        seen["approved"] = json.loads(await ok(client, "approve", {"ticket_id": str(done.pk)}))
        return seen

    seen = run_session(live_server.url, token, scenario)

    assert seen["tools"] >= TOOLS
    first, second = seen["created"]
    assert (first["index"], second["index"]) == (0, 1)
    assert first["estado"] == second["estado"] == "pending"
    assert seen["second"]["depende_de"] == [first["id"]]
    assert seen["second"]["project"] == "demo"
    assert {row["id"] for row in seen["listed"]["tickets"]} == {first["id"], second["id"]}
    assert Ticket.objects.get(pk=second["id"]).depende_de.get().pk == Ticket.objects.get(pk=first["id"]).pk

    is_error, text = seen["bad_batch"]
    assert is_error
    assert "HTTP 400" in text
    assert "tickets[1].prioridad:" in text
    assert "tickets[2].depende_de: Item 5 comes after item 2" in text
    assert not Ticket.objects.filter(titulo="Fine").exists()
    assert seen["unknown"][0] and "HTTP 404" in seen["unknown"][1]
    assert seen["illegal"][0] and "HTTP 409" in seen["illegal"][1] and "pending" in seen["illegal"][1]

    assert "+    return 'Good day, ' + name" in seen["diff"]
    assert seen["done"]["tests_resultado"]["passed"] == 7
    code = seen["done"]["codigo_generado"]  # the API sends no diff text: each file links its own diff
    assert "diff" not in code and code["files"][0]["diff"].endswith(f"/diff?path={code['files'][0]['path']}")
    assert seen["approved"]["estado"] == "merged"
    assert "Good day" in git(remote, "show", "main:app.py")


def test_request_changes_reaches_the_ticket(live_server, demo, token):
    project, remote = demo
    done = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})

    async def scenario(client: Client) -> str:
        return await ok(client, "request_changes", {"ticket_id": str(done.pk),
                                                    "comentario": "Keep VALUE at 1; only greet() should change."})

    answer = json.loads(run_session(live_server.url, token, scenario))
    assert answer["estado"] == "changes_requested"
    assert done.events.filter(kind="comment", message__startswith="Keep VALUE at 1").exists()


def test_memory_store_then_search(live_server, demo, token, settings):
    settings.OLLAMA_HOST = closed_port_url()  # BM25 alone: the same answer on any machine
    lesson = "Controllers in demo wrap every handler in asyncHandler and never call res.json twice."

    async def scenario(client: Client) -> dict:
        await ok(client, "memory_store", {"text": lesson, "kind": "pattern", "project": "demo",
                                          "tags": ["controllers"]})
        return json.loads(await ok(client, "memory_search", {"q": "asyncHandler controllers", "project": "demo"}))

    found = run_session(live_server.url, token, scenario)
    assert found["results"][0]["text"] == lesson


def test_api_errors_are_readable_tool_errors(live_server, db):
    async def scenario(client: Client) -> tuple[bool, str]:
        return await call(client, "list_tickets", {})

    is_error, text = run_session(live_server.url, "not-a-valid-token", scenario)
    assert is_error
    assert "HTTP 401" in text and "FACTORY_TOKEN" in text


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_an_unreachable_factory_is_named_in_the_error():
    url = closed_port_url()

    async def scenario(client: Client) -> list[tuple[bool, str]]:
        return [await call(client, "list_tickets", {}), await call(client, "get_ticket", {"ticket_id": "f3b1c3c0"})]

    (is_error, text), (bad_id, bad_id_text) = run_session(url, "any-token", scenario)
    assert is_error
    assert f"Cannot reach the factory at FACTORY_URL={url}" in text
    assert bad_id and "'f3b1c3c0' is not a ticket id" in bad_id_text


def test_the_server_refuses_to_start_without_a_token():
    env = {**server_env("http://127.0.0.1:8000", ""), "PATH": os.environ["PATH"]}
    result = subprocess.run([sys.executable, "manage.py", "factory_mcp"], cwd=Path(settings.BASE_DIR), env=env,
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    assert "FACTORY_TOKEN is not set" in result.stderr
    assert result.stdout == ""
