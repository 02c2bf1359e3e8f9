"""Shared-memory API: store, search, list, delete."""
import uuid

from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from memory import selectors, services
from memory.index import IndexUnavailable
from memory.models import MemoryItem, Source
from memory.serializers import (
    MemoryItemSerializer,
    MemorySearchResultSerializer,
    MemorySearchSerializer,
    MemoryStoredSerializer,
    MemoryStoreSerializer,
    search_rows,
)
from restkit.pagination import FactoryPagination  # one page size rule for every list
from restkit.params import given_params
from tickets import roles


class CanFeedMemory(BasePermission):
    message = "Only users with the 'architect' or 'reviewer' role can change the shared memory."

    def has_permission(self, request, view) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return bool(request.user and request.user.is_authenticated)
        return roles.can_review(request.user)


def source_for(user) -> str:
    """What the prompts see as the item's origin: architects' items enter every prompt, so it is never claimed."""
    return Source.ARCHITECT if roles.can_write_tickets(user) else Source.REVIEWER


def may_delete(user, item: MemoryItem) -> bool:
    return roles.can_write_tickets(user) or (item.created_by_id is not None and item.created_by_id == user.pk)


class MemoryUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "memory_unavailable"


UNAVAILABLE = OpenApiResponse(inline_serializer("MemoryUnavailable", {"detail": serializers.CharField()}),
                              description="The memory index (Qdrant) cannot be reached.")


class MemoryListApi(APIView):
    permission_classes = [CanFeedMemory]
    # Read by the schema generator too: the query parameters and the page around the results.
    queryset = MemoryItem.objects.none()
    filterset_class = selectors.MemoryItemFilter
    filter_backends = [DjangoFilterBackend]
    pagination_class = FactoryPagination

    @extend_schema(responses=MemoryItemSerializer(many=True))
    def get(self, request: Request) -> Response:
        item_filter = self.filterset_class(given_params(request), queryset=selectors.item_list())
        if not item_filter.is_valid():
            raise exceptions.ValidationError(item_filter.errors)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(item_filter.qs, request, view=self)
        return paginator.get_paginated_response(MemoryItemSerializer(page, many=True).data)

    @extend_schema(request=MemoryStoreSerializer, responses={201: MemoryStoredSerializer, 200: MemoryStoredSerializer,
                                                             503: UNAVAILABLE})
    def post(self, request: Request) -> Response:
        source = source_for(request.user)
        serializer = MemoryStoreSerializer(data=request.data, context={"source": source})
        serializer.is_valid(raise_exception=True)
        try:
            item, created, warning = services.store_item(**serializer.validated_data, source=source,
                                                         created_by=roles.signed_in(request.user))
        except ValueError as exc:
            raise exceptions.ValidationError({"text": [str(exc)]}) from None
        except IndexUnavailable as exc:
            raise MemoryUnavailable(f"The memory index is unavailable: {exc}") from None
        body = {**MemoryItemSerializer(item).data, "duplicate": not created}
        if warning:
            body["warning"] = warning
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class MemorySearchApi(APIView):
    permission_classes = [CanFeedMemory]

    @extend_schema(parameters=[MemorySearchSerializer], responses={200: MemorySearchResultSerializer,
                                                                   503: UNAVAILABLE})
    def get(self, request: Request) -> Response:
        params = MemorySearchSerializer(data=given_params(request))
        params.is_valid(raise_exception=True)
        query = params.validated_data
        tags = [tag.strip() for tag in query.get("tags", "").split(",") if tag.strip()]
        try:
            answer = selectors.search_index(query=query["q"], k=query["k"], project=query.get("project"),
                                            kind=query.get("kind"), tags=tags)
        except IndexUnavailable as exc:
            raise MemoryUnavailable(f"The memory index is unavailable: {exc}") from None
        body = {"results": search_rows(selectors.found_rows(answer.hits)), "mode": answer.mode}
        if answer.warnings:
            body["warnings"] = answer.warnings
        return Response(body)


class MemoryDetailApi(APIView):
    permission_classes = [CanFeedMemory]

    def get_item(self, item_id: str) -> MemoryItem:
        try:
            return selectors.item_list().get(pk=uuid.UUID(str(item_id)))
        except (ValueError, MemoryItem.DoesNotExist):
            raise Http404(f"No memory item with id {item_id!r}.") from None

    @extend_schema(responses=MemoryItemSerializer)
    def get(self, request: Request, item_id: str) -> Response:
        return Response(MemoryItemSerializer(self.get_item(item_id)).data)

    @extend_schema(responses={204: None, 503: UNAVAILABLE})
    def delete(self, request: Request, item_id: str) -> Response:
        item = self.get_item(item_id)
        if not may_delete(request.user, item):
            raise exceptions.PermissionDenied("Only an architect, or the user who stored it, can delete a memory "
                                              "item.")
        try:
            services.delete_item(item=item)
        except IndexUnavailable as exc:
            raise MemoryUnavailable(f"The memory index is unavailable: {exc}") from None
        return Response(status=status.HTTP_204_NO_CONTENT)


