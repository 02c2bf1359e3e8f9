"""Model probing: the first time a model is used, and whenever its digest changes, ask Ollama what it really is.

The probe (agent.models.ModelProbe) gives the model's real context length:
num_ctx is capped at it, and the admin warns when FACTORY_NUM_CTX asks for more
than the model has. One /api/tags call per run finds the digest (and doubles
as the reachability check); /api/show runs only for a digest not seen before.
"""
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from agent.core.model import ModelFacts, OllamaModel
from agent.models import ModelProbe


def ready_model(model: OllamaModel) -> tuple[OllamaModel, ModelProbe]:
    """The model with num_ctx capped at its real context length, and its probe. Raises ModelUnavailable."""
    probe = probe_for(model)
    limit = probe.context_length
    if limit and model.num_ctx > limit:
        return model.with_context(limit), probe
    return model, probe


def probe_for(model: OllamaModel) -> ModelProbe:
    digest = model.check()
    found = ModelProbe.objects.filter(name=model.name, digest=digest).first()
    if found is None:
        found = record(model.describe(digest=digest))
    ModelProbe.objects.filter(pk=found.pk).update(last_used=timezone.now())
    return found


@transaction.atomic
def record(facts: ModelFacts) -> ModelProbe:
    try:
        with transaction.atomic():
            return ModelProbe.objects.create(name=facts.name, digest=facts.digest, family=facts.family,
                                             parameter_size=facts.parameter_size, quantization=facts.quantization,
                                             context_length=facts.context_length)
    except IntegrityError:  # another worker probed it at the same moment
        return ModelProbe.objects.get(name=facts.name, digest=facts.digest)


def too_small_windows() -> list[ModelProbe]:
    """The latest probe of each configured model whose context is smaller than FACTORY_NUM_CTX."""
    names = [settings.FACTORY_MODEL, *settings.FACTORY_ESCALATION]
    latest = [ModelProbe.objects.filter(name=name).order_by("-first_seen").first() for name in names]
    return [probe for probe in latest
            if probe is not None and probe.context_length and probe.context_length < settings.FACTORY_NUM_CTX]
