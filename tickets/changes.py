"""A ticket's change read from the project's repository: the raw diff streamed, one file's diff, the API's summary.

The agent stores a bounded preview of the diff and the file list (codigo_generado); the commits are in the
project's clone under FACTORY_DATA_DIR, so anything bigger is read from git when asked. When git cannot
answer (the clone is gone, another machine), the stored preview is served and says it is one.
"""
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import reverse

from lib import diffpage, diffsource
from lib.diffsource import DiffUnavailable
from tickets.models import Ticket
from tickets.repos import project_repo

API_FILES = 500  # files listed in GET /tickets/<id>; the raw diff has them all
PREVIEW_HEADER = "X-Factory-Diff"


def source(ticket: Ticket) -> tuple[Path, str, str] | None:
    commits = ticket.change.commits
    if commits is None:
        return None
    return project_repo(ticket.project).path, *commits


def raw_diff(ticket: Ticket, *, path: str = "", filename: str = "") -> HttpResponse | StreamingHttpResponse:
    """`git diff base head` (for one path when given) as its exact bytes, streamed."""
    found = source(ticket)
    try:
        if found is None:
            raise DiffUnavailable("the ticket names no base and head commits")
        chunks: Iterator[bytes] = diffsource.stream(*found, paths=(path,) if path else ())
    except DiffUnavailable:
        response = HttpResponse(stored_preview(ticket, path=path), content_type="text/x-diff; charset=utf-8")
        response[PREVIEW_HEADER] = "stored-preview"
        return response
    streamed = StreamingHttpResponse(chunks, content_type="text/x-diff")
    if filename:
        streamed["Content-Disposition"] = f'attachment; filename="{filename}"'
    return streamed


def file_diff(ticket: Ticket, *, path: str) -> diffsource.Bounded:
    """One file's diff as safe text, bounded like the stored preview (past it, the raw download)."""
    found = source(ticket)
    limit = settings.FACTORY_STORED_DIFF_KB * 1024
    if found is None:
        return diffsource.Bounded(text=stored_preview(ticket, path=path), truncated=False)
    try:
        return diffsource.bounded(*found, limit=limit, paths=(path,))
    except DiffUnavailable:
        return diffsource.Bounded(text=stored_preview(ticket, path=path), truncated=False)


def stored_preview(ticket: Ticket, *, path: str = "") -> str:
    text = ticket.change.diff
    if not path:
        return text
    # The preview's part for one path: from its header to the next file's.
    parts = text.split("\ndiff --git ")
    parts = [parts[0]] + ["diff --git " + part for part in parts[1:]]
    return "".join(part + "\n" for part in parts if f" b/{path}" in part.split("\n", 1)[0])


def summary(ticket: Ticket, *, file_link: Callable[[str], str]) -> dict[str, Any] | None:
    """codigo_generado as the API shows it: no diff text, the first API_FILES files each with its diff's link;
    None before the agent stored a change."""
    if not ticket.codigo_generado:
        return None
    code = ticket.change
    shown = {key: value for key, value in code.to_json().items() if key != "diff"}
    shown["files"] = [{**entry, "diff": file_link(entry["path"])} for entry in code.files[:API_FILES]]
    shown["files_total"] = len(code.files)
    return shown


def page(ticket: Ticket) -> diffpage.ChangePage:
    """The change as the review page and the admin draw it: the preview's files while they fit, folded stubs that
    load from the review-file view after."""
    code = ticket.change
    base = reverse("review-file", args=[ticket.pk])
    return diffpage.change_page(preview=code.diff, truncated=code.diff_truncated, entries=code.files,
                                file_url=lambda path: f"{base}?{urlencode({'path': path})}")


def shown_summary(ticket: Ticket) -> dict | None:
    """summary() with links relative to this site: what the admin shows of the stored JSON."""
    diff = reverse("api-ticket-diff", kwargs={"ticket_id": ticket.pk})
    return summary(ticket, file_link=lambda path: f"{diff}?{urlencode({'path': path})}")
