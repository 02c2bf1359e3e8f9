"""Builds the implementer's user message from a ticket, fitted to the model's context window.

Budget rule: the task is never cut; reference material is trimmed first (repository tree,
reference files, code map, memory lessons, pre-loaded context), and every cut is written down as
a note on the attempt. Files to modify are sent whole while they fit; when they do not, the
biggest are sent as an outline plus windows around what the ticket, its tests and the last failure
point at (agent.core.windows), and the answer must then be SEARCH/REPLACE blocks. A ticket that
does not fit even so raises PromptTooLarge, whose message starts "Fix the ticket:".
"""
from dataclasses import dataclass, field

from agent.core.edits import EditFormat, format_instructions
from agent.core.windows import LEVELS, MINIMAL, Focus, Level, Windowed, describe, focus_for, windowed_file

# qwen2.5-coder's tokenizer averages a little over 3 characters per token on
# code; 3.0 errs on the side of fitting.
CHARS_PER_TOKEN = 3.0
MIN_OUTPUT_TOKENS = 2048


def count_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


@dataclass
class TicketBrief:
    """What the prompt needs from a ticket, independent of Django."""

    titulo: str
    descripcion: str
    tipo: str = "feature"
    archivos_modificar: list[str] = field(default_factory=list)
    archivos_referencia: list[str] = field(default_factory=list)
    patrones_obligatorios: list[str] = field(default_factory=list)
    contexto_cipher: str = ""
    tests_requeridos: list[str] = field(default_factory=list)
    # Of the tests_requeridos that name a test (`path::test`): those in the worktree, and those to write.
    tests_present: list[str] = field(default_factory=list)
    tests_to_write: list[str] = field(default_factory=list)
    tests_changeable: list[str] = field(default_factory=list)  # existing, but in archivos_modificar: may evolve
    lessons: list[str] = field(default_factory=list)
    reviewer_feedback: str = ""
    # What an earlier model's run tried and why it failed, for the model the ticket was escalated to.
    earlier_runs: str = ""


@dataclass
class PromptInputs:
    brief: TicketBrief
    files_to_modify: dict[str, str | None]  # path -> current text, None = new file
    reference_files: dict[str, str | None]
    tree: str
    edit_format: EditFormat
    previous_failure: str = ""
    context_map: str = ""  # agent/codemap: signatures the files to modify use, and their callers


@dataclass
class Prompt:
    system: str
    user: str
    tokens: int
    notes: list[str]
    # Files sent as an outline and windows: a whole-file answer for one of them is refused.
    windowed: tuple[str, ...] = ()
    edit_format: str = ""  # the format the prompt asks for: "diff" whenever a file is windowed


class PromptTooLarge(Exception):
    """The task and the files to modify do not fit in the context window, even as outlines and windows."""


