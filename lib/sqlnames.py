"""Database names of model fields, for the few statements written as SQL (token authentication, memory rows)."""


def column(field: object) -> str:
    """A concrete field's column. Django's stubs allow None (a relation has none); every field named in those
    statements is concrete, so a missing column is a programming error, said here rather than as bad SQL."""
    name = getattr(field, "column", None)
    if not isinstance(name, str):
        raise LookupError(f"{field!r} has no database column")
    return name
