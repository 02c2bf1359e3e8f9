"""Text that PostgreSQL and a page can always hold, from any bytes a model, a test or git produced: the one rule.

PostgreSQL refuses NUL in text and in jsonb, and psycopg refuses the lone surrogates that Python's
surrogateescape leaves for bytes that are not UTF-8 (git output, file names): either used to crash the
attempt's bookkeeping. NUL is always written as the four characters \\x00. Bytes that are not UTF-8 take one
of two forms, each kept where it is because stored rows already hold it:

- escaped, \\xNN (from_bytes, clean): git's text (diffs, paths, its messages) and every field an attempt stores
  (agent.services). A path or a diff line stays readable byte for byte; the exact bytes stay in git, where the
  raw diff download reads them.
- replaced, U+FFFD (replaced): what a test run printed and the test names and messages its reports hold
  (agent.testruns.command, .suite, agent.worker.baseline). Stored baselines key their outcomes by these test names
  and stored results show them so: another form would make such a test look new beside an older baseline. In
  the model's next prompt a U+FFFD cannot be mistaken for source text to copy either.

cleaned() walks a result (dicts, lists, strings) in either form. clean() leaves replaced text as it is, so a run's
result passes through the attempt's storage unchanged.
"""
from collections.abc import Callable
from typing import TypeVar, cast

Shaped = TypeVar("Shaped")


def from_bytes(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")


def clean(text: str) -> str:
    """`text` with NUL and surrogates escaped; the same string when it has neither (the common case)."""
    if text.isascii():
        return text.replace("\x00", "\\x00") if "\x00" in text else text
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate from elsewhere (a JSON \ud800): kept visible, escaped
        data = text.encode("utf-8", "backslashreplace")
    return from_bytes(data)


def replaced(data: bytes | str) -> str:
    """Any bytes (or text with lone surrogates) with invalid UTF-8 replaced by U+FFFD and NUL written as \\x00."""
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    return data.decode("utf-8", "replace").replace("\x00", "\\x00")


def cleaned(value: Shaped, *, form: Callable[[str], str] = clean) -> Shaped:
    """`value` with every string in it (dict keys, list items) made storable by `form` (clean, or replaced);
    the same shape, except that a tuple comes back as a list, as JSON would have it."""
    return cast(Shaped, _walk(value, form))


def _walk(value: object, form: Callable[[str], str]) -> object:
    if isinstance(value, str):
        return form(value)
    if isinstance(value, dict):
        return {_walk(key, form): _walk(item, form) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_walk(item, form) for item in value]
    return value
