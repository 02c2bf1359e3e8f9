"""Fixtures for every test package of the repository (tests/ and each app's tests/), and the suite's
database set-up: one migrated template per run, cloned for each pytest-xdist worker.

Parallel workers share the run's PostgreSQL cluster and nothing else: each has a database of its own (the
template's clone) and a FACTORY_DATA_DIR of its own (clones, worktrees, the memory's embedded shard).
"""
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from pytest_django.plugin import blocking_manager_key
from random_order.config import Config as RandomOrder

from tests.fake_ollama import FakeOllama
from tests.support import APP, CALC, CALC_TESTS, client_for, make_remote_repo, make_user
from tickets import services
from tickets.roles import ARCHITECT, REVIEWER

TEMPLATE_READY = "template-ready"


def xdist_worker() -> str:
    """"gw0", "gw1" ... in a pytest-xdist worker; "" in a run without workers."""
    return os.environ.get("PYTEST_XDIST_WORKER", "")


def pytest_configure(config: pytest.Config) -> None:
    worker = xdist_worker()
    if not worker:
        return
    # Settings were read before any conftest: move this worker's FACTORY_DATA_DIR to a folder of its own, for the
    # worker and for the processes its tests start. They keep the key already read (django-q2 signs its queue
    # with the one it read at start-up), not one the new folder would make for them.
    data_dir = Path(django_settings.FACTORY_DATA_DIR) / f"worker-{worker}"
    data_dir.mkdir(parents=True, exist_ok=True)
    django_settings.FACTORY_DATA_DIR = data_dir
    os.environ["FACTORY_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SECRET_KEY"] = django_settings.SECRET_KEY


# The longest tests start first, so parallel workers do not end waiting on one of them started last.
LONGEST_FIRST = ("factory_bench/tests/test_factory_bench_nexo.py", "factory_bench/tests/test_factory_bench.py",
                 "tests/test_api_schema.py", "agent/tests/worker/test_recovery.py", "tests/test_service.py",
                 "metrics/tests/test_metrics.py", "memory/tests/test_owner.py")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if shuffled(config):
        return
    rank = {path: number for number, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


def shuffled(config: pytest.Config) -> bool:
    """Asked for random order (pytest-random-order): a shuffled run keeps its shuffle."""
    try:
        return RandomOrder(config).is_enabled
    except ValueError:  # the plugin is switched off (-p no:random_order)
        return False


# Database --------------------------------------------------------------------------------------------


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every worker of this run sees (the parent of their own temporary folders)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if xdist_worker() else base


def use_database(name: str) -> None:
    connection.close()
    connection.close_pool()
    connection.settings_dict["NAME"] = name
    django_settings.DATABASES[connection.alias]["NAME"] = name


def build_template(name: str) -> None:
    """The test database, migrated once for the whole run."""
    connection.settings_dict.setdefault("TEST", {})["NAME"] = name
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False, keepdb=False)
    connection.close()
    connection.close_pool()


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker, tmp_path_factory) -> Iterator[None]:
    """The template database is migrated by whichever worker comes first; each worker then works on a clone
    (CREATE DATABASE ... TEMPLATE: a file copy, far quicker than migrating again), dropped at the end."""
    original = connection.settings_dict["NAME"]
    template = f"test_{original}"
    shared = shared_run_dir(tmp_path_factory)
    with django_db_blocker.unblock():
        with exclusive(shared / "database.lock"):
            if not (shared / TEMPLATE_READY).exists():
                build_template(template)
                (shared / TEMPLATE_READY).write_text(template)
            use_database(template)
            worker = xdist_worker() or "main"
            connection.creation.clone_test_db(suffix=worker, verbosity=0, keepdb=False)
            clone = connection.creation.get_test_db_clone_settings(worker)["NAME"]
            use_database(clone)
    yield
    with django_db_blocker.unblock():
        connection.creation.destroy_test_db(old_database_name=template, verbosity=0)
        use_database(original)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The controller (or the only process) drops the template once every worker is done."""
    if xdist_worker() or not hasattr(session.config, "_tmp_path_factory"):
        return
    shared = session.config._tmp_path_factory.getbasetemp()
    ready = shared / TEMPLATE_READY
    if ready.exists():
        with session.config.stash[blocking_manager_key].unblock():
            drop_database(ready.read_text())


def drop_database(name: str) -> None:
    connection.close()
    connection.close_pool()
    with connection._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {connection.ops.quote_name(name)}")


# Users, clients, projects ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def own_data_dir(settings, tmp_path):
    """Every test its own FACTORY_DATA_DIR: no clone, worktree or memory shard left by an earlier test (a shard
    keeps points whose rows the earlier test's rollback removed)."""
    settings.FACTORY_DATA_DIR = tmp_path / "data"


@pytest.fixture(autouse=True)
def local_repositories_allowed(settings, tmp_path_factory):
    """The tests' repositories live in pytest's temporary folders: allow them as project remotes."""
    settings.FACTORY_ALLOWED_REPO_ROOTS = (tmp_path_factory.getbasetemp(),)


@pytest.fixture
def architect(db):
    return make_user("architect", role=ARCHITECT)


@pytest.fixture
def reviewer(db):
    return make_user("reviewer", role=REVIEWER, staff=True)


@pytest.fixture
def api(architect):
    return client_for(architect)


@pytest.fixture
def project(db, tmp_path):
    remote = make_remote_repo(tmp_path, {"README.md": "# demo\n"})
    return services.create_project(name="demo", repo_url=str(remote), test_command="python -m pytest -q")


@pytest.fixture
def calc_project(tmp_path, settings):
    settings.FACTORY_DATA_DIR = tmp_path / "data"
    remote = make_remote_repo(tmp_path, {"calc.py": CALC, "tests/test_calc.py": CALC_TESTS,
                                         "tests/__init__.py": "", "conftest.py": ""})
    project = services.create_project(name="calc", repo_url=str(remote), test_command="python -m pytest -q")
    return project, remote


@pytest.fixture
def fake_model(settings):
    with FakeOllama() as fake:
        settings.OLLAMA_HOST = fake.url
        settings.FACTORY_MODEL_RETRY_BACKOFF_S = 0.05  # a broken answer is asked again at once
        yield fake


@pytest.fixture
def repo_project(tmp_path, settings):
    """A project whose remote holds APP (tests.support), the base of completed_ticket()."""
    settings.FACTORY_DATA_DIR = tmp_path / "data"
    remote = make_remote_repo(tmp_path, {"app.py": APP, "README.md": "# demo\n"})
    project = services.create_project(name="demo", repo_url=str(remote), test_command="python -m pytest -q")
    return project, remote


@pytest.fixture
def memory_env(settings, tmp_path):
    """The shared memory working for real: stored items embedded at once by the scripted Ollama."""
    settings.FACTORY_DATA_DIR = tmp_path / "data"
    settings.FACTORY_QUEUE_SYNC = True
    with FakeOllama() as fake:
        settings.OLLAMA_HOST = fake.url
        yield fake
