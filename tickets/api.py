"""REST API for projects and tickets. Views only translate HTTP to services and selectors."""
import uuid

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import QuerySet
from django.http import Http404, HttpResponse, QueryDict, StreamingHttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from restkit.pagination import FactoryPagination
from restkit.params import given_params
from restkit.parsers import BodyTooLarge
from tickets import batch, batch_input, changes, decisions, roles, selectors, services
from tickets.errors import DATABASE_RETRY_AFTER_S, DATABASE_UNAVAILABLE, IdempotencyConflict, InvalidInput
from tickets.models import Project, Ticket
from tickets.serializers import (
    ProjectSerializer,
    TicketDetailSerializer,
    TicketListSerializer,
    TicketPatchSerializer,
    TicketWriteSerializer,
)
from tickets.states import State, TransitionError, check_transition

ERROR_SCHEMA = inline_serializer("Error", {"detail": serializers.CharField()})
CONFLICT_SCHEMA = inline_serializer("MergeConflict", {
    "detail": serializers.CharField(),
    "conflicts": serializers.ListField(child=serializers.CharField(), required=False,
                                       help_text="The conflicting files, when the merge itself conflicted."),
})
IDEMPOTENCY_REUSED = OpenApiResponse(ERROR_SCHEMA, description="The Idempotency-Key was used for another body.")


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class DatabaseUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = DATABASE_UNAVAILABLE
    default_code = "database_unavailable"