def output_reserve(inputs: PromptInputs, *, num_ctx: int) -> int:
    # A whole-file answer repeats the files; a diff answer is much smaller.
    modified = sum(count_tokens(text or "") for text in inputs.files_to_modify.values())
    wanted = int(modified * 1.2) + 1024 if inputs.edit_format == "whole" else modified // 2 + 1024
    return min(max(wanted, MIN_OUTPUT_TOKENS), num_ctx // 2)


def build_prompt(*, inputs: PromptInputs, system: str, num_ctx: int) -> Prompt:
    whole = files_section("Files to modify", inputs.files_to_modify, new_label="new file: create it")
    fitted = Fitted(files=whole, edit_format=inputs.edit_format,
                    reserve=output_reserve(inputs, num_ctx=num_ctx))
    if fixed_tokens(inputs, fitted) > num_ctx - fitted.reserve - count_tokens(system):
        fitted = fit_windowed(inputs, system=system, num_ctx=num_ctx)
    fixed = fixed_sections(inputs, fitted)
    budget = num_ctx - fitted.reserve - count_tokens(system)
    notes = list(fitted.notes)
    optional = fit_optional(inputs, budget=budget - sum(count_tokens(part) for part in fixed), notes=notes)
    user = "\n\n".join(part for part in [*fixed[:4], *optional, *fixed[4:]] if part)
    return Prompt(system=system, user=user, tokens=count_tokens(system) + count_tokens(user), notes=notes,
                  windowed=tuple(fitted.windowed), edit_format=fitted.edit_format)


@dataclass
class Fitted:
    """The files-to-modify section as sent, the answer format it needs and the output tokens kept free."""

    files: str
    edit_format: str
    reserve: int
    windowed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def fixed_sections(inputs: PromptInputs, fitted: Fitted) -> list[str]:
    return [
        task_section(inputs.brief),
        rules_section(inputs.brief),
        required_tests_section(inputs.brief),
        fitted.files,
        feedback_section(inputs.brief.reviewer_feedback),
        earlier_runs_section(inputs.brief.earlier_runs),
        failure_section(inputs.previous_failure),
        "## Answer format\n" + format_instructions(fitted.edit_format),  # type: ignore[arg-type]
    ]


def fixed_tokens(inputs: PromptInputs, fitted: Fitted) -> int:
    return sum(count_tokens(part) for part in fixed_sections(inputs, fitted))


def fit_windowed(inputs: PromptInputs, *, system: str, num_ctx: int) -> Fitted:
    """The richest level at which windowing the fewest (biggest) files fits; PromptTooLarge when none does."""
    focus = ticket_focus(inputs)
    biggest = sorted((path for path, text in inputs.files_to_modify.items() if text is not None),
                     key=lambda path: -len(inputs.files_to_modify[path] or ""))
    for level in LEVELS:
        for count in range(1, len(biggest) + 1):
            fitted = windowed_fit(inputs, paths=biggest[:count], focus=focus, level=level, num_ctx=num_ctx)
            if fixed_tokens(inputs, fitted) <= num_ctx - fitted.reserve - count_tokens(system):
                return fitted
    raise PromptTooLarge(too_large_message(inputs, system=system, num_ctx=num_ctx, focus=focus, paths=biggest))


def ticket_focus(inputs: PromptInputs) -> Focus:
    brief = inputs.brief
    return focus_for(texts=[brief.titulo, brief.descripcion, brief.reviewer_feedback],
                     tests=brief.tests_requeridos, failure=inputs.previous_failure)


def windowed_fit(inputs: PromptInputs, *, paths: list[str], focus: Focus, level: Level, num_ctx: int) -> Fitted:
    shown = {path: windowed_file(path, inputs.files_to_modify[path] or "", focus=focus, level=level,
                                 fence_language=fence_language(path)) for path in paths}
    files = files_section("Files to modify", inputs.files_to_modify, new_label="new file: create it",
                          windowed=shown)
    # The answer repeats at most the windows (and the files shown whole), never the outlines.
    answerable = sum(count_tokens(text or "") for path, text in inputs.files_to_modify.items() if path not in shown)
    answerable += sum(int(item.window_chars / CHARS_PER_TOKEN) for item in shown.values())
    reserve = min(max(answerable // 2 + 1024, MIN_OUTPUT_TOKENS), num_ctx // 2)
    notes = [f"Sent {path} as an outline and lines {describe(item.ranges)} ({level.outline} outline): "
             f"whole, the files to modify do not fit num_ctx={num_ctx}." for path, item in shown.items()]
    return Fitted(files=files, edit_format="diff", reserve=reserve, windowed=list(paths), notes=notes)


def too_large_message(inputs: PromptInputs, *, system: str, num_ctx: int, focus: Focus, paths: list[str]) -> str:
    smallest = windowed_fit(inputs, paths=paths, focus=focus, level=MINIMAL, num_ctx=num_ctx)
    needed = fixed_tokens(inputs, smallest) + count_tokens(system)
    room = num_ctx - smallest.reserve
    parts = {"the task (title, description, rules, required tests, feedback)":
             sum(count_tokens(part) for part in fixed_sections(inputs, smallest)[:3])}
    parts.update({f"{path} as outline and minimal windows":
                  count_tokens(windowed_file(path, inputs.files_to_modify[path] or "", focus=focus, level=MINIMAL,
                                             fence_language="").text) for path in paths})
    sizes = ", ".join(f"{name} about {tokens}" for name, tokens in parts.items())
    return (f"Fix the ticket: it needs about {needed} tokens even with the files to modify sent as outlines and "
            f"minimal windows, but only {room} fit in num_ctx={num_ctx} (with {smallest.reserve} kept for the "
            f"answer). Sizes in tokens: {sizes}. Split the ticket so fewer or smaller files are modified, shorten "
            "its description, or raise FACTORY_NUM_CTX if the model has a larger context.")


CUT_ORDER = ("tree", "references", "code map", "lessons", "context")  # least valuable first
SHOWN_ORDER = ("code map", "context", "lessons", "references", "tree")


def fit_optional(inputs: PromptInputs, *, budget: int, notes: list[str]) -> list[str]:
    """Reference material in order of value; what does not fit is cut, least valuable first."""
    brief = inputs.brief
    sections = {
        "code map": code_map_section(inputs.context_map),
        "context": section("Pre-loaded context", brief.contexto_cipher),
        "lessons": bullets("Lessons from earlier tickets (shared memory)", brief.lessons),
        "references": files_section("Reference files (imitate their patterns)", inputs.reference_files,
                                    new_label="does not exist"),
        "tree": section("Repository layout", inputs.tree),
    }
    for name in CUT_ORDER:
        if sum(count_tokens(text) for text in sections.values()) <= budget:
            break
        overflow = sum(count_tokens(text) for text in sections.values()) - budget
        sections[name] = shrink(sections[name], drop_tokens=overflow)
        notes.append(f"Cut {name} to fit num_ctx (about {overflow} tokens over budget).")
    return [sections[name] for name in SHOWN_ORDER]


def code_map_section(context_map: str) -> str:
    if not context_map.strip():
        return ""
    return section("Code around the files to modify (signatures from other files, and their callers)",
                   "Use these exact names and parameters, and keep these callers working. Only signatures are "
                   "shown here, not whole files: do not rewrite those files from them.\n" + context_map)


def shrink(text: str, *, drop_tokens: int) -> str:
    keep_chars = max(0, len(text) - int(drop_tokens * CHARS_PER_TOKEN) - 200)
    if keep_chars < 400:
        return ""
    kept = text[:keep_chars]
    kept = kept.rsplit("\n", 1)[0] if "\n" in kept else kept  # whole lines: a half signature misleads
    return kept + "\n[... cut to fit the model's context window ...]"


def section(title: str, body: str) -> str:
    body = (body or "").strip()
    return f"## {title}\n{body}" if body else ""


def bullets(title: str, items: list[str]) -> str:
    return section(title, "\n".join(f"- {item}" for item in items if item.strip()))


def task_section(brief: TicketBrief) -> str:
    return f"## Ticket ({brief.tipo}): {brief.titulo}\n{brief.descripcion.strip()}"


def rules_section(brief: TicketBrief) -> str:
    return bullets("Hard rules (mandatory)", brief.patrones_obligatorios)


def required_tests_section(brief: TicketBrief) -> str:
    if not brief.tests_requeridos:
        return ""
    named = {*brief.tests_present, *brief.tests_to_write}
    parts = [
        ("These already exist and are the contract: make them pass by fixing the code; do not change or delete "
         "them.", [case for case in brief.tests_present if case not in brief.tests_changeable]),
        ("These already exist and their file is yours to modify: you may update them for this change (new cases, "
         "updated assertions) but not delete them; they must pass. The reviewer sees each change to them first.",
         brief.tests_changeable),
        ("These do not exist yet: add each one, with exactly this file and name (next to the tests already in the "
         "file, leaving those as they are). They must pass.", brief.tests_to_write),
        ("Write a test for each case below; all of them must pass. Once written they are the contract: do not "
         "weaken them later.", [case for case in brief.tests_requeridos if case.strip() not in named]),
    ]
    body = "\n\n".join(head + "\n" + "\n".join(f"- {case}" for case in cases) for head, cases in parts if cases)
    return f"## Required tests\n{body}"


def files_section(title: str, files: dict[str, str | None], *, new_label: str,
                  windowed: dict[str, Windowed] | None = None) -> str:
    if not files:
        return ""
    blocks = []
    for path, text in files.items():
        if windowed and path in windowed:
            blocks.append(windowed[path].text)
        elif text is None:
            blocks.append(f"{path}\n({new_label})")
        else:
            fence = "````" if "```" in text else "```"  # a file holding fences must not close ours
            ending = "" if text.endswith("\n") else "\n"
            blocks.append(f"{path}\n{fence}{fence_language(path)}\n{text}{ending}{fence}")
    return f"## {title}\n" + "\n\n".join(blocks)


def fence_language(path: str) -> str:
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    return {"py": "python", "js": "javascript", "ts": "typescript", "md": "markdown", "json": "json",
            "sh": "bash", "html": "html", "css": "css", "yml": "yaml", "yaml": "yaml"}.get(suffix, "")


def feedback_section(feedback: str) -> str:
    return section("Reviewer feedback on your previous work (address all of it)", feedback)


def earlier_runs_section(earlier: str) -> str:
    return section("An earlier run with another model failed (the worktree was reset; do better)", earlier)


def failure_section(failure: str) -> str:
    if not failure:
        return ""
    return ("## Your previous attempt failed\nThe files above show their CURRENT content, including your previous "
            "edits. Fix the cause below. The tests are correct and must not be weakened, skipped or deleted.\n\n"
            + failure.strip())
