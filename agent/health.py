"""What the ticket admin warns about on the agent's behalf: the model unreachable, the sandbox unusable."""
from django.contrib import messages
from django.utils.timesince import timesince

from agent.defaults import sandbox_policy
from agent.models import AgentHealth
from tickets.health import Notice


def agent_notices() -> list[Notice]:
    notices: list[Notice] = []
    model = AgentHealth.objects.filter(key="model").first()
    if model is not None and not model.ok:
        notices.append((messages.ERROR, f"The model is unreachable (checked {timesince(model.checked_at)} ago): "
                                        f"{model.message} Tickets wait in 'pending' and run when it answers again."))
    sandbox = sandbox_policy()
    if not sandbox.enabled or not sandbox.bwrap_available():
        notices.append((messages.WARNING, f"Test sandbox: {sandbox.describe()}."))
    return notices