class UnprocessableEntity(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "unprocessable"


def exception_handler(exc, context):
    """DRF's handler, plus the factory's own errors mapped to clear 4xx answers."""
    if isinstance(exc, TransitionError):
        exc = Conflict(str(exc))
    elif isinstance(exc, IdempotencyConflict):
        exc = UnprocessableEntity(str(exc))
    elif isinstance(exc, InvalidInput):
        exc = exceptions.ValidationError(exc.errors)
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, DataError):
        exc = exceptions.ValidationError({"detail": ["The request contains characters or values the database "
                                                     "cannot store (for example a NUL byte)."]})
    elif isinstance(exc, RequestDataTooBig):
        exc = BodyTooLarge(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    elif isinstance(exc, IntegrityError):
        exc = Conflict("The change conflicts with existing data; reload and try again.")
    elif isinstance(exc, (OperationalError, InterfaceError)):
        exc = DatabaseUnavailable()
    response = drf_exception_handler(exc, context)
    if isinstance(exc, DatabaseUnavailable) and response is not None:  # DRF answers every APIException
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
    if response is not None and isinstance(response.data, list):
        response.data = {"non_field_errors": response.data}  # every error answer is an object
    return response


class IsArchitect(BasePermission):
    message = "Only users with the 'architect' role can create or change tickets and projects."

    def has_permission(self, request, view) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return bool(request.user and request.user.is_authenticated)
        return roles.can_write_tickets(request.user)


class IsReviewer(BasePermission):
    message = "Only users with the 'reviewer' or 'architect' role can review tickets."

    def has_permission(self, request, view) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return bool(request.user and request.user.is_authenticated)
        return roles.can_review(request.user)


def get_ticket_or_404(ticket_id: str) -> Ticket:
    try:
        return selectors.ticket_detail(ticket_id=uuid.UUID(str(ticket_id)))
    except (ValueError, Ticket.DoesNotExist):
        raise Http404(f"No ticket with id {ticket_id!r}.") from None


def detail_response(ticket: Ticket, request: Request, *, code: int = status.HTTP_200_OK,
                    loaded: bool = False) -> Response:
    """loaded: `ticket` came from selectors.ticket_detail or was just created (no reload needed)."""
    fresh = ticket if loaded else selectors.ticket_detail(ticket_id=ticket.pk)
    return Response(TicketDetailSerializer(fresh, context={"request": request}).data, status=code)


class ProjectListApi(APIView):
    permission_classes = [IsArchitect]

    @extend_schema(responses=ProjectSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(ProjectSerializer(selectors.project_list(), many=True).data)

    @extend_schema(request=ProjectSerializer, responses={201: ProjectSerializer})
    def post(self, request: Request) -> Response:
        serializer = ProjectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = services.create_project(**serializer.validated_data)
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailApi(APIView):
    permission_classes = [IsArchitect]

    def get_project(self, name: str) -> Project:
        try:
            return Project.objects.get(name=name)
        except Project.DoesNotExist:
            raise Http404(f"No project named {name!r}.") from None

    @extend_schema(responses=ProjectSerializer)
    def get(self, request: Request, name: str) -> Response:
        return Response(ProjectSerializer(self.get_project(name)).data)

    @extend_schema(request=ProjectSerializer, responses=ProjectSerializer)
    def patch(self, request: Request, name: str) -> Response:
        project = self.get_project(name)
        if isinstance(request.data, dict) and request.data.get("name", name) != name:
            # Memory items and ticket branches refer to the project by name.
            raise exceptions.ValidationError({"name": ["A project cannot be renamed."]})
        serializer = ProjectSerializer(project, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        project = services.update_project(project=project, changes=serializer.validated_data)
        return Response(ProjectSerializer(project).data)


def resolve_project(validated: dict) -> Project:
    project = validated.pop("project", None) or selectors.only_project()
    if project is None:
        count = Project.objects.count()
        reason = "no project exists yet; create one first" if count == 0 else f"there are {count} projects"
        raise exceptions.ValidationError({"project": [f"This field is required: {reason}."]})
    return project


class TicketListApi(APIView):
    permission_classes = [IsArchitect]
    # Read by the schema generator too: the query parameters and the page around the results.
    queryset = Ticket.objects.none()
    filterset_class = selectors.TicketFilter
    filter_backends = [DjangoFilterBackend]
    pagination_class = FactoryPagination

    @extend_schema(responses=TicketListSerializer(many=True))
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(self.filtered(given_params(request)), request, view=self)
        data = TicketListSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    def filtered(self, params: QueryDict) -> QuerySet:
        if not any(name in params for name in self.filterset_class.base_filters):
            return selectors.ticket_list()  # what the filter set gives without a filter, without its form's cost
        ticket_filter = self.filterset_class(params, queryset=selectors.ticket_list())
        if not ticket_filter.is_valid():
            raise exceptions.ValidationError(ticket_filter.errors)
        return ticket_filter.qs

    @extend_schema(request=TicketWriteSerializer, responses={201: TicketDetailSerializer, 422: IDEMPOTENCY_REUSED})
    def post(self, request: Request) -> Response:
        serializer = TicketWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        project = resolve_project(fields)
        ticket, created = services.create_ticket(
            actor=roles.signed_in(request.user),
            project=project,
            fields=fields,
            depende_de=fields.pop("depende_de", []),
            idempotency_key=idempotency_key(request),
            fingerprint=services.request_fingerprint(request.data),
        )
        response = detail_response(ticket, request, code=status.HTTP_201_CREATED, loaded=created)
        if not created:
            response["Idempotent-Replayed"] = "true"
        return response


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 200:
        raise exceptions.ValidationError({"Idempotency-Key": ["At most 200 characters."]})
    return key or None


class TicketDetailApi(APIView):
    permission_classes = [IsArchitect]

    @extend_schema(responses=TicketDetailSerializer)
    def get(self, request: Request, ticket_id: str) -> Response:
        return detail_response(get_ticket_or_404(ticket_id), request, loaded=True)

    @extend_schema(request=TicketPatchSerializer, responses={
        200: TicketDetailSerializer,
        409: OpenApiResponse(CONFLICT_SCHEMA, description="An illegal state change; or, for estado=merged, not "
                                                          "completed or the merge conflicts (files listed)."),
        502: OpenApiResponse(ERROR_SCHEMA, description="estado=merged: a git step (fetch, merge, push) failed."),
    })
    def patch(self, request: Request, ticket_id: str) -> Response:
        ticket = get_ticket_or_404(ticket_id)
        serializer = TicketPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        target = changes.pop("estado", None)
        comentario = changes.pop("comentario", "")
        moves = target is not None and target != ticket.estado
        if moves:
            check_transition(ticket.estado, target)  # refuse before any field changes
        with transaction.atomic():
            if changes:
                try:
                    ticket = services.update_ticket(ticket=ticket, actor=roles.signed_in(request.user), changes=changes)
                except ValueError as exc:
                    raise exceptions.ValidationError({"depende_de": [str(exc)]}) from None
            if moves and target != State.MERGED:
                ticket = change_state(ticket=ticket, target=target, user=roles.signed_in(request.user), comentario=comentario)
            elif comentario and not moves:
                services.add_comment(ticket=ticket, actor=roles.signed_in(request.user), text=comentario)
        if moves and target == State.MERGED:
            return approval_response(request=request, ticket=ticket, comment=comentario)
        return detail_response(ticket, request)


def approval_response(*, request: Request, ticket: Ticket, head: str | None = None, comment: str = "") -> Response:
    """Approve and answer: the ticket when merged, 409 with the files on a conflict, 502 when git failed."""
    result = decisions.approve(ticket=ticket, user=roles.signed_in(request.user), expected_head=head, comment=comment)
    if result.merged:
        return detail_response(result.ticket, request)
    if result.conflicts:
        detail = (f"Merging {ticket.branch_name} into {ticket.project.default_branch} conflicts; nothing was "
                  "pushed. POST .../rerun to redo the change on the new base.")
        return Response({"detail": detail, "conflicts": result.conflicts}, status=status.HTTP_409_CONFLICT)
    return Response({"detail": f"Nothing was merged: {result.message}"}, status=status.HTTP_502_BAD_GATEWAY)


def change_state(*, ticket: Ticket, target: str, user: User, comentario: str) -> Ticket:
    """PATCH estado: the same services as the review actions, so the same checks apply."""
    if target == State.PENDING:
        return services.retry(ticket=ticket, actor=user, message=comentario)
    if target == State.CANCELLED:
        return decisions.cancel(ticket=ticket, user=user, reason=comentario)
    if target == State.CHANGES_REQUESTED:
        if not comentario:
            raise exceptions.ValidationError({"comentario": ["Say what to change when requesting changes."]})
        return decisions.request_changes(ticket=ticket, user=user, comment=comentario)
    raise TransitionError(ticket.estado, target, f"only the agent moves tickets to '{target}'")


class TicketDiffApi(APIView):
    """The ticket's changes as a plain unified diff against the project's default branch."""

    permission_classes = [IsArchitect]

    @extend_schema(
        parameters=[OpenApiParameter("path", str, description="only this file's diff")],
        responses={(200, "text/x-diff"): str},
        description=("`git diff base head` of the ticket's branch, streamed as its exact bytes (not UTF-8 when "
                     "the files are not); `?path=` for one file, as each file of codigo_generado.files links. "
                     "`X-Factory-Diff: stored-preview` when the repository could not be read and the stored, "
                     "bounded preview is sent instead."))
    def get(self, request: Request, ticket_id: str) -> HttpResponse | StreamingHttpResponse:
        ticket = get_ticket_or_404(ticket_id)
        path = request.query_params.get("path", "")
        if "\x00" in path:
            raise exceptions.ValidationError({"path": ["The path contains a NUL byte."]})
        return changes.raw_diff(ticket, path=path)


class TicketBatchApi(APIView):
    """Create several tickets atomically; depende_de may name earlier tickets of the batch by index."""

    permission_classes = [IsArchitect]

    @extend_schema(
        request=batch_input.TicketBatchSerializer,
        responses={201: inline_serializer("TicketBatchResponse", {"tickets": TicketDetailSerializer(many=True)}),
                   422: IDEMPOTENCY_REUSED},
        description=("All or nothing. A 400 names the item and the field: "
                     '{"tickets": {"2": {"prioridad": ["..."]}}}. Idempotency-Key replays the first batch.'),
    )
    def post(self, request: Request) -> Response:
        items = batch_input.parse_batch(request.data)
        tickets, created = batch.create_batch(
            actor=roles.signed_in(request.user),
            items=items,
            idempotency_key=idempotency_key(request),
            fingerprint=services.request_fingerprint(request.data),
        )
        fresh = selectors.tickets_in_order(ticket_ids=[ticket.pk for ticket in tickets])
        data = TicketDetailSerializer(fresh, many=True, context={"request": request}).data
        response = Response({"tickets": data}, status=status.HTTP_201_CREATED)
        if not created:
            response["Idempotent-Replayed"] = "true"
        return response
