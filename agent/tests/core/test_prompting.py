"""The prompt fits the context window: reference material is cut first, with a note; files to modify never."""
import pytest

from agent.core.codemap.outline import definitions, render_outline
from agent.core.edit_formats import whole_file_refusals
from agent.core.prompting import PromptInputs, PromptTooLarge, TicketBrief, build_prompt, count_tokens

SYSTEM = "You are the implementer."


def inputs(*, modify_size: int = 200, reference_size: int = 200, tree_lines: int = 10,
           descripcion: str = "Add multiply(a, b).", **brief) -> PromptInputs:
    return PromptInputs(
        brief=TicketBrief(titulo="Add multiply", descripcion=descripcion, **brief),
        files_to_modify={"calc.py": "x = 1\n" * (modify_size // 6), "tests/test_new.py": None},
        reference_files={"ref.py": "y = 2\n" * (reference_size // 6)},
        tree="\n".join(f"pkg/module_{i}.py" for i in range(tree_lines)),
        edit_format="whole",
    )


def test_everything_fits_in_a_large_window():
    prompt = build_prompt(inputs=inputs(patrones_obligatorios=["No classes"], tests_requeridos=["3*4 == 12"],
                                        lessons=["[pattern] use ints"], contexto_cipher="// context"),
                          system=SYSTEM, num_ctx=16384)
    assert prompt.notes == []
    for text in ("## Hard rules (mandatory)\n- No classes", "3*4 == 12", "calc.py\n```python", "ref.py",
                 "tests/test_new.py\n(new file", "Repository layout", "use ints", "// context", "## Answer format"):
        assert text in prompt.user
    assert prompt.tokens == count_tokens(SYSTEM) + count_tokens(prompt.user)


def test_reference_material_is_cut_first_and_noted():
    prompt = build_prompt(inputs=inputs(modify_size=3000, reference_size=30000, tree_lines=2000), system=SYSTEM,
                          num_ctx=8192)
    assert prompt.tokens <= 8192
    assert any("tree" in note for note in prompt.notes)
    assert ("x = 1\n" * 500) in prompt.user  # the file to modify, whole


def test_files_that_fit_not_even_as_outlines_are_refused_naming_what_would_fit():
    data = inputs()
    data.files_to_modify["calc.py"] = "".join(f"def function_{n}(a, b):\n    return a + {n}\n\n\n" for n in range(3000))
    with pytest.raises(PromptTooLarge, match="FACTORY_NUM_CTX") as raised:
        build_prompt(inputs=data, system=SYSTEM, num_ctx=4096)
    message = str(raised.value)
    assert message.startswith("Fix the ticket:") and "num_ctx=4096" in message
    assert "calc.py as outline and minimal windows about" in message


BIG = "".join(f"def function_{n}(a, b):\n    total = a + b\n    return total * {n}\n\n\n" for n in range(1100))


def windowed_inputs(**changes) -> PromptInputs:
    data = inputs(descripcion="Make `function_900` subtract instead of add.", **changes)
    data.files_to_modify = {"calc.py": BIG, "tests/test_calc.py": "def test_ok():\n    assert True\n"}
    return data


def test_a_file_too_big_is_sent_as_an_outline_and_windows_around_the_ticket_names():
    prompt = build_prompt(inputs=windowed_inputs(), system=SYSTEM, num_ctx=16384)
    assert prompt.tokens <= 16384 and prompt.windowed == ("calc.py",) and prompt.edit_format == "diff"
    line = BIG[:BIG.index("def function_900(")].count("\n") + 1
    assert f"{line}: function_900" in prompt.user or f"{line}: def function_900(a, b)" in prompt.user
    assert "def function_900(a, b):\n    total = a + b\n    return total * 900\n" in prompt.user
    assert "def test_ok():\n    assert True" in prompt.user  # the small file stays whole
    assert "Answer with SEARCH/REPLACE blocks" in prompt.user and "never answer with the whole file" in prompt.user
    assert any(note.startswith("Sent calc.py as an outline and lines 1-") for note in prompt.notes)


def test_windows_follow_the_last_failure_traceback_and_the_required_tests():
    data = windowed_inputs(tests_requeridos=["tests/test_calc.py::test_function_300"])
    data.previous_failure = 'File "/workspace/calc.py", line 5003, in function_1000\nAssertionError'
    prompt = build_prompt(inputs=data, system=SYSTEM, num_ctx=16384)
    ranges = [tuple(map(int, row.split()[1].split("-"))) for row in prompt.user.splitlines()
              if row.startswith("Lines ") and row.endswith(" of calc.py:")]
    for line in (5003, BIG[:BIG.index("def function_300(")].count("\n") + 1):
        assert any(first <= line <= last for first, last in ranges), (line, ranges)


def test_a_whole_file_answer_for_a_windowed_file_is_refused():
    answer = "calc.py\n```python\ndef function_0(a, b):\n    return 0\n```\n"
    refused = whole_file_refusals(answer, windowed=["calc.py"])
    assert [path for path, _ in refused] == ["calc.py"] and "SEARCH/REPLACE" in refused[0][1]
    diff = "calc.py\n```python\n<<<<<<< SEARCH\n    return total * 5\n=======\n    return 5\n>>>>>>> REPLACE\n```\n"
    assert whole_file_refusals(diff, windowed=["calc.py"]) == []
    assert whole_file_refusals(answer, windowed=[]) == []


def test_javascript_outline_by_line_pattern():
    text = ("const x = 1;\nexport function parse(argv) {\n  return argv;\n}\n"
            "class Command {\n  run() {}\n}\nconst helper = (a) => a;\n")
    found = definitions("cli.js", text)
    assert [(item.name, item.line, item.depth) for item in found] == [("parse", 2, 0), ("Command", 5, 0),
                                                                     ("helper", 8, 0)]
    assert render_outline(found, detail="names") == "2: parse\n5: Command\n8: helper"


def test_a_file_holding_fences_gets_a_longer_fence():
    data = inputs()
    data.reference_files = {"README.md": "Example:\n```python\nprint(1)\n```\n"}
    prompt = build_prompt(inputs=data, system=SYSTEM, num_ctx=16384)
    assert "README.md\n````markdown\nExample:\n```python" in prompt.user


def test_a_retry_says_what_failed_and_that_tests_must_not_be_weakened():
    data = inputs()
    data.previous_failure = "FAILED tests/test_new.py::test_multiply - assert 7 == 12"
    prompt = build_prompt(inputs=data, system=SYSTEM, num_ctx=16384)
    assert "previous attempt failed" in prompt.user and "assert 7 == 12" in prompt.user
    assert "must not be weakened" in prompt.user


def test_the_code_map_follows_the_files_to_modify():
    data = inputs(lessons=["[pattern] use ints"])
    data.context_map = "Used by calc.py (defined in other files):\n- util.py:1: def fmt(value: float) -> str"
    prompt = build_prompt(inputs=data, system=SYSTEM, num_ctx=16384)
    code_map = prompt.user.index("## Code around the files to modify")
    assert prompt.user.index("## Files to modify") < code_map < prompt.user.index("## Lessons")
    assert "- util.py:1: def fmt(value: float) -> str" in prompt.user


def test_the_code_map_is_cut_after_the_reference_files_and_before_the_lessons():
    data = inputs(modify_size=3000, reference_size=12000, tree_lines=1500, lessons=["[pattern] use ints " * 20])
    data.context_map = "\n".join(f"- pkg/mod_{n}.py:{n}: def function_{n}(a: int, b: int) -> int" for n in range(400))
    prompt = build_prompt(inputs=data, system=SYSTEM, num_ctx=8192)
    assert prompt.tokens <= 8192
    assert [note.split(" to fit")[0] for note in prompt.notes] == ["Cut tree", "Cut references", "Cut code map"]
    assert "use ints" in prompt.user and "ref.py" not in prompt.user
    kept = [line for line in prompt.user.splitlines() if line.startswith("- pkg/mod_")]
    assert kept and all(line.endswith("-> int") for line in kept)  # cut at a line, never inside a signature
