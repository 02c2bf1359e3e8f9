"""The agent's parts as the settings configure them: the model and the sandbox."""
from django.conf import settings

from agent.llm import OllamaModel
from agent.sandbox import SandboxPolicy


def sandbox_policy() -> SandboxPolicy:
    return SandboxPolicy(settings.FACTORY_SANDBOX, readonly=tuple(settings.FACTORY_SANDBOX_READONLY),
                         data_dir=settings.FACTORY_DATA_DIR)


def default_model() -> OllamaModel:
    return OllamaModel(host=settings.OLLAMA_HOST, name=settings.FACTORY_MODEL, num_ctx=settings.FACTORY_NUM_CTX,
                       temperature=settings.FACTORY_TEMPERATURE, timeout=settings.FACTORY_MODEL_TIMEOUT)
