"""Settings come from the environment; a value that cannot be used stops the process naming the variable."""
import os
import subprocess
import sys

import pytest

from tests.support import ROOT


def run_python(code: str, **variables: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, **variables, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, cwd=ROOT)


@pytest.mark.parametrize("variable, value, says", [
    ("FACTORY_LOG_LEVEL", "verbose", "must be one of: DEBUG, INFO"),
    ("FACTORY_Q_CLUSTER", "two words", "letters, digits, - or _"),
    ("FACTORY_AGENT_CONCURRENCY", "many", "is not a whole number"),
    ("FACTORY_TEST_TIMEOUT", "0", "below the minimum of 1"),
    ("FACTORY_SANDBOX", "maybe", "must be one of: on, auto, off"),
    ("FACTORY_SANDBOX_MEMORY_MB", "lots", "is not a whole number"),
    ("FACTORY_SANDBOX_PIDS", "4", "below the minimum of 16"),
    ("FACTORY_TEST_OUTPUT_MB", "0", "below the minimum of 1"),
    ("FACTORY_SCOPED_RUN_MIN_S", "soon", "is not a number"),
    ("FACTORY_SCOPED_RUN_MIN_S", "-1", "below the minimum of 0"),
    ("OLLAMA_HOST", "localhost:11434", "must be an http:// or https:// URL"),
    ("FACTORY_OLLAMA_HOSTS", "http://gpu-a:11434,gpu-b:11434", "'gpu-b:11434' must be http:// or https:// URLs"),
    ("FACTORY_EMBED_HOST", "gpu-c", "must be an http:// or https:// URL"),
    ("FACTORY_HOST_RETRY_S", "soon", "FACTORY_HOST_RETRY_S"),
    ("FACTORY_EMBED_MODEL", "nomic embed", "is not a model name as Ollama spells it"),
    ("FACTORY_OLLAMA_NUM_PARALLEL", "two", "needs a whole number from 0 to 64"),
    ("FACTORY_OLLAMA_NUM_PARALLEL", "gpu-a:11434=2", "must be an http:// or https:// URL"),
    ("OLLAMA_NUM_PARALLEL", "-1", "below the minimum of 0"),
])
def test_a_value_that_cannot_be_used_stops_the_process_naming_the_variable(variable, value, says):
    started = run_python("import factory_site.settings", **{variable: value})
    assert started.returncode != 0
    assert variable in started.stderr and says in started.stderr, started.stderr


def test_log_level_in_any_case_and_empty_values_take_the_defaults():
    started = run_python("import factory_site.settings as s; print(s.LOGGING['root']['level'], s.Q_CLUSTER['name'])",
                         FACTORY_LOG_LEVEL="warning", FACTORY_Q_CLUSTER="")
    assert started.stdout.split() == ["WARNING", "factory"], started.stderr


def test_an_empty_git_identity_is_the_default_one():
    started = run_python("from lib.gitrepo import COMMITTER; print(COMMITTER['GIT_AUTHOR_NAME'], '|', "
                         "COMMITTER['GIT_COMMITTER_EMAIL'])", FACTORY_GIT_NAME="", FACTORY_GIT_EMAIL="")
    assert started.stdout.strip() == "AI Software Factory | factory@localhost", started.stderr


def test_model_places_per_host_and_the_agent_workers_that_keep_them_busy():
    code = ("import factory_site.settings as s; print(s.FACTORY_OLLAMA_NUM_PARALLEL, s.FACTORY_AGENT_CONCURRENCY)")
    alone = run_python(code, FACTORY_OLLAMA_NUM_PARALLEL="", OLLAMA_NUM_PARALLEL="", FACTORY_AGENT_CONCURRENCY="",
                       FACTORY_OLLAMA_HOSTS="")
    assert alone.stdout.split() == ["{'':", "1}", "3"], alone.stderr
    two = run_python(code, FACTORY_OLLAMA_NUM_PARALLEL="http://gpu-b:11434/=3", OLLAMA_NUM_PARALLEL="2",
                     FACTORY_AGENT_CONCURRENCY="", FACTORY_OLLAMA_HOSTS="http://gpu-a:11434,http://gpu-b:11434")
    assert two.stdout.strip() == "{'': 2, 'http://gpu-b:11434': 3} 11", two.stderr
