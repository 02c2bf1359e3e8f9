"""Hostile answers about sizes, bytes, links and special files, run by the real agent (as root in CI).

An answer, or the tests it wrote, that leaves a file too big, a link out of the project, a FIFO, or bytes that
are not text: the attempt fails with the reason fed back to the model, nothing of it is committed, and the
ticket's pages and API stay small and never crash.
"""
import hashlib
import os
import subprocess
import time
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from agent.worker.runner import run_ticket
from tests.support import RIGHT, client_for, make_ticket, make_user
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = "from pathlib import Path\nROOT = Path(__file__).resolve().parent.parent\n"


def answer(test_body: str, extra: dict[str, str] | None = None) -> str:
    """RIGHT's calc.py, a test file whose test also runs `test_body`, and extra files the answer writes."""
    files = "".join(f"\n{path}\n```\n{text}```\n" for path, text in (extra or {}).items())
    test = (f"import os\n{ROOT}\nfrom calc import multiply\n\n\ndef test_multiply():\n"
            + "".join(f"    {line}\n" for line in test_body.splitlines())
            + "    assert multiply(3, 4) == 12\n")
    return RIGHT.split("tests/test_multiply.py")[0] + f"tests/test_multiply.py\n```python\n{test}```\n" + files


def branch_files(remote: Path, branch: str) -> dict[str, str]:
    """path -> mode of every file on the remote branch."""
    out = subprocess.run(["git", "ls-tree", "-r", branch], cwd=remote, capture_output=True, text=True,
                         check=True).stdout
    return {line.split("\t", 1)[1]: line.split()[0] for line in out.splitlines()}


def run(project, fake_model, *answers: str) -> Ticket:
    fake_model.push(*answers)
    return run_ticket(str(make_ticket(project).pk))


def test_a_file_grown_by_the_tests_past_the_limit_is_the_models_failure(calc_project, fake_model):
    project, remote = calc_project
    grow = "os.truncate(ROOT / 'data.txt', 100 << 20)  # 100 MB, sparse"
    done = run(project, fake_model, answer(grow, {"data.txt": "small\n"}), RIGHT)
    assert done.estado == "completed", done.error_mensaje
    first = done.attempts.order_by("number").first()
    assert first.outcome == "tests_failed"
    assert "data.txt: is 100.0 MB, over the 1.0 MB limit for one file (FACTORY_MAX_FILE_KB)" in first.feedback
    assert "FACTORY_MAX_FILE_KB" in fake_model.requests[1]["messages"][-1]["content"]  # fed back on the retry
    assert "data.txt" not in branch_files(remote, done.branch_name)
    assert len(done.codigo_generado["diff"]) < 10_000


def test_an_answer_over_the_change_limit_is_refused_before_the_tests(calc_project, fake_model, settings):
    project, remote = calc_project
    settings.FACTORY_MAX_CHANGE_KB = 8
    big = {f"gen/part{number}.txt": "x" * 99 + "\n" for number in range(100)}  # 10 KB in all
    done = run(project, fake_model, answer("", big), RIGHT)
    assert done.estado == "completed", done.error_mensaje
    first = done.attempts.order_by("number").first()
    assert first.outcome == "apply_failed" and "FACTORY_MAX_CHANGE_KB" in first.feedback
    assert "none of this answer's files were kept" in first.feedback
    assert not [path for path in branch_files(remote, done.branch_name) if path.startswith("gen/")]


def test_links_out_and_fifos_are_the_models_failure_links_inside_are_kept(calc_project, fake_model):
    project, remote = calc_project
    hostile = ("(ROOT / 'notes.txt').unlink()\n(ROOT / 'notes.txt').symlink_to('/etc/passwd')\n"
               "(ROOT / 'inside.txt').unlink()\n(ROOT / 'inside.txt').symlink_to('calc.py')\n"
               "(ROOT / 'pipe.txt').unlink()\nos.mkfifo(ROOT / 'pipe.txt')")
    done = run(project, fake_model, answer(hostile, {"notes.txt": "n\n", "inside.txt": "i\n", "pipe.txt": "p\n"}),
               RIGHT)
    assert done.estado == "completed", done.error_mensaje  # never "Fix the project"
    first = done.attempts.order_by("number").first()
    assert first.outcome == "tests_failed"
    assert "notes.txt: is a symbolic link to '/etc/passwd', outside the project" in first.feedback
    assert "pipe.txt: is a FIFO (named pipe)" in first.feedback
    assert "inside.txt" not in first.feedback
    files = branch_files(remote, done.branch_name)
    assert "notes.txt" not in files and "pipe.txt" not in files and files["inside.txt"] == "120000"
    entry = next(entry for entry in done.codigo_generado["files"] if entry["path"] == "inside.txt")
    assert entry["symlink"] and entry["target"] == "calc.py"
    page = reviewer_client().get(reverse("review-ticket", args=[done.pk])).content.decode()
    assert "symlink → calc.py" in page


