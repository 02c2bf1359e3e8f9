"""What the ticket admin says on the agent's behalf: the model unreachable, the disk short, the sandbox unusable,
the run caps."""
from django.conf import settings
from django.contrib import messages
from django.utils.timesince import timesince

from agent.defaults import host_health_key, model_hosts, sandbox_policy
from agent.models import AgentHealth
from agent.strategies.probing import too_small_windows
from agent.testruns.confine import Caps, describe
from tickets.health import Notice


def agent_notices() -> list[Notice]:
    notices: list[Notice] = []
    model = AgentHealth.objects.filter(key="model").first()
    if model is not None and not model.ok:
        notices.append((messages.ERROR, f"The model is unreachable (checked {timesince(model.checked_at)} ago): "
                                        f"{model.message} Tickets wait in 'pending' and run when it answers again."))
    notices += host_notices()
    disk = AgentHealth.objects.filter(key="disk").first()
    if disk is not None and not disk.ok:
        notices.append((messages.ERROR, f"Disk space is short (checked {timesince(disk.checked_at)} ago): "
                                        f"{disk.message}. Tickets wait in 'pending' and run when there is room."))
    for probe in too_small_windows():
        notices.append((messages.WARNING, f"FACTORY_NUM_CTX={settings.FACTORY_NUM_CTX} is larger than the "
                                          f"{probe.context_length}-token context of {probe.name} (probed "
                                          f"{timesince(probe.first_seen)} ago): its prompts are sent with "
                                          f"num_ctx={probe.context_length}, and reference material is cut to fit."))
    sandbox = sandbox_policy()
    if not sandbox.enabled or not sandbox.bwrap_available():
        notices.append((messages.WARNING, f"Test sandbox: {sandbox.describe()}."))
    notices.append(caps_notice(sandbox.caps))
    return notices


def host_notices() -> list[Notice]:
    """With several model hosts, each one down is named; the others keep serving."""
    hosts = model_hosts()
    if len(hosts) < 2:
        return []
    down = AgentHealth.objects.filter(key__in=[host_health_key(url) for url in hosts], ok=False)
    return [(messages.WARNING, f"A model host is skipped (checked {timesince(entry.checked_at)} ago): "
                               f"{entry.message} Requests go to the other hosts of FACTORY_OLLAMA_HOSTS.")
            for entry in down]


def caps_notice(caps: Caps) -> Notice:
    """Which kernel mechanism holds each run's caps, with their values; a warning when one is not held."""
    level = messages.WARNING if "NOT capped" in describe(caps) else messages.INFO
    return level, (f"Caps on each test run: {describe(caps)} (FACTORY_SANDBOX_MEMORY_MB, FACTORY_SANDBOX_PIDS, "
                   "FACTORY_SANDBOX_FILE_MB, FACTORY_SANDBOX_TMP_MB, FACTORY_TEST_OUTPUT_MB).")
