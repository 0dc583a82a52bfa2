"""The native REST API for Customer Champions: the postcard feed, sending a postcard,
and the leaderboard.

Design §6: every employee sees postcards and the leaderboard (so do read-scope API
keys); sending needs a person — a staff session — since a postcard is from someone.
Hidden postcards appear nowhere. Rules (cap, not to oneself, idempotency) live in
recognition.services.postcard_send; its RecognitionError is a 400 with the reason.
"""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response as ApiResponse
from rest_framework.views import APIView

from cxhub import api
from recognition import selectors, services
from recognition.models import Value
from surveys.services import digits_id

User = get_user_model()
PERIODS = ("month", "quarter", "year", "all")


def _person(user) -> dict:
    return {"username": user.username, "name": user.get_full_name() or user.username}


def _inspired_at(postcard) -> str | None:
    """The touchpoint of the praise that inspired the postcard: the feed's annotation
    (Postcard.objects.for_feed()), else read from the response (a postcard just sent)."""
    if hasattr(postcard, "inspired_at"):
        return postcard.inspired_at
    response = postcard.response
    return response.touchpoint.name if response is not None else None


class PersonRefSerializer(serializers.Serializer):
    username = serializers.CharField()
    name = serializers.CharField()


class PostcardSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sender = PersonRefSerializer()
    recipient = PersonRefSerializer()
    value = serializers.CharField()
    message = serializers.CharField()
    from_customer = serializers.BooleanField()
    touchpoint = serializers.CharField(allow_null=True, help_text="Of the praise that inspired it.")
    created_at = serializers.DateTimeField()

    def to_representation(self, postcard):
        return {
            "id": postcard.pk,
            "sender": _person(postcard.sender),
            "recipient": _person(postcard.recipient),
            "value": postcard.value.name,
            "message": postcard.message,
            "from_customer": postcard.from_customer,
            "touchpoint": _inspired_at(postcard),
            "created_at": serializers.DateTimeField().to_representation(postcard.created_at),
        }


class PostcardPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    results = PostcardSerializer(many=True)


class PostcardSendSerializer(serializers.Serializer):
    recipient = serializers.CharField(max_length=150, help_text="The colleague's username.")
    value = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="A value's id.")
    message = serializers.CharField(max_length=1000)
    idempotency_key = serializers.CharField(
        required=False,
        max_length=64,
        help_text="Send the same key again and the first postcard is returned (200).",
    )


class RankSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    count = serializers.IntegerField()
    username = serializers.CharField(required=False)
    name = serializers.CharField()


class PostcardListApi(APIView):
    """Visible postcards, newest first, 30 a page; `next` carries the cursor (`before`)."""

    throttle_scope = "api"

    def session_allowed(self, request, scope):
        return True  # every employee sees and sends postcards

    def required_scope(self, request):
        return api.READ if request.method == "GET" else api.ADMIN

    @extend_schema(
        tags=["recognition"],
        parameters=[
            OpenApiParameter("before", int, description="Postcards older than this one."),
        ],
        responses={200: PostcardPageSerializer, **api.error_responses()},
    )
    def get(self, request):
        before = request.query_params.get("before")
        before_id = None if before is None else digits_id(before)
        if before is not None and before_id is None:
            raise exceptions.ValidationError({"before": ["A postcard id."]})
        page = selectors.feed(before=before_id, limit=selectors.FEED_PAGE + 1)
        more = len(page) > selectors.FEED_PAGE
        page = page[: selectors.FEED_PAGE]
        next_url = None
        if more:
            next_url = request.build_absolute_uri(f"{request.path}?before={page[-1].pk}")
        return ApiResponse(
            {"next": next_url, "results": [PostcardSerializer(p).data for p in page]}
        )

    @extend_schema(
        tags=["recognition"],
        request=PostcardSendSerializer,
        responses={201: PostcardSerializer, 200: PostcardSerializer, **api.error_responses()},
    )
    def post(self, request):
        if api.api_key(request) is not None:
            raise exceptions.PermissionDenied(
                "A postcard is sent by a person: use a staff session."
            )
        form = PostcardSendSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        recipient = User.objects.filter(username=data["recipient"], is_active=True).first()
        if recipient is None:
            raise exceptions.ValidationError({"recipient": ["No such colleague."]})
        value = Value.objects.filter(pk=data["value"]).first()
        if value is None:
            raise exceptions.ValidationError({"value": ["No such value."]})
        postcard, created = services.postcard_send(
            sender=request.user,
            recipient=recipient,
            value=value,
            message=data["message"],
            idempotency_key=data.get("idempotency_key") or secrets.token_hex(16),
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return ApiResponse(PostcardSerializer(postcard).data, status=code)


class LeaderboardApi(APIView):
    """Postcards received this month / quarter / year / all time, per person or team."""

    throttle_scope = "api"

    @extend_schema(
        tags=["recognition"],
        parameters=[
            OpenApiParameter("period", str, enum=list(PERIODS), description="Default: month."),
            OpenApiParameter("by", str, enum=["person", "team"], description="Default: person."),
        ],
        responses={200: RankSerializer(many=True), **api.error_responses()},
    )
    def get(self, request):
        period = request.query_params.get("period", "month")
        by = request.query_params.get("by", "person")
        if period not in PERIODS:
            raise exceptions.ValidationError({"period": [f"One of {', '.join(PERIODS)}."]})
        if by not in ("person", "team"):
            raise exceptions.ValidationError({"by": ["'person' or 'team'."]})
        ranks = selectors.leaderboard(period=period, by=by, limit=50)
        if by == "team":
            rows = [{"rank": r.rank, "count": r.count, "name": r.team.name} for r in ranks]
        else:
            rows = [{"rank": r.rank, "count": r.count, **_person(r.user)} for r in ranks]
        return ApiResponse(rows)
