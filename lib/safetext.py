"""Text that PostgreSQL and a page can always hold, from any bytes a model, a test or git produced.

PostgreSQL refuses NUL in text and in jsonb, and psycopg refuses the lone surrogates that Python's
surrogateescape leaves for bytes that are not UTF-8 (git output, file names): either used to crash the
attempt's bookkeeping. Bytes that are not UTF-8 are shown as \\xNN escapes and NUL as \\x00; the exact bytes
stay in git, where the raw diff download reads them.
"""
from typing import Any


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


def cleaned(value: Any) -> Any:
    """`value` with every string in it (dict keys, list items) made storable by clean()."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {cleaned(key): cleaned(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [cleaned(item) for item in value]
    return value