def test_bytes_that_are_not_text_are_stored_escaped_and_downloaded_exact(calc_project, fake_model):
    project, remote = calc_project
    hostile = ("(ROOT / 'latin.txt').write_bytes(b'caf\\xe9 \\xff\\n')\n(ROOT / 'nul.txt').write_bytes(b'a\\x00b')\n"
               "import sys; sys.stdout.buffer.write(b'out \\x00 \\xff\\n')")
    failing = answer(hostile + "\nassert False, 'NUL \\x00 here'", {"latin.txt": "x\n", "nul.txt": "y\n"})
    # The retry leaves latin.txt and nul.txt to the tests: a file that is not UTF-8 cannot be edited by an answer.
    done = run(project, fake_model, failing, answer(hostile))
    assert done.estado == "completed", done.error_mensaje
    first = done.attempts.order_by("number").first()
    assert first.outcome == "tests_failed"  # a NUL in the output is not a lost database
    assert "caf\\xe9 \\xff" in done.codigo_generado["diff"]
    nul = next(entry for entry in done.codigo_generado["files"] if entry["path"] == "nul.txt")
    assert nul["binary"]
    response = client_for(make_user("arch", role="architect")).get(
        reverse("api-ticket-diff", kwargs={"ticket_id": done.pk}))
    code = done.codigo_generado
    expected = subprocess.run(["git", "diff", "--no-color", "--find-renames", code["base"], code["head"]],
                              cwd=remote, capture_output=True, check=True).stdout
    assert b"".join(response.streaming_content) == expected and b"caf\xe9" in expected
    page = reviewer_client().get(reverse("review-ticket", args=[done.pk]))
    assert page.status_code == 200 and "caf\\xe9" in page.content.decode()


def test_a_100_mb_change_allowed_stays_small_in_the_api_and_the_page(calc_project, fake_model, settings):
    project, remote = calc_project
    settings.FACTORY_MAX_FILE_KB = settings.FACTORY_MAX_CHANGE_KB = 200_000
    grow = ("line = b'x' * 99 + b'\\n'\nwith open(ROOT / 'big.txt', 'wb') as out:\n"
            "    for _ in range(100):\n        out.write(line * 10_000)")
    done = run(project, fake_model, answer(grow, {"big.txt": "seed\n"}))
    assert done.estado == "completed", done.error_mensaje
    code = done.codigo_generado
    assert code["diff_truncated"] and len(code["diff"]) <= 256 * 1024
    assert next(entry for entry in code["files"] if entry["path"] == "big.txt")["size"] == 100_000_000

    api = client_for(make_user("arch", role="architect"))
    started = time.monotonic()
    detail = api.get(reverse("api-ticket-detail", kwargs={"ticket_id": done.pk}))
    assert time.monotonic() - started < 2 and len(detail.content) < 200_000
    big = next(entry for entry in detail.json()["codigo_generado"]["files"] if entry["path"] == "big.txt")
    assert big["diff"].endswith("/diff?path=big.txt") and "diff" not in detail.json()["codigo_generado"]

    reviewer = reviewer_client()
    started = time.monotonic()
    page = reviewer.get(reverse("review-ticket", args=[done.pk]))
    assert time.monotonic() - started < 2 and len(page.content) < 2_000_000
    one_file = f"{reverse('review-file', args=[done.pk])}?path=big.txt"
    assert f'data-src="{one_file.replace("&", "&amp;")}"' in page.content.decode()  # folded, loaded on demand
    loaded = reviewer.get(one_file)
    assert loaded.status_code == 200 and len(loaded.content) < 5_000_000 and "download it whole" in loaded.content.decode()

    raw = reviewer.get(reverse("review-diff-raw", args=[done.pk]))
    digest = hashlib.sha256()
    for chunk in raw.streaming_content:
        digest.update(chunk)
    expected = subprocess.run(["git", "diff", "--no-color", "--find-renames", code["base"], code["head"]],
                              cwd=remote, capture_output=True, check=True).stdout
    assert digest.hexdigest() == hashlib.sha256(expected).hexdigest() and len(expected) > 100_000_000


def test_ten_thousand_files_render_small_and_fast(calc_project, fake_model):
    project, _ = calc_project
    many = {f"gen/{number // 100}/f{number}.txt": f"{number}\n" for number in range(10_000)}
    done = run(project, fake_model, answer("", many))
    assert done.estado == "completed", done.error_mensaje
    assert len(done.codigo_generado["files"]) == 10_002

    # CPU seconds, not wall seconds: a loaded machine must not fail it, and rendering all 10,000 rows would.
    started = time.process_time()
    detail = client_for(make_user("arch", role="architect")).get(
        reverse("api-ticket-detail", kwargs={"ticket_id": done.pk}))
    assert time.process_time() - started < 2 and len(detail.content) < 200_000
    assert detail.json()["codigo_generado"]["files_total"] == 10_002

    started = time.process_time()
    page = reviewer_client().get(reverse("review-ticket", args=[done.pk]))
    assert time.process_time() - started < 2 and len(page.content) < 2_000_000
    assert "more files, not listed here" in page.content.decode()


def reviewer_client() -> Client:
    client = Client()
    client.force_login(make_user(f"reviewer{os.getpid()}{time.monotonic_ns()}", role="reviewer", staff=True))
    return client
