"""Inputs checked at the door, and roles: repository URLs, request bodies, memory authorship, the API docs."""
import io
import json
import re
import socket

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from memory.models import MemoryItem
from restkit.parsers import BodyTooLarge, LimitedJSONParser
from tests.fake_ollama import unreachable_url
from tests.support import LESSON, client_for, make_remote_repo
from tickets import services
from tickets.models import Project
from tickets.repos import GitError, ProjectRepo

PROJECT = {"name": "web", "test_command": "npm test"}
SECRET_URL = "https://factory-bot:s3cret-token@git.example.com/acme/web.git"


def create(api, repo_url: str, **fields):
    return api.post("/api/factory/projects", {**PROJECT, "repo_url": repo_url, **fields}, format="json")


# Repository URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["ext::sh -c touch% /tmp/factory-pwned", "fd::17", "ftp://example.com/repo.git",
                                 "-u/tmp/x", " git@example.com:acme/web.git"])
def test_command_transports_and_odd_urls_are_refused(api, url):
    response = create(api, url)
    assert response.status_code == 400 and "repo_url" in response.json(), response.content
    assert not Project.objects.exists()


def test_local_paths_need_an_allowed_root(api, tmp_path, settings):
    remote = make_remote_repo(tmp_path / "allowed", {"README.md": "x"})
    settings.FACTORY_ALLOWED_REPO_ROOTS = ()
    refused = create(api, str(remote))
    assert refused.status_code == 400 and "FACTORY_ALLOWED_REPO_ROOTS" in refused.json()["repo_url"][0]

    settings.FACTORY_ALLOWED_REPO_ROOTS = (tmp_path / "allowed",)
    outside = make_remote_repo(tmp_path / "elsewhere", {"README.md": "x"})
    assert create(api, str(outside)).status_code == 400
    assert create(api, str(tmp_path / "allowed" / ".." / "elsewhere" / "remote.git")).status_code == 400
    assert create(api, "allowed/remote.git").status_code == 400  # relative
    assert create(api, str(remote)).status_code == 201
    assert create(api, f"file://{remote}", name="web2").status_code == 201


def test_gits_own_words_when_the_repository_does_not_answer(api, tmp_path, settings):
    missing = create(api, str(tmp_path / "nothing-here.git"))
    assert missing.status_code == 400
    assert "git ls-remote" in missing.json()["repo_url"][0] and "nothing-here.git" in missing.json()["repo_url"][0]

    refused = create(api, f"{unreachable_url()}/acme/web.git")
    assert refused.status_code == 400 and "Failed to connect" in refused.json()["repo_url"][0], refused.content

    remote = make_remote_repo(tmp_path, {"README.md": "x"})
    no_branch = create(api, str(remote), default_branch="develop")
    assert no_branch.status_code == 400 and "no branch 'develop'" in no_branch.json()["repo_url"][0]


def test_a_silent_server_is_given_up_after_the_check_timeout(api, settings):
    settings.FACTORY_GIT_CHECK_TIMEOUT = 1.0
    with socket.socket() as silent:  # accepts connections (the kernel does) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        response = create(api, f"http://127.0.0.1:{silent.getsockname()[1]}/acme/web.git")
    assert response.status_code == 400 and "did not answer within 1 s" in response.json()["repo_url"][0]


def test_credentials_in_repo_url_are_masked_and_kept(api, tmp_path):
    project = services.create_project(name="web", repo_url=SECRET_URL, test_command="npm test")
    shown = api.get("/api/factory/projects/web").json()["repo_url"]
    assert shown == "https://factory-bot:***@git.example.com/acme/web.git"
    assert "s3cret" not in api.get("/api/factory/projects").content.decode()

    patched = api.patch("/api/factory/projects/web", {"repo_url": shown, "test_command": "npm run test"},
                        format="json")
    assert patched.status_code == 200, patched.content
    project.refresh_from_db()
    assert project.repo_url == SECRET_URL and project.test_command == "npm run test"

    services.create_project(name="token", repo_url="https://ghp_abc123@github.com/acme/web.git", test_command="x")
    assert api.get("/api/factory/projects/token").json()["repo_url"] == "https://***@github.com/acme/web.git"


def test_default_branch_cannot_be_emptied_or_invalid(api, tmp_path):
    remote = make_remote_repo(tmp_path, {"README.md": "x"})
    assert create(api, str(remote)).status_code == 201
    for branch in ("", "   ", None, "two words", "a..b", "-x", 7):
        response = api.patch("/api/factory/projects/web", {"default_branch": branch}, format="json")
        assert response.status_code == 400 and "default_branch" in response.json(), (branch, response.content)
    assert Project.objects.get(name="web").default_branch == "main"


