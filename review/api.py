"""Review actions in the API, for the architect: approve, request changes, re-run on the new base, cancel."""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from restkit.fields import RefusesUnknownFields, StrictCharField
from tickets import decisions, roles
from tickets.api import (
    CONFLICT_SCHEMA,
    ERROR_SCHEMA,
    IsReviewer,
    approval_response,
    detail_response,
    get_ticket_or_404,
)
from tickets.serializers import TicketDetailSerializer

ERROR = ERROR_SCHEMA
CONFLICT = CONFLICT_SCHEMA


class ApproveInput(RefusesUnknownFields, serializers.Serializer):
    head = StrictCharField(required=False, max_length=64, help_text=(
        "The head commit you reviewed (codigo_generado.head); when the ticket has changed since, nothing "
        "is merged and the answer is 409."))


class CommentInput(RefusesUnknownFields, serializers.Serializer):
    comentario = StrictCharField(allow_blank=False, trim_whitespace=True)


class OptionalCommentInput(RefusesUnknownFields, serializers.Serializer):
    comentario = StrictCharField(required=False, allow_blank=True, trim_whitespace=True, default="")


def validated(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    if not isinstance(request.data, dict):
        raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class TicketApproveApi(APIView):
    """Merge the ticket branch into the project's default branch with a merge commit and push it.

    Only a completed ticket can be approved, and only once: a second approve answers 409.
    """

    permission_classes = [IsReviewer]

    @extend_schema(request=ApproveInput, responses={
        200: TicketDetailSerializer,
        409: OpenApiResponse(CONFLICT, description="Not completed, already merged, changed since, or the "
                                                   "merge conflicts (nothing pushed; files listed)."),
        502: OpenApiResponse(ERROR, description="A git step (fetch, merge, push) failed; nothing changed."),
        503: OpenApiResponse(ERROR, description="The database is unavailable; a merge already pushed is recorded "
                                                "by itself once it is back (never merged twice)."),
    })
    def post(self, request: Request, ticket_id: str) -> Response:
        ticket = get_ticket_or_404(ticket_id)
        return approval_response(request=request, ticket=ticket, head=validated(ApproveInput, request).get("head"))


class TicketRequestChangesApi(APIView):
    """Send a completed or failed ticket back to the agent; `comentario` is given to its next run."""

    permission_classes = [IsReviewer]

    @extend_schema(request=CommentInput, responses={200: TicketDetailSerializer, 409: ERROR})
    def post(self, request: Request, ticket_id: str) -> Response:
        ticket = get_ticket_or_404(ticket_id)
        comment = validated(CommentInput, request)["comentario"]
        return detail_response(decisions.request_changes(ticket=ticket, user=roles.signed_in(request.user), comment=comment), request)


class TicketRerunApi(APIView):
    """After a merge conflict: redo the change from the current default branch, told which files conflicted."""

    permission_classes = [IsReviewer]

    @extend_schema(request=OptionalCommentInput, responses={200: TicketDetailSerializer, 409: ERROR})
    def post(self, request: Request, ticket_id: str) -> Response:
        ticket = get_ticket_or_404(ticket_id)
        note = validated(OptionalCommentInput, request)["comentario"]
        return detail_response(decisions.rerun_on_new_base(ticket=ticket, user=roles.signed_in(request.user), note=note), request)


class TicketCancelApi(APIView):
    """Cancel a ticket that is not merged or cancelled yet; `comentario` is recorded as the reason."""

    permission_classes = [IsReviewer]

    @extend_schema(request=OptionalCommentInput, responses={200: TicketDetailSerializer, 409: ERROR})
    def post(self, request: Request, ticket_id: str) -> Response:
        ticket = get_ticket_or_404(ticket_id)
        reason = validated(OptionalCommentInput, request)["comentario"]
        return detail_response(decisions.cancel(ticket=ticket, user=roles.signed_in(request.user), reason=reason), request)
