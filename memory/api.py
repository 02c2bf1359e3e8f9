"""Shared-memory API: store, search, list, delete."""
import uuid

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from memory import selectors, services
from memory.index import IndexUnavailable
from memory.models import MemoryItem
from memory.serializers import MemoryItemSerializer, MemorySearchSerializer, MemoryStoreSerializer, search_rows
from tickets import roles
from tickets.pagination import TicketPagination  # one page size rule for every list


class CanFeedMemory(BasePermission):
    message = "Only users with the 'architect' or 'reviewer' role can change the shared memory."

    def has_permission(self, request, view) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return bool(request.user and request.user.is_authenticated)
        return roles.can_review(request.user)


class MemoryUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "memory_unavailable"


class MemoryListApi(APIView):
    permission_classes = [CanFeedMemory]

    @extend_schema(responses=MemoryItemSerializer(many=True))
    def get(self, request: Request) -> Response:
        item_filter = selectors.MemoryItemFilter(request.query_params, queryset=selectors.item_list())
        if not item_filter.is_valid():
            raise exceptions.ValidationError(item_filter.errors)
        paginator = TicketPagination()
        page = paginator.paginate_queryset(item_filter.qs, request, view=self)
        return paginator.get_paginated_response(MemoryItemSerializer(page, many=True).data)

    @extend_schema(request=MemoryStoreSerializer, responses={201: MemoryItemSerializer, 200: MemoryItemSerializer})
    def post(self, request: Request) -> Response:
        serializer = MemoryStoreSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            item, created, warning = services.store_item(**serializer.validated_data)
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

    @extend_schema(parameters=[MemorySearchSerializer], responses=MemoryItemSerializer(many=True))
    def get(self, request: Request) -> Response:
        params = MemorySearchSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        query = params.validated_data
        tags = [tag.strip() for tag in query.get("tags", "").split(",") if tag.strip()]
        try:
            result = selectors.search(query=query["q"], k=query["k"], project=query.get("project"),
                                      kind=query.get("kind"), tags=tags)
        except IndexUnavailable as exc:
            raise MemoryUnavailable(f"The memory index is unavailable: {exc}") from None
        body = {"results": search_rows(result.items), "mode": result.mode}
        if result.warnings:
            body["warnings"] = result.warnings
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

    @extend_schema(responses={204: None})
    def delete(self, request: Request, item_id: str) -> Response:
        try:
            services.delete_item(item=self.get_item(item_id))
        except IndexUnavailable as exc:
            raise MemoryUnavailable(f"The memory index is unavailable: {exc}") from None
        return Response(status=status.HTTP_204_NO_CONTENT)