@pytest.mark.parametrize(("field", "value", "text"), [
    ("test_report", "/etc/hostname", "is absolute"), ("test_report", "../x.xml", "contains '..'"),
    ("quick_test_command", "pytest -q", "Put {files} where"), ("default_branch", "a..b", "not a valid git branch"),
])
def test_project_settings_are_checked_as_in_the_admin(api, tmp_path, field, value, text):
    remote = make_remote_repo(tmp_path, {"README.md": "x"})
    refused = create(api, str(remote), **{field: value})
    assert refused.status_code == 400 and text in refused.json()[field][0], refused.content
    assert create(api, str(remote)).status_code == 201
    patched = api.patch("/api/factory/projects/web", {field: value}, format="json")
    assert patched.status_code == 400 and text in patched.json()[field][0], patched.content


def test_every_git_command_refuses_command_transports(tmp_path):
    """A URL stored before the door check existed (or written into the clone) still runs no command."""
    marker = tmp_path / "pwned"
    evil = ProjectRepo(data_dir=tmp_path / "data", name="evil", url=f"ext::sh -c touch% {marker}",
                       default_branch="main")
    with pytest.raises(GitError, match="cannot clone"):
        evil.sync()

    remote = make_remote_repo(tmp_path, {"README.md": "x"})
    cloned = ProjectRepo(data_dir=tmp_path / "data", name="cloned", url=str(remote), default_branch="main")
    cloned.sync()
    cloned.repo().git.config("remote.origin.url", f"ext::sh -c touch% {marker}")
    with pytest.raises(GitError, match="transport 'ext' not allowed"):
        cloned.sync()
    assert not marker.exists()


# Request bodies --------------------------------------------------------------------------------


def test_json_nested_too_deep_is_400(api, project):
    for depth in (100_000, 65):
        body = "[" * depth + "]" * depth
        response = api.post("/api/factory/tickets", body, content_type="application/json")
        assert response.status_code == 400 and "nested too deep" in response.json()["detail"], depth


def test_a_body_over_the_limit_is_413_with_the_limit(api, project, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    body = json.dumps({"titulo": "Big", "descripcion": "x" * 5000})
    response = api.post("/api/factory/tickets", body, content_type="application/json")
    assert response.status_code == 413 and response["Content-Type"] == "application/json"
    assert "4096 bytes" in response.json()["detail"]


def test_a_body_without_a_length_is_read_no_further_than_the_limit(settings):
    # gunicorn hands a chunked body over without CONTENT_LENGTH: the parser itself stops at the limit.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    body = io.BytesIO(json.dumps({"descripcion": "x" * 5000}).encode())
    with pytest.raises(BodyTooLarge):
        LimitedJSONParser().parse(body, "application/json", {})
    assert body.tell() == 4097


def test_only_json_bodies_are_parsed(api, project):
    response = api.post("/api/factory/tickets", "titulo=x&descripcion=y",
                        content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


# Roles -----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_memory_source_comes_from_the_role_and_deleting_needs_architect_or_author(
        api, reviewer, project, memory_env):
    as_reviewer = client_for(reviewer)
    claimed = as_reviewer.post("/api/factory/memory", {**LESSON, "source": "architect"}, format="json")
    assert claimed.status_code == 400 and "role" in claimed.json()["source"][0]

    own = as_reviewer.post("/api/factory/memory", {"text": "Reviewers like small diffs.", "kind": "pattern"},
                           format="json")
    assert own.status_code == 201, own.content
    assert own.json()["source"] == "reviewer" and own.json()["created_by"] == "reviewer"
    by_architect = api.post("/api/factory/memory", {k: v for k, v in LESSON.items() if k != "source"},
                            format="json").json()
    assert by_architect["source"] == "architect"

    refused = as_reviewer.delete(f"/api/factory/memory/{by_architect['id']}")
    assert refused.status_code == 403 and "architect" in refused.json()["detail"]
    assert as_reviewer.delete(f"/api/factory/memory/{own.json()['id']}").status_code == 204
    assert api.delete(f"/api/factory/memory/{by_architect['id']}").status_code == 204
    assert not MemoryItem.objects.exists()


def test_the_api_schema_and_docs_are_for_authenticated_users(api, settings):
    anonymous = APIClient()
    assert anonymous.get("/api/schema/").status_code == 401
    docs = anonymous.get("/api/docs/")
    assert docs.status_code == 302 and "/admin/login/" in docs["Location"]
    assert api.get("/api/schema/").status_code == 200

    settings.FACTORY_PUBLIC_API_DOCS = True
    assert anonymous.get("/api/schema/").status_code == 200
    assert anonymous.get("/api/docs/").status_code == 200


def test_the_schema_generates_without_warnings_and_validates(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_the_schema_has_no_generated_names(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    generated = [name for name in schema["components"]["schemas"] if re.search(r"\d+Enum$", name)]
    assert not generated
    assert {"MemoryKindEnum", "TicketEventKindEnum"} <= set(schema["components"]["schemas"])

