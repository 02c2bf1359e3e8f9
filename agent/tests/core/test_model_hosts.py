"""Several model hosts (FACTORY_OLLAMA_HOSTS), through the real agent run and two real HTTP servers speaking
Ollama's API: requests spread over the hosts, and a host that stops mid-run loses no ticket."""
import threading
import time

import pytest
from django import db

from agent.core.hosts import HostPool, NoHost
from agent.health import agent_notices
from agent.worker.requeue import model_is_reachable, record_host_health
from agent.worker.runner import run_ticket
from tests.fake_ollama import FakeOllama, unreachable_url
from tests.support import RIGHT, WRONG, make_ticket

pytestmark = pytest.mark.django_db(transaction=True)

SMALL = "qwen2.5-coder:14b"


def by_seed(right_seed: int):
    def answer(body: dict) -> str:
        return RIGHT if body.get("options", {}).get("seed") == right_seed else WRONG
    return answer


@pytest.fixture
def hosts_settings(settings):
    settings.FACTORY_MODEL_RETRY_BACKOFF_S = 0.05
    settings.FACTORY_HOST_RETRY_S = 60.0
    return settings


def in_thread(ticket_id: str, done: dict) -> threading.Thread:
    def run() -> None:
        try:
            done[ticket_id] = run_ticket(ticket_id)
        finally:
            db.connection.close()
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_candidates_spread_over_both_hosts(calc_project, hosts_settings):
    project, _ = calc_project
    hosts_settings.FACTORY_CANDIDATES = 2
    with FakeOllama(answers=by_seed(1001), delay_s=0.5) as one, FakeOllama(answers=by_seed(1001), delay_s=0.5) as two:
        hosts_settings.FACTORY_OLLAMA_HOSTS = urls = (one.url, two.url)
        done = run_ticket(str(make_ticket(project).pk))
    assert done.estado == "completed" and done.intentos == 1, done.error_mensaje
    assert len(one.requests) == 1 and len(two.requests) == 1  # one candidate each: the fewest outstanding
    [attempt] = done.attempts.all()
    assert {candidate["model_host"] for candidate in attempt.candidates} == set(urls)
    chosen = next(candidate for candidate in attempt.candidates if candidate["chosen"])
    assert attempt.model_host == chosen["model_host"] and attempt.model_started_at is not None


def test_two_tickets_at_once_run_on_both_hosts(calc_project, hosts_settings):
    project, _ = calc_project
    # Each answer takes long enough for the other ticket's request to come while it is outstanding.
    with FakeOllama(answers=lambda _: RIGHT, delay_s=4) as one, FakeOllama(answers=lambda _: RIGHT, delay_s=4) as two:
        hosts_settings.FACTORY_OLLAMA_HOSTS = urls = (one.url, two.url)
        done: dict = {}
        first, second = (str(make_ticket(project).pk) for _ in range(2))
        threads = [in_thread(first, done), in_thread(second, done)]
        for thread in threads:
            thread.join(timeout=120)
    assert {ticket.estado for ticket in done.values()} == {"completed"}, [t.error_mensaje for t in done.values()]
    hosts = {ticket.attempts.get().model_host for ticket in done.values()}
    assert hosts == set(urls), (len(one.requests), len(two.requests))


def test_a_host_stopped_mid_answer_loses_no_ticket(calc_project, hosts_settings):
    project, _ = calc_project
    with FakeOllama(answers=[RIGHT], delay_s=30) as slow, FakeOllama(answers=[RIGHT]) as other:
        hosts_settings.FACTORY_OLLAMA_HOSTS = (slow_url := slow.url, other.url)
        ticket = make_ticket(project)
        done: dict = {}
        thread = in_thread(str(ticket.pk), done)
        deadline = time.monotonic() + 60
        while not slow.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert slow.requests, "the first request should go to the first host"
        slow.stop()  # mid-answer: its connection is cut
        thread.join(timeout=120)
        finished = done[str(ticket.pk)]
        assert finished.estado == "completed" and finished.intentos == 1, finished.error_mensaje
        assert finished.attempts.get().model_host == other.url and len(other.requests) == 1
        # The stopped host is skipped, named per host in the admin; the model stays reachable through the other.
        record_host_health()
        assert model_is_reachable()
        [notice] = [text for _, text in agent_notices() if "model host is skipped" in text]
        assert slow_url in notice


def test_no_host_with_the_model_leaves_the_ticket_pending_naming_each_host(calc_project, hosts_settings):
    project, _ = calc_project
    with FakeOllama(models=["nomic-embed-text"]) as embed_only:
        down = unreachable_url()
        hosts_settings.FACTORY_OLLAMA_HOSTS = (down, embed_only.url)
        done = run_ticket(str(make_ticket(project).pk))
        assert done.estado == "pending" and done.intentos == 0
        assert f"unreachable at {down}" in done.error_mensaje
        assert f"not available on {embed_only.url}" in done.error_mensaje
        assert not model_is_reachable()


def test_the_least_busy_host_with_the_model_is_chosen():
    with FakeOllama(models=[SMALL]) as one, FakeOllama(models=[SMALL, "big:32b"]) as two:
        pool = HostPool([one.url, two.url], timeout=5)
        first = pool.choose(SMALL)
        with pool.outstanding(first):
            assert pool.choose(SMALL).url == two.url
        assert pool.choose(SMALL).url == one.url
        assert pool.choose("big:32b").url == two.url


def test_an_unreachable_host_is_tried_again_after_the_pause():
    now = [0.0]
    with FakeOllama() as fake, FakeOllama() as other:
        url = fake.url
        fake.stop()
        pool = HostPool([url, other.url], timeout=5, retry_after_s=30, clock=lambda: now[0])
        assert pool.choose(SMALL).url == other.url
        restarted = FakeOllama(port=int(url.rsplit(":", 1)[1])).start()
        try:
            now[0] = 10.0
            assert pool.choose(SMALL).url == other.url  # still within the pause: not asked
            now[0] = 31.0
            assert pool.choose(SMALL).url == url  # back, and listed first
        finally:
            restarted.stop()


def test_a_lone_host_is_asked_again_at_once():
    with FakeOllama() as fake:
        url = fake.url
        fake.stop()
        pool = HostPool([url], timeout=5, retry_after_s=30)
        with pytest.raises(NoHost, match=f"unreachable at {url}"):
            pool.choose(SMALL)
        restarted = FakeOllama(port=int(url.rsplit(":", 1)[1])).start()
        try:
            assert pool.choose(SMALL).url == url  # no pause: the ticket starts as soon as Ollama is back
        finally:
            restarted.stop()


def test_settings_parse_the_host_list(monkeypatch):
    from factory_site.env import ImproperlyConfiguredEnv, env_urls
    monkeypatch.setenv("FACTORY_OLLAMA_HOSTS", "http://a:11434/, http://b:11434,http://a:11434")
    assert env_urls("FACTORY_OLLAMA_HOSTS", "") == ("http://a:11434", "http://b:11434")
    monkeypatch.setenv("FACTORY_OLLAMA_HOSTS", "http://a:11434,b:11434")
    with pytest.raises(ImproperlyConfiguredEnv, match="FACTORY_OLLAMA_HOSTS"):
        env_urls("FACTORY_OLLAMA_HOSTS", "")
