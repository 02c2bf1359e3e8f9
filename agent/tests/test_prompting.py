"""The prompt fits the context window: reference material is cut first, with a note; files to modify never."""
import pytest

from agent.core.prompting import PromptInputs, PromptTooLarge, TicketBrief, build_prompt, count_tokens

SYSTEM = "You are the implementer."


def inputs(*, modify_size: int = 200, reference_size: int = 200, tree_lines: int = 10, **brief) -> PromptInputs:
    return PromptInputs(
        brief=TicketBrief(titulo="Add multiply", descripcion="Add multiply(a, b).", **brief),
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


def test_files_to_modify_that_do_not_fit_are_refused_never_cut():
    with pytest.raises(PromptTooLarge, match="FACTORY_NUM_CTX"):
        build_prompt(inputs=inputs(modify_size=60000), system=SYSTEM, num_ctx=4096)


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
