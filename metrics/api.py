"""GET /api/factory/metrics: the numbers of the admin metrics page, as JSON."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from metrics import definitions, selectors

FILTER_PARAMETERS = [
    OpenApiParameter("project", str, required=False, description="Only this project's tickets (its name)."),
    OpenApiParameter("since", OpenApiTypes.DATE, required=False,
                     description="Only tickets created on or after this day (YYYY-MM-DD, UTC); empty: no limit."),
    OpenApiParameter("until", OpenApiTypes.DATE, required=False,
                     description="Only tickets created on or before this day (YYYY-MM-DD, UTC); empty: no limit."),
]


class MetricsApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=FILTER_PARAMETERS, responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        try:
            filters = definitions.parse_filters(request.query_params)
        except definitions.MetricsFilterError as exc:
            raise exceptions.ValidationError({name: [message] for name, message in exc.errors.items()}) from None
        return Response(selectors.factory_metrics(filters=filters))
