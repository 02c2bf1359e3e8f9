import json
import math
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import ollama
import pytest

from tests.fake_ollama import FakeOllama, unreachable_url

CODER = "qwen2.5-coder:14b"
EMBEDDER = "nomic-embed-text"
QUESTION = [{"role": "user", "content": "write hello world please"}]
LONG_ANSWER = "def hello():\n    print('hello world')\n\n" * 5


@pytest.fixture
def fake():
    with FakeOllama(answers=["first answer", LONG_ANSWER]) as server:
        yield server


@pytest.fixture
def client(fake):
    with ollama.Client(host=fake.url) as ollama_client:
        yield ollama_client


def test_chat_without_streaming_returns_the_next_scripted_answer(fake, client):
    response = client.chat(model=CODER, messages=QUESTION)

    assert response.message.role == "assistant"
    assert response.message.content == "first answer"
    assert (response.done, response.done_reason) == (True, "stop")
    assert fake.requests == [{"model": CODER, "messages": QUESTION, "tools": [], "stream": False}]


def test_chat_streaming_splits_the_answer_into_chunks(client):
    client.chat(model=CODER, messages=QUESTION)

    chunks = list(client.chat(model=CODER, messages=QUESTION, stream=True))

    assert len(chunks) > 3
    assert "".join(chunk.message.content for chunk in chunks) == LONG_ANSWER
    assert [chunk.done for chunk in chunks] == [False] * (len(chunks) - 1) + [True]


def test_final_chunk_carries_token_counts_and_durations(client):
    client.chat(model=CODER, messages=QUESTION)

    final = list(client.chat(model=CODER, messages=QUESTION, stream=True))[-1]

    assert final.done_reason == "stop"
    assert final.prompt_eval_count == 4
    assert final.eval_count == len(LONG_ANSWER.split())
    durations = [final.load_duration, final.prompt_eval_duration, final.eval_duration]
    assert all(duration > 0 for duration in durations)
    assert final.total_duration >= sum(durations)


def test_answers_are_used_in_order_then_run_out_with_a_500(fake, client):
    fake.push("third answer")
    answers = [client.chat(model=CODER, messages=QUESTION).message.content for _ in range(3)]

    with pytest.raises(ollama.ResponseError) as raised:
        client.chat(model=CODER, messages=QUESTION)

    assert answers == ["first answer", LONG_ANSWER, "third answer"]
    assert (raised.value.status_code, raised.value.error) == (500, "no scripted answer left")
    assert len(fake.requests) == 4


def test_streaming_request_without_answers_left_fails_before_streaming():
    with FakeOllama() as server, ollama.Client(host=server.url) as ollama_client:
        with pytest.raises(ollama.ResponseError) as raised:
            list(ollama_client.chat(model=CODER, messages=QUESTION, stream=True))

    assert raised.value.status_code == 500


def test_callable_script_sees_the_request():
    def echo_last_message(request: dict) -> str:
        return request["messages"][-1]["content"].upper()

    with FakeOllama(answers=echo_last_message) as server, ollama.Client(host=server.url) as ollama_client:
        response = ollama_client.chat(model=CODER, messages=QUESTION)

    assert response.message.content == "WRITE HELLO WORLD PLEASE"


def test_push_refuses_when_answers_come_from_a_callable():
    with pytest.raises(TypeError, match="callable"):
        FakeOllama(answers=lambda request: "x").push("more")


def test_embed_is_deterministic_and_normalized(client):
    first = client.embed(model=EMBEDDER, input=["alpha", "beta"])
    again = client.embed(model=EMBEDDER, input="alpha")

    assert [len(vector) for vector in first.embeddings] == [768, 768]
    assert list(again.embeddings[0]) == list(first.embeddings[0])
    assert list(first.embeddings[0]) != list(first.embeddings[1])
    assert math.isclose(sum(value * value for value in first.embeddings[0]), 1.0, rel_tol=1e-9)


def test_embed_dimension_is_configurable():
    with FakeOllama(embed_dim=16) as server, ollama.Client(host=server.url) as ollama_client:
        response = ollama_client.embed(model=EMBEDDER, input="text")

    assert len(response.embeddings[0]) == 16


