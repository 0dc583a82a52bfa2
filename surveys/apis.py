"""The native REST API for surveys: touchpoints, people, invitations, responses and
metrics. Thin: validate, call a service or selector, serialize.

Permissions (design §6, cxhub.api.ScopePermission): reading needs a `read` key or a
staff session; creating needs a `write` key or a CX admin's session. Customer email,
phone and name are shown only to CX admins and `admin` keys (cxhub.api.can_see_pii).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.response import Response as ApiResponse
from rest_framework.views import APIView

from cxhub import api
from surveys import filters, nps, selectors, serializers, services
from surveys.models import Invitation, Person, Response, Touchpoint


class _Api:
    """What every surveys API view shares: throttling and the PII switch."""

    throttle_scope = "api"

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["pii"] = api.can_see_pii(self.request)
        return context

    def refuse_without_pii(self, param: str, message: str) -> None:
        """A 400 naming `param` when it is given by a caller without access to personal
        data: ?email= finds a customer, ?person= links one (an id a write key gets back
        for an email it knows) to their answers."""
        if param in self.request.query_params and not api.can_see_pii(self.request):
            raise exceptions.ValidationError({param: [message]})

    def refuse_person_filter_without_pii(self) -> None:
        self.refuse_without_pii("person", "Filtering by person needs access to personal data.")


# --- touchpoints ---------------------------------------------------------------------------


@extend_schema(
    tags=["touchpoints"], responses={200: serializers.TouchpointSerializer, **api.error_responses()}
)
class TouchpointListApi(_Api, generics.ListAPIView):
    """Every touchpoint (active or not), by name."""

    queryset = Touchpoint.objects.select_related("owner_team").order_by("name", "id")
    serializer_class = serializers.TouchpointSerializer


@extend_schema(
    tags=["touchpoints"],
    responses={200: serializers.TouchpointSerializer, **api.error_responses(404)},
)
class TouchpointDetailApi(_Api, generics.RetrieveAPIView):
    queryset = Touchpoint.objects.select_related("owner_team")
    serializer_class = serializers.TouchpointSerializer
    lookup_field = "slug"


# --- people ---------------------------------------------------------------------------------


class PersonListApi(_Api, generics.ListCreateAPIView):
    """Customers, newest first. Without the right to see personal data, email, phone,
    name and properties are null, and ?email= is not accepted."""

    queryset = Person.objects.all()
    serializer_class = serializers.PersonSerializer
    filterset_class = filters.PersonFilter
    pagination_class = api.CursorPagination

    def get_queryset(self):
        qs = super().get_queryset()
        self.refuse_without_pii("email", "Searching by email needs access to personal data.")
        email = self.request.query_params.get("email")
        if email is not None:
            if "\x00" in email:
                raise exceptions.ValidationError({"email": ["Null characters are not allowed."]})
            qs = qs.filter(email=services.clean_email(email))
        return qs

    @extend_schema(
        tags=["people"],
        parameters=[
            OpenApiParameter("email", str, description="Exact email (CX admins and admin keys).")
        ],
        responses={200: serializers.PersonSerializer(many=True), **api.error_responses()},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["people"],
        request=serializers.PersonCreateSerializer,
        responses={201: serializers.PersonSerializer, **api.error_responses()},
    )
    def post(self, request, *args, **kwargs):
        form = serializers.PersonCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        person = services.person_upsert(**form.validated_data)
        data = serializers.PersonSerializer(person, context=self.get_serializer_context()).data
        return ApiResponse(data, status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["people"], responses={200: serializers.PersonSerializer, **api.error_responses(404)}
)
class PersonDetailApi(_Api, generics.RetrieveAPIView):
    queryset = Person.objects.all()
    serializer_class = serializers.PersonSerializer


# --- invitations ----------------------------------------------------------------------------


class InvitationListApi(_Api, generics.ListCreateAPIView):
    """Survey invitations, newest first."""

    queryset = Invitation.objects.select_related("touchpoint", "person")
    serializer_class = serializers.InvitationSerializer
    filterset_class = filters.InvitationFilter
    pagination_class = api.CursorPagination

    @extend_schema(
        tags=["invitations"],
        responses={200: serializers.InvitationSerializer(many=True), **api.error_responses()},
    )
    def get(self, request, *args, **kwargs):
        self.refuse_person_filter_without_pii()
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["invitations"],
        request=serializers.InvitationCreateSerializer,
        responses={
            202: OpenApiResponse(serializers.InvitationSerializer, "Scheduled: it will be sent."),
            201: OpenApiResponse(
                serializers.InvitationSerializer,
                "Stored but not sent: status 'skipped', skip_reason says why (unsubscribed, "
                "bounced, quiet_period, no_address, inactive_touchpoint).",
            ),
            **api.error_responses(),
        },
    )
    def post(self, request, *args, **kwargs):
        form = serializers.InvitationCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        touchpoint = Touchpoint.objects.filter(slug=data["touchpoint"]).first()
        if touchpoint is None:
            raise exceptions.ValidationError(
                {"touchpoint": [f"No touchpoint {data['touchpoint']!r}."]}
            )
        with transaction.atomic():
            if data.get("person"):
                person = Person.objects.filter(pk=data["person"]).first()
                if person is None:
                    raise exceptions.ValidationError({"person": [f"No person {data['person']}."]})
            else:
                person = services.person_upsert(
                    email=data.get("email", ""),
                    phone=data.get("phone", ""),
                    name=data.get("name", ""),
                )
            invitation = services.invitation_create(
                person=person,
                touchpoint=touchpoint,
                channel=data["channel"],
                scheduled_for=data.get("scheduled_for"),
                locale=data.get("locale", ""),
                properties=data.get("properties"),
            )
        body = serializers.InvitationSerializer(
            invitation, context=self.get_serializer_context()
        ).data
        code = status.HTTP_201_CREATED if invitation.skip_reason else status.HTTP_202_ACCEPTED
        return ApiResponse(body, status=code)


@extend_schema(
    tags=["invitations"],
    responses={200: serializers.InvitationSerializer, **api.error_responses(404)},
)
class InvitationDetailApi(_Api, generics.RetrieveAPIView):
    queryset = Invitation.objects.select_related("touchpoint", "person")
    serializer_class = serializers.InvitationSerializer


# --- responses ------------------------------------------------------------------------------


class ResponseListApi(_Api, generics.ListCreateAPIView):
    """Responses, newest first, filtered by touchpoint, category, local days and last
    change. Creating one records it as a customer's answer: a detractor's follow-up
    case is opened in the same transaction."""

    queryset = Response.objects.with_related()
    serializer_class = serializers.ResponseSerializer
    filterset_class = filters.ResponseFilter
    pagination_class = api.CursorPagination

    @extend_schema(
        tags=["responses"],
        responses={200: serializers.ResponseSerializer(many=True), **api.error_responses()},
    )
    def get(self, request, *args, **kwargs):
        self.refuse_person_filter_without_pii()
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["responses"],
        request=serializers.ResponseCreateSerializer,
        responses={201: serializers.ResponseSerializer, **api.error_responses()},
    )
    def post(self, request, *args, **kwargs):
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["Expected an object."]})
        items, errors = serializers.clean_response_items([request.data])
        if errors:
            raise exceptions.ValidationError(errors[0])
        item = items[0]
        response = services.response_record(
            touchpoint=item["touchpoint"],
            score=item["score"],
            comment=item["comment"],
            person=item.get("person"),
            channel=item["channel"],
            properties=item.get("properties"),
            created_at=item.get("created_at"),
        )
        body = serializers.ResponseSerializer(response, context=self.get_serializer_context()).data
        return ApiResponse(body, status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["responses"], responses={200: serializers.ResponseSerializer, **api.error_responses(404)}
)
class ResponseDetailApi(_Api, generics.RetrieveAPIView):
    queryset = Response.objects.with_related()
    serializer_class = serializers.ResponseSerializer


class ResponseBatchApi(APIView):
    """Up to 1,000 new responses in one request, all or none.

    Every item is validated before anything is written; if any is wrong the answer is
    a 400 whose `errors.responses` maps each bad item's index to its field errors.
    Otherwise one transaction inserts them all (detractors' cases opened inside it).
    """

    throttle_scope = "api_batch"

    @extend_schema(
        tags=["responses"],
        request=serializers.ResponseBatchSerializer,
        responses={201: serializers.ResponseBatchResultSerializer, **api.error_responses()},
    )
    def post(self, request):
        raw = request.data.get("responses") if isinstance(request.data, dict) else None
        if not isinstance(raw, list) or not raw:
            raise exceptions.ValidationError(
                {"responses": ["Expected a non-empty list of responses."]}
            )
        if len(raw) > services.RESPONSES_BATCH_MAX:
            raise exceptions.ValidationError(
                {
                    "responses": [
                        f"At most {services.RESPONSES_BATCH_MAX} responses per request, got {len(raw)}."
                    ]
                }
            )
        items, errors = serializers.clean_response_items(raw)
        if errors:
            raise exceptions.ValidationError({"responses": errors})
        rows = services.responses_record_batch(items=items)
        return ApiResponse(
            {"count": len(rows), "ids": [r.pk for r in rows]}, status=status.HTTP_201_CREATED
        )


# --- metrics --------------------------------------------------------------------------------


class MetricsApi(APIView):
    """NPS, counts, percentages and margin of error over a period of local days, per
    touchpoint and overall, with a daily or weekly trend — all from the daily rollups."""

    throttle_scope = "api"

    @extend_schema(
        tags=["metrics"],
        parameters=[serializers.MetricsQuerySerializer],
        responses={200: serializers.MetricsSerializer, **api.error_responses()},
    )
    def get(self, request):
        query = serializers.MetricsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        since, until = query.validated_data["since"], query.validated_data["until"]
        interval = query.validated_data["trend"]
        period = selectors.Period(since, until + dt.timedelta(days=1))
        touchpoints = Touchpoint.objects.order_by("name", "id")
        slug = query.validated_data.get("touchpoint")
        if slug:
            touchpoints = touchpoints.filter(slug=slug)
            if not touchpoints:
                raise exceptions.ValidationError({"touchpoint": [f"No touchpoint {slug!r}."]})
        touchpoints = list(touchpoints)
        ids = [tp.pk for tp in touchpoints] if slug else None
        counts = selectors.counts_by_touchpoint(period, ids)
        targets = selectors.targets_on(until, touchpoints)  # the period's, as the scorecard
        overall = nps.Counts()
        per_touchpoint = []
        for tp in touchpoints:
            c = counts.get(tp.pk)
            if c is None and not tp.active:
                continue
            c = c or nps.Counts()
            overall = overall + c
            per_touchpoint.append(
                {
                    "touchpoint": tp.slug,
                    "name": tp.name,
                    "nps_target": targets[tp.pk],
                    **c.as_dict(),
                }
            )
        trend = selectors.nps_trend(period=period, interval=interval, touchpoint_ids=ids)
        return ApiResponse(
            {
                "since": since,
                "until": until,
                "interval": interval,
                "overall": overall.as_dict(),
                "touchpoints": per_touchpoint,
                "trend": [{"start": start, **c.as_dict()} for start, c in trend],
            }
        )
