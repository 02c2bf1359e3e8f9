"""The API answers as its OpenAPI schema says: schemathesis against a live server, every check.

schemathesis generates requests from the live schema (valid ones, and ones that break it on purpose) and
checks every answer: no server error, documented status codes and content types, bodies that match the
schema, invalid input refused, valid input accepted (except the rejections listed in
tests/schemathesis.toml). Some of the requests reach real objects: a project with a real git remote and
tickets in several states, whose ids are offered to schemathesis as path parameters.

The operations are checked in four parts, one schemathesis run each, so parallel test workers share them out;
together they cover every operation of the schema (a test says so).

FACTORY_SCHEMATHESIS_EXAMPLES (default 5 per operation, on top of the examples and coverage phases' own cases)
and FACTORY_SCHEMATHESIS_SEED (default fixed, so `make test` is repeatable; "random" for a new one each run) tune
the run.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token

from memory.services import store_item
from tests.fake_ollama import unreachable_url
from tests.support import APP, completed_ticket, make_remote_repo
from tickets import services

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CONFIG = Path(__file__).parent / "schemathesis.toml"
DEFAULT_SEED = "20261201"
DEFAULT_EXAMPLES = "5"
# Operations by path; every path of the schema matches exactly one part.
PARTS = {
    "memory": r"^/api/factory/memory/",
    "projects-and-metrics": r"^/api/factory/(projects|metrics)/",
    "tickets": r"^/api/factory/tickets/(\{ticket_id\}/|batch/)?$",
    "ticket-actions": r"^/api/factory/tickets/\{ticket_id\}/[a-z-]+/$",
}


def known_objects(tmp_path: Path) -> dict[str, list[str]]:
    """Objects for the generated requests to reach, by path parameter."""
    remote = make_remote_repo(tmp_path, {"app.py": APP, "README.md": "# demo\n"})
    project = services.create_project(name="demo", repo_url=str(remote), test_command="python -m pytest -q")
    pending, _ = services.create_ticket(actor=None, project=project, fields={"titulo": "Pending", "descripcion": "d"})
    completed = completed_ticket(project, remote, {"app.py": APP.replace("VALUE = 1", "VALUE = 2")})
    failed, _ = services.create_ticket(actor=None, project=project, fields={"titulo": "Failed", "descripcion": "d"})
    services.transition(ticket=failed, to="in_progress", actor="agent")
    services.transition(ticket=failed, to="failed", actor="agent", fields={"error_mensaje": "red tests"})
    item, _, _ = store_item(text="Keep views thin: services change state.", kind="pattern", source="architect",
                            project=project)
    return {"ticket_id": [str(ticket.pk) for ticket in (pending, completed, failed)], "name": [project.name],
            "item_id": [str(item.pk)]}


def config_with(objects: dict[str, list[str]], where: Path) -> Path:
    """tests/schemathesis.toml, plus the known objects as dictionaries for the path parameters."""
    lines = [CONFIG.read_text()]
    for name, values in objects.items():
        lines.append(f"\n[dictionaries.{name}]\nvalues = {json.dumps(values)}\n")
    lines.append("\n[parameters]\n")
    lines += [f'"path.{name}" = {{ dictionary = "{name}", probability = 0.5 }}\n' for name in objects]
    config = where / "schemathesis.toml"
    config.write_text("".join(lines))
    return config


def test_the_parts_cover_every_operation_once():
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    for path in paths:
        assert len([name for name, regex in PARTS.items() if re.search(regex, path)]) == 1, path
    assert all(any(re.search(regex, path) for path in paths) for regex in PARTS.values())


@pytest.mark.parametrize("part", PARTS)
@pytest.mark.django_db(transaction=True)
def test_the_api_answers_as_its_schema_says(part, live_server, architect, tmp_path, settings):
    settings.FACTORY_DATA_DIR = tmp_path / "data"
    settings.OLLAMA_HOST = unreachable_url()  # memory stores for keyword search only, at once
    settings.FACTORY_GIT_CHECK_TIMEOUT = 2.0
    config = config_with(known_objects(tmp_path), tmp_path)
    token = Token.objects.create(user=architect).key
    seed = os.environ.get("FACTORY_SCHEMATHESIS_SEED", DEFAULT_SEED)
    command = [
        str(SCHEMATHESIS), "--config-file", str(config), "run", f"{live_server.url}/api/schema/",
        "--header", f"Authorization: Token {token}",
        "--phases", "examples,coverage,fuzzing",
        "--include-path-regex", PARTS[part],
        "--max-examples", os.environ.get("FACTORY_SCHEMATHESIS_EXAMPLES", DEFAULT_EXAMPLES),
        # One worker: several threads of schemathesis trip a CPython 3.11 bug in its own code.
        "--workers", "1",
        # PostgreSQL text cannot hold NUL, and every text field says so with a 400: generate none.
        "--generation-allow-x00", "false",
        "--generation-database", "none",
        *([] if seed == "random" else ["--seed", seed]),
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    summary = output[output.rfind("Test cases:"):].strip()
    print(summary)  # shown with -s: how many cases ran
    assert result.returncode == 0, output[-12000:]
