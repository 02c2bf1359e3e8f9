"""The review queue and the review page, for staff; every decision goes through tickets.decisions."""
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from lib import diffpage, diffview
from lib.outcomes import Outcome
from lib.testresults import format_seconds, test_view
from tickets import changes, roles, selectors
from tickets import decisions as review
from tickets.models import FailureKind, Ticket, TicketAttempt, TicketEvent
from tickets.states import FINAL, RUNNABLE, State, TransitionError

# Applied files listed per attempt; an answer may write 10,000 (the diff lists them all).
EDITS_SHOWN = 100
# States in which the agent will change the ticket by itself: the page watches for that.
LIVE_STATES = frozenset({*RUNNABLE, State.IN_PROGRESS})


# No inline script or style: the page's script and stylesheets are files of this site (Pygments' rules too).
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                           "frame-ancestors 'none'")


def with_content_security_policy(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response
    return guarded


def load_ticket(ticket_id) -> Ticket:
    try:
        return selectors.review_ticket(ticket_id=ticket_id)
    except Ticket.DoesNotExist:
        raise Http404("No such ticket.") from None


# Pages -------------------------------------------------------------------------


@with_content_security_policy
@staff_member_required
@require_safe
def review_queue(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    rows = [{"ticket": ticket, "tests": test_view(ticket.tests_resultado), "size": change_size(ticket),
             "waiting": format_seconds((now - (ticket.completado_en or ticket.creado_en)).total_seconds())}
            for ticket in selectors.review_queue()]
    return render(request, "review/review_queue.html", {"rows": rows, "can_review": roles.can_review(request.user)})


@with_content_security_policy
@staff_member_required
@require_safe
def review_ticket(request: HttpRequest, ticket_id) -> HttpResponse:
    ticket = load_ticket(ticket_id)
    page = changes.page(ticket)
    events = list(ticket.events.all())
    context = {
        "ticket": ticket,
        "files": page.files,
        "hidden_files": page.hidden,
        "raw_diff_url": reverse("review-diff-raw", args=[ticket.pk]),
        "fold_lines": diffview.FOLD_LINES,
        "stats": page.stats,
        "tests": test_view(ticket.tests_resultado),
        "attempts": [attempt_view(attempt) for attempt in ticket.attempts.all()],
        "events": events,
        "last_feedback": last_feedback(events),
        "conflicts": selectors.merge_conflicts(ticket=ticket),
        "merge_commit": merge_commit(ticket, events),
        "head": review.head_of(ticket),
        "can_review": roles.can_review(request.user),
        "actions": available_actions(ticket),
        "project_problem": project_problem(ticket),
        "manifests_changed": list(ticket.change.dependency_manifests_changed),
        "live": ticket.estado in LIVE_STATES,
        "progress": progress_data(ticket),
    }
    return render(request, "review/review_ticket.html", context)


@with_content_security_policy
@staff_member_required
@require_safe
def review_file(request: HttpRequest, ticket_id) -> HttpResponse:
    """One file's diff, drawn like the page's: what a folded file loads when opened."""
    ticket = load_ticket(ticket_id)
    path = request.GET.get("path", "")
    if not path or "\x00" in path:
        return HttpResponse("Say which file: ?path=", status=400, content_type="text/plain; charset=utf-8")
    found = changes.file_diff(ticket, path=path)
    entry = ticket.change.file(path) or {"path": path}
    parsed = diffview.parse_diff(found.text)
    diff_file = diffpage.with_entry(parsed[0] if parsed else diffpage.stub(entry, url=""), entry)
    diff_file.lazy_url = ""
    raw_url = f"{reverse('review-diff-raw', args=[ticket.pk])}?{urlencode({'path': path})}"
    return render(request, "diff/_file.html", {"file": diff_file, "index": request.GET.get("index", "x"),
                                               "fold_lines": diffview.FOLD_LINES, "open": True,
                                               "truncated": found.truncated, "raw_url": raw_url})


@staff_member_required
@require_safe
def review_diff_raw(request: HttpRequest, ticket_id) -> HttpResponse | StreamingHttpResponse:
    """The branch's whole diff (or one file's, ?path=) as git's exact bytes, downloaded."""
    ticket = load_ticket(ticket_id)
    path = request.GET.get("path", "")
    if "\x00" in path:
        return HttpResponse("The path contains a NUL byte.", status=400, content_type="text/plain; charset=utf-8")
    return changes.raw_diff(ticket, path=path, filename=f"ticket-{ticket.short_id}.diff")


@require_safe
def pygments_stylesheet(request: HttpRequest) -> HttpResponse:
    """The diff's syntax colours, as a stylesheet file the Content-Security-Policy allows."""
    response = HttpResponse(diffview.pygments_css(), content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_safe
def review_progress(request: HttpRequest, ticket_id) -> JsonResponse:
    """Polled by the review page every 2 s while the agent may change the ticket."""
    if not (request.user.is_active and request.user.is_staff):
        return JsonResponse({"detail": "Staff login required."}, status=403)
    try:
        ticket = Ticket.objects.get(pk=ticket_id)
    except Ticket.DoesNotExist:
        return JsonResponse({"detail": "No such ticket."}, status=404)
    return JsonResponse(progress_data(ticket))


# Decisions ---------------------------------------------------------------------


def approve(request: HttpRequest, ticket: Ticket, expected_state: str) -> None:
    result = review.approve(ticket=ticket, user=roles.signed_in(request.user), expected_state=expected_state,
                            expected_head=request.POST.get("expected_head", ""))
    target = ticket.project.default_branch
    if result.merged:
        messages.success(request, f"Approved: {ticket.branch_name} was merged into {target} as "
                                  f"{result.commit[:10]} and pushed.")
    elif result.conflicts:
        messages.error(request, f"Not merged: {target} has moved and the merge conflicts in "
                                f"{', '.join(result.conflicts)}. Nothing was pushed and the ticket is still "
                                "awaiting review; re-run it on the new base or request changes.")
    else:
        messages.error(request, f"Not merged: {result.message}")


def request_changes(request: HttpRequest, ticket: Ticket, expected_state: str) -> None:
    review.request_changes(ticket=ticket, user=roles.signed_in(request.user), comment=request.POST.get("comentario", ""),
                           expected_state=expected_state)
    messages.success(request, "Changes requested: the ticket is back in the agent's queue with your comment.")


def rerun(request: HttpRequest, ticket: Ticket, expected_state: str) -> None:
    review.rerun_on_new_base(ticket=ticket, user=roles.signed_in(request.user), note=request.POST.get("comentario", ""),
                             expected_state=expected_state)
    messages.success(request, "Sent back to the agent to redo the change on the current "
                              f"{ticket.project.default_branch}.")


def retry(request: HttpRequest, ticket: Ticket, expected_state: str) -> None:
    review.retry(ticket=ticket, user=roles.signed_in(request.user), expected_state=expected_state)
    messages.success(request, "Sent back to the agent's queue as it is.")


def cancel(request: HttpRequest, ticket: Ticket, expected_state: str) -> None:
    review.cancel(ticket=ticket, user=roles.signed_in(request.user), reason=request.POST.get("comentario", ""),
                  expected_state=expected_state)
    messages.success(request, "Ticket cancelled.")


ACTIONS: dict[str, Callable[[HttpRequest, Ticket, str], None]] = {
    "approve": approve, "request-changes": request_changes, "rerun": rerun, "retry": retry, "cancel": cancel,
}


@staff_member_required
@require_POST
def review_action(request: HttpRequest, ticket_id, action: str) -> HttpResponse:
    handler = ACTIONS.get(action)
    if handler is None:
        raise Http404("Unknown review action.")
    ticket = load_ticket(ticket_id)
    expected_state = request.POST.get("expected_state", "")
    if not expected_state:
        messages.error(request, "Nothing was done: the form did not say which version of the ticket it was "
                                "made for. Reload the page and try again.")
        return redirect("review-ticket", ticket_id=ticket.pk)
    try:
        handler(request, ticket, expected_state)
    except review.StaleDecision as exc:
        messages.warning(request, str(exc))
    except (PermissionDenied, TransitionError, ValueError) as exc:
        messages.error(request, str(exc))
    except DataError:  # the service's transaction was rolled back: nothing changed
        messages.error(request, "Nothing was done: the comment contains characters that cannot be stored (for "
                                "example a NUL byte). Remove them and try again.")
    return redirect("review-ticket", ticket_id=ticket.pk)


# Presentation helpers ----------------------------------------------------------


def available_actions(ticket: Ticket) -> dict[str, bool]:
    return {
        "approve": ticket.estado == State.COMPLETED,
        "request_changes": ticket.estado in review.REVIEWABLE and not project_problem(ticket),
        "rerun": ticket.estado == State.COMPLETED,
        "retry": ticket.estado in (State.FAILED, State.CANCELLED),
        "cancel": ticket.estado not in FINAL,
    }


def project_problem(ticket: Ticket) -> bool:
    """The run failed for a reason the project must fix: the model is not to blame, so no comment for it."""
    return ticket.estado == State.FAILED and ticket.failure_kind == FailureKind.PROJECT


def merge_commit(ticket: Ticket, events: list[TicketEvent]) -> str:
    if ticket.estado != State.MERGED:
        return ""
    merged = [event for event in events if event.kind == TicketEvent.Kind.STATE and event.to_state == State.MERGED]
    return merged[-1].data.get("merge_commit", "") if merged else ""


def last_feedback(events: list[TicketEvent]) -> TicketEvent | None:
    comments = [event for event in events if event.kind == TicketEvent.Kind.COMMENT and event.data.get("feedback")]
    return comments[-1] if comments else None


def progress_data(ticket: Ticket) -> dict:
    now = timezone.now()
    attempts = selectors.run_attempts(ticket=ticket) if ticket.estado == State.IN_PROGRESS else []
    current = attempts[-1] if attempts else None
    return {
        "estado": ticket.estado,
        "estado_label": ticket.get_estado_display(),
        "attempt": len(attempts) or None,
        "max_attempts": settings.FACTORY_MAX_ATTEMPTS,
        "phase": current.phase if current else "",
        "outcome": current.outcome if current else "",
        "attempt_elapsed_s": round((now - current.started_at).total_seconds(), 1) if current else None,
        "run_elapsed_s": (round((now - ticket.iniciado_en).total_seconds(), 1)
                          if ticket.estado == State.IN_PROGRESS and ticket.iniciado_en else None),
    }


def change_size(ticket: Ticket) -> dict[str, int]:
    code = ticket.change
    return {"files": len(code.files), "added": code.lines_added, "removed": code.lines_removed}


def attempt_view(attempt: TicketAttempt) -> dict:
    edits = attempt.edit_results or {}
    return {
        "attempt": attempt,
        "tests": test_view(attempt.test_result),
        "applied": (edits.get("applied") or [])[:EDITS_SHOWN],
        "applied_more": max(0, len(edits.get("applied") or []) - EDITS_SHOWN),
        "failed": edits.get("failed") or [],
        "syntax_errors": edits.get("syntax_errors") or [],
        "tokens": f"{attempt.prompt_tokens or 0:,} in · {attempt.eval_tokens or 0:,} out",
        "model_time": format_seconds(attempt.model_seconds),
        "test_time": format_seconds(attempt.test_seconds),
        "total_time": format_seconds(attempt.total_seconds),
        "tone": outcome_tone(attempt.outcome),
        "candidates": [{**candidate, "tone": "good" if candidate.get("chosen") else ""}
                       for candidate in attempt.candidates or []],
    }


def outcome_tone(outcome: str) -> str:
    if outcome == Outcome.PASSED:
        return "good"
    if outcome == Outcome.RUNNING:
        return "busy"
    return "bad"
