"""How a real big module fits the model's context: the prompt a ticket on it gets, per num_ctx.

Reads a real file from the path given (fetched outside this repository, e.g. mypy's
mypy/checker.py, 10,063 lines, or pandas/core/frame.py), and builds the first prompt of a ticket
that names one definition deep in it (--name, default: the definition nearest 90 % of the file)
and, with --failure, the retry after a traceback pointing at that definition. Prints per num_ctx:
the file's tokens whole, the prompt's tokens, the outline level and windows chosen, whether the
named definition's first line is inside a window, and how long building the prompt took.

    .venv/bin/python bench/fit_real_file.py /path/to/checker.py [--name check_func_def] [--ctx 8192 16384 32768]
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.core.codemap.outline import definitions  # noqa: E402
from agent.core.prompting import PromptInputs, PromptTooLarge, TicketBrief, build_prompt, count_tokens  # noqa: E402

SYSTEM_PROMPT = Path(__file__).resolve().parent.parent / "agent" / "prompts" / "implementer.md"


def target(path: str, text: str, name: str | None) -> tuple[str, int]:
    found = definitions(path, text)
    if name:
        item = next(item for item in found if item.name == name)
    else:
        line = int(text.count("\n") * 0.9)
        item = min(found, key=lambda item: abs(item.line - line))
    return item.name, item.line


def measure(*, path: str, text: str, name: str, line: int, num_ctx: int, failure: bool) -> str:
    brief = TicketBrief(titulo=f"{name} mishandles an empty input",
                        descripcion=f"`{name}` must return early when its input is empty; keep the other callers working.",
                        archivos_modificar=[path], tests_requeridos=[f"tests/test_big.py::test_{name}_empty"])
    previous = (f'Traceback (most recent call last):\n  File "/workspace/{path}", line {line + 3}, in {name}\n'
                "AssertionError") if failure else ""
    inputs = PromptInputs(brief=brief, files_to_modify={path: text}, reference_files={}, tree=path,
                          edit_format="diff", previous_failure=previous)
    started = time.perf_counter()
    try:
        prompt = build_prompt(inputs=inputs, system=SYSTEM_PROMPT.read_text(), num_ctx=num_ctx)
    except PromptTooLarge as exc:
        return f"num_ctx={num_ctx}: refused in {time.perf_counter() - started:.2f} s: {str(exc)[:160]}..."
    seconds = time.perf_counter() - started
    windows = [row for row in prompt.user.splitlines() if row.startswith("Lines ")]
    ranges = [tuple(map(int, row.split()[1].split("-"))) for row in windows]
    held = any(first <= line <= last for first, last in ranges)
    level = next((note.split("(")[1].split(")")[0] for note in prompt.notes if note.startswith("Sent ")), "whole")
    return (f"num_ctx={num_ctx}: prompt {prompt.tokens} tokens ({prompt.tokens / num_ctx:.0%}), {level}, "
            f"windows {', '.join(row.split()[1] for row in windows)}; {name} at line {line} "
            f"{'inside' if held else 'NOT inside'} a window; built in {seconds:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--name", help="the definition the ticket names")
    parser.add_argument("--ctx", type=int, nargs="+", default=[8192, 16384, 32768])
    args = parser.parse_args()
    text = args.file.read_text(encoding="utf-8", errors="replace")
    path = args.file.name
    name, line = target(path, text, args.name)
    print(f"{args.file}: {text.count(chr(10))} lines, {len(definitions(path, text))} definitions, "
          f"about {count_tokens(text)} tokens whole; the ticket names {name} (line {line})")
    for failure in (False, True):
        print("retry after a traceback into it:" if failure else "first attempt:")
        for num_ctx in args.ctx:
            print("  " + measure(path=path, text=text, name=name, line=line, num_ctx=num_ctx, failure=failure))


if __name__ == "__main__":
    main()
