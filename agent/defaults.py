"""The agent's parts as the settings configure them: the model, the sandbox, the dependency cache."""
import threading
from contextlib import AbstractContextManager

from django.conf import settings

from agent.core.hosts import HostPool
from agent.core.model import OllamaModel
from agent.testruns import deps
from agent.testruns.confine import Caps
from agent.testruns.deps import Dependencies
from agent.testruns.sandbox import SandboxPolicy
from tickets.models import Project
from tickets.repos import ProjectRepo


def sandbox_policy() -> SandboxPolicy:
    return SandboxPolicy(settings.FACTORY_SANDBOX, readonly=tuple(settings.FACTORY_SANDBOX_READONLY),
                         data_dir=settings.FACTORY_DATA_DIR, caps=run_caps(),
                         runners_dir=settings.FACTORY_RUNNERS_DIR)


def run_caps() -> Caps:
    return Caps(memory_mb=settings.FACTORY_SANDBOX_MEMORY_MB, pids=settings.FACTORY_SANDBOX_PIDS,
                tmp_mb=settings.FACTORY_SANDBOX_TMP_MB, file_mb=settings.FACTORY_SANDBOX_FILE_MB,
                output_mb=settings.FACTORY_TEST_OUTPUT_MB)


def default_model() -> OllamaModel:
    return ollama_model(settings.FACTORY_MODEL)


def ollama_model(name: str) -> OllamaModel:
    return OllamaModel(pool=host_pool(), name=name, num_ctx=settings.FACTORY_NUM_CTX,
                       temperature=settings.FACTORY_TEMPERATURE, timeout=settings.FACTORY_MODEL_TIMEOUT,
                       retries=settings.FACTORY_MODEL_RETRIES, backoff_s=settings.FACTORY_MODEL_RETRY_BACKOFF_S)


_pools: dict[tuple, HostPool] = {}
_pools_lock = threading.Lock()


def model_hosts() -> tuple[str, ...]:
    return tuple(settings.FACTORY_OLLAMA_HOSTS) or (settings.OLLAMA_HOST,)


def host_pool() -> HostPool:
    """One pool per process (and per settings, which tests change): its outstanding counts span every ticket
    and candidate this process runs."""
    key = (model_hosts(), settings.FACTORY_MODEL_TIMEOUT, settings.FACTORY_HOST_RETRY_S)
    with _pools_lock:  # tickets start on several threads at once: they must share one pool
        if key not in _pools:
            _pools[key] = HostPool(key[0], timeout=key[1], retry_after_s=key[2])
        return _pools[key]


def candidates_for(project: Project) -> int:
    return project.candidates or settings.FACTORY_CANDIDATES


def dependencies_for(*, project: Project, repo: ProjectRepo, base: str) -> AbstractContextManager[Dependencies | None]:
    """The base commit's installed dependencies (setup_command), built once per manifest set."""
    return deps.prepared(clone=repo.path, commit=base, setup_command=project.setup_command,
                         cache_dir=settings.FACTORY_DATA_DIR / "deps" / project.name, sandbox=sandbox_policy(),
                         timeout=settings.FACTORY_TEST_TIMEOUT)


def host_health_key(url: str) -> str:
    """AgentHealth's key for one model host (the key column holds 50 characters)."""
    return f"model-host:{url}"[:50]
