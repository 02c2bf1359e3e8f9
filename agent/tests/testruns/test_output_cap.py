"""The output cap holds for the text too: NUL bytes written as \\x00 cannot make the parsers read 4× the cap."""
import os
import subprocess
from pathlib import Path

from agent.testruns.command import MB, CappedOutput, execute, run_command
from agent.testruns.confine import Caps
from agent.testruns.sandbox import SandboxPolicy

OFF_1MB = SandboxPolicy("off", caps=Caps(output_mb=1))
NOTE_ROOM = 300  # the "[factory] ... omitted" line between head and tail


def worktree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=tree, check=True)
    return tree


def run(tmp_path: Path, script: str):
    return execute(["/bin/sh", "-c", script], cwd=worktree(tmp_path), timeout=60,
                   env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, sandbox=OFF_1MB)


def test_nul_heavy_output_under_the_byte_cap_is_cut_as_text_keeping_head_and_tail(tmp_path):
    # 900 KB of NULs fit the 1 MB byte cap, but become 3.6 MB of text.
    done = run(tmp_path, "printf START; head -c 900000 /dev/zero; printf END")
    assert len(done.text) <= 1 * MB + NOTE_ROOM
    assert done.text.startswith("START\\x00") and done.text.endswith("\\x00END")
    assert "characters of its text omitted (NUL bytes written as \\x00" in done.text
    assert "bytes of output omitted" not in done.text  # no byte was dropped: only the text's middle
    assert done.output_cut == ("the tests' output, with each NUL byte written as \\x00, came to more than 1 MB of "
                               "text (FACTORY_TEST_OUTPUT_MB); the middle was cut")
    assert done.exit_code == 0 and not done.limits  # noted, not failed


def test_nul_heavy_output_over_the_byte_cap_is_bounded_by_the_cap_as_text(tmp_path):
    done = run(tmp_path, "printf FIRST; head -c 5000000 /dev/zero; printf LAST")
    assert len(done.text) <= 1 * MB + NOTE_ROOM  # 4 MB of \x00 text without the cut
    assert done.text.startswith("FIRST\\x00") and done.text.endswith("\\x00LAST")
    note = next(line for line in done.text.splitlines() if line.startswith("[factory]"))
    assert note.startswith(f"[factory] {5000009 - MB} bytes of output omitted; ")
    assert "the tests wrote 5 MB of output, more than 1 MB (FACTORY_TEST_OUTPUT_MB)" in done.output_cut


def test_a_parsed_result_of_nul_heavy_output_reads_a_bounded_text(tmp_path):
    result = run_command(command="head -c 3000000 /dev/zero; echo; echo '1 passed in 0.01s'", cwd=worktree(tmp_path),
                         timeout=60, sandbox=OFF_1MB)
    assert "the middle was cut" in result["output_cut"] and "1 passed" in result["output_tail"]
    assert "\x00" not in result["output_tail"]


def test_plain_output_within_the_cap_is_kept_whole():
    output = CappedOutput(limit=1000)
    output.add(b"a\x00b\xffc")
    assert output.text() == "a\\x00b\ufffdc" and output.text_cut == 0 and not output.omitted


def test_text_cut_keeps_the_halves_of_the_cap():
    output = CappedOutput(limit=100)
    output.add(b"H" + b"\x00" * 40 + b"T")  # 42 bytes within the cap, 162 characters of text
    text = output.text()
    head, note, tail = text.split("\n")
    assert len(head) == 50 and len(tail) == 50 and head.startswith("H") and tail.endswith("T")
    assert output.text_cut == 162 - 100 and note == ("[factory] 62 characters of its text omitted (NUL bytes "
                                                     "written as \\x00 made it longer than the cap)")