def test_list_and_show_describe_the_configured_models(client):
    listed = [model.model for model in client.list().models]
    shown = client.show(CODER)

    assert listed == [CODER, "nomic-embed-text:latest"]
    assert shown.details.family == "qwen2"
    assert "completion" in shown.capabilities


def test_unknown_model_is_a_404_like_ollama(fake, client):
    with pytest.raises(ollama.ResponseError) as raised:
        client.chat(model="llama3:8b", messages=QUESTION)

    assert raised.value.status_code == 404
    assert raised.value.error == 'model "llama3:8b" not found, try pulling it first'
    with pytest.raises(ollama.ResponseError, match="not found"):
        client.embed(model="missing-embedder", input="x")
    assert fake.requests[-1]["model"] == "llama3:8b"


def test_generate_streams_and_answers_whole(client):
    whole = client.generate(model=CODER, prompt="say it", stream=False)
    chunks = list(client.generate(model=CODER, prompt="say it again", stream=True))

    assert whole.response == "first answer"
    assert "".join(chunk.response for chunk in chunks) == LONG_ANSWER
    assert chunks[-1].done and chunks[-1].eval_count > 0


def test_version_and_wire_format(fake):
    version = httpx.get(f"{fake.url}/api/version").json()
    with httpx.stream("POST", f"{fake.url}/api/chat", json={"model": CODER, "messages": QUESTION}) as response:
        lines = [line for line in response.iter_lines()]
        content_type = response.headers["content-type"]

    assert set(version) == {"version"}
    assert content_type == "application/x-ndjson"
    chunks = [json.loads(line) for line in lines]
    assert {chunk["message"]["role"] for chunk in chunks} == {"assistant"}
    assert "".join(chunk["message"]["content"] for chunk in chunks) == "first answer"
    assert chunks[-1]["done"] is True


def test_bad_requests_get_clear_errors(fake):
    not_json = httpx.post(f"{fake.url}/api/chat", content=b"{nope")
    no_model = httpx.post(f"{fake.url}/api/chat", json={"messages": QUESTION})
    unknown_path = httpx.get(f"{fake.url}/api/nothing")

    assert not_json.status_code == 400 and "invalid JSON" in not_json.json()["error"]
    assert (no_model.status_code, no_model.json()) == (400, {"error": "model is required"})
    assert unknown_path.status_code == 404


def test_concurrent_chats_each_get_one_answer(fake):
    results: list[str] = []

    def ask() -> None:
        with ollama.Client(host=fake.url) as own_client:
            results.append(own_client.chat(model=CODER, messages=QUESTION).message.content)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert sorted(results) == sorted(["first answer", LONG_ANSWER])
    assert len(fake.requests) == 2


def test_delay_lets_clients_time_out():
    with FakeOllama(answers=["late"], delay_s=0.5) as server:
        with ollama.Client(host=server.url, timeout=0.1) as impatient:
            with pytest.raises(httpx.TimeoutException):
                impatient.chat(model=CODER, messages=QUESTION)


def test_closed_port_raises_connection_error():
    with pytest.raises(ConnectionError):
        ollama.Client(host=unreachable_url()).chat(model=CODER, messages=QUESTION)


def test_stopped_server_refuses_even_kept_alive_connections(fake, client):
    client.chat(model=CODER, messages=QUESTION)
    fake.stop()

    with pytest.raises(ConnectionError):
        client.list()
    with pytest.raises(RuntimeError, match="not running"):
        _ = fake.url


def test_runs_as_a_process_with_answers_from_a_directory(tmp_path):
    (tmp_path / "02-second.txt").write_text("second from file", encoding="utf-8")
    (tmp_path / "01-first.txt").write_text("first from file", encoding="utf-8")
    script = Path(__file__).with_name("fake_ollama.py")
    process = subprocess.Popen(
        [sys.executable, str(script), "--port", "0", "--answers-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().split(" on ", 1)[1].split()[0]
        with ollama.Client(host=url) as process_client:
            answers = [process_client.chat(model=CODER, messages=QUESTION).message.content for _ in range(2)]
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert answers == ["first from file", "second from file"]


def test_process_reports_a_missing_answers_dir(tmp_path):
    script = Path(__file__).with_name("fake_ollama.py")
    result = subprocess.run(
        [sys.executable, str(script), "--port", "0", "--answers-dir", str(tmp_path / "absent")],
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert "is not a directory" in result.stderr
