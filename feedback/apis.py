"""The native REST API for follow-up cases: list, read, and update status/assignee.

Design §6: CX admins (and admin-scope API keys) see every case; managers and team
leads their teams' cases, with the customer's contact details they need to call;
employees and executives see none (403; they read aggregate figures elsewhere).
Every lookup goes through feedback.selectors.case_get_for_user: a case the caller
may not see is a 404. Updates call the services, which enforce who may do what
(claim, reassign, close); their CaseError is a 400 with the reason.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, generics, serializers
from rest_framework.response import Response as ApiResponse

from cxhub import api
from feedback import selectors, services
from feedback.models import FollowUpCase, RootCause
from surveys.services import digits_id

User = get_user_model()


def _user_data(user):
    if user is None:
        return None
    return {"id": user.pk, "username": user.username, "name": user.get_full_name() or user.username}


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()


class CustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()


class CaseSerializer(serializers.ModelSerializer):
    touchpoint = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    assignee = serializers.SerializerMethodField()
    score = serializers.IntegerField(source="response.score", read_only=True)
    comment = serializers.CharField(source="response.comment", read_only=True)
    response = serializers.PrimaryKeyRelatedField(read_only=True)
    customer = serializers.SerializerMethodField()
    outcome = serializers.ChoiceField(
        choices=FollowUpCase.Outcome.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = FollowUpCase
        fields = [
            "id",
            "status",
            "outcome",
            "priority",
            "touchpoint",
            "team",
            "assignee",
            "response",
            "score",
            "comment",
            "customer",
            "created_at",
            "due_at",
            "assigned_at",
            "first_contact_at",
            "closed_at",
            "escalated_at",
            "recovered_at",
            "resolution",
        ]
        read_only_fields = fields

    @extend_schema_field(UserRefSerializer(allow_null=True))
    def get_assignee(self, obj):
        return _user_data(obj.assignee)

    @extend_schema_field(CustomerSerializer(allow_null=True))
    def get_customer(self, obj):
        # Whoever may see the case may call the customer (design §6).
        person = obj.response.person
        if person is None:
            return None
        return {"id": person.pk, "name": person.name, "email": person.email, "phone": person.phone}


class CaseUpdateSerializer(serializers.Serializer):
    """Give the case to someone (yourself: claim it), and/or close it."""

    assignee = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="A user id; your own claims it."
    )
    status = serializers.ChoiceField(
        choices=[(FollowUpCase.Status.CLOSED, "Closed")],
        required=False,
        help_text="Only 'closed': cases become assigned and in progress by being worked.",
    )
    outcome = serializers.ChoiceField(
        choices=[FollowUpCase.Outcome.RESOLVED, FollowUpCase.Outcome.UNREACHABLE], required=False
    )
    resolution = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    root_causes = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=20,
    )

    def validate(self, attrs):
        if "assignee" not in attrs and "status" not in attrs:
            raise serializers.ValidationError(
                {"non_field_errors": ["Give an assignee, or status 'closed' with an outcome."]}
            )
        if attrs.get("status") == FollowUpCase.Status.CLOSED and not attrs.get("outcome"):
            raise serializers.ValidationError({"outcome": ["Closing a case needs an outcome."]})
        return attrs


class _CaseApi:
    throttle_scope = "api"

    def required_scope(self, request):
        return api.ADMIN  # keys: only admin keys see cases

    def session_allowed(self, request, scope):
        return selectors.can_work_cases(request.user)

    def actor(self):
        """The database user an action is recorded under (an API key's creator)."""
        user = self.request.user
        return getattr(user, "acting_user", user) if api.api_key(self.request) else user


@extend_schema(
    tags=["cases"],
    parameters=[
        OpenApiParameter("status", str, enum=FollowUpCase.Status.values),
        OpenApiParameter("team", str, description="The team's slug."),
        OpenApiParameter("touchpoint", str, description="The touchpoint's slug."),
        OpenApiParameter(
            "assignee",
            str,
            description='A user id, or "me" (for an API key: the CX admin who created it).',
        ),
    ],
    responses={200: CaseSerializer(many=True), **api.error_responses()},
)
class CaseListApi(_CaseApi, generics.ListAPIView):
    """Cases the caller may work, newest first; filter by status, team, touchpoint, or
    assignee (a user id, or "me")."""

    serializer_class = CaseSerializer
    pagination_class = api.CursorPagination

    def get_queryset(self):
        qs = selectors.cases_visible_to(self.request.user).for_case_page()
        params = self.request.query_params
        status = params.get("status")
        if status:
            if status not in FollowUpCase.Status.values:
                raise exceptions.ValidationError({"status": [f"Unknown status {status!r}."]})
            qs = qs.filter(status=status)
        for param, field in (("team", "team__slug"), ("touchpoint", "touchpoint__slug")):
            value = params.get(param)
            if value:
                if "\x00" in value:
                    raise exceptions.ValidationError({param: ["Null characters are not allowed."]})
                qs = qs.filter(**{field: value})
        assignee = params.get("assignee")
        if assignee:
            if assignee == "me":  # a key acts as the CX admin who created it
                qs = qs.filter(assignee_id=self.actor().pk)
            elif (user_id := digits_id(assignee)) is not None:
                qs = qs.filter(assignee_id=user_id)
            else:
                raise exceptions.ValidationError({"assignee": ["A user id, or 'me'."]})
        return qs


class CaseDetailApi(_CaseApi, generics.GenericAPIView):
    serializer_class = CaseSerializer

    def get_object(self):
        return selectors.case_get_for_user(self.request.user, self.kwargs["pk"])

    @extend_schema(tags=["cases"], responses={200: CaseSerializer, **api.error_responses(404)})
    def get(self, request, pk):
        return ApiResponse(CaseSerializer(self.get_object()).data)

    @extend_schema(
        tags=["cases"],
        request=CaseUpdateSerializer,
        responses={200: CaseSerializer, **api.error_responses(400, 404)},
    )
    def patch(self, request, pk):
        """Claim or reassign, then close: all of it or, on any error, none of it."""
        case = self.get_object()
        form = CaseUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        actor = self.actor()
        if actor is None:
            raise exceptions.PermissionDenied("This API key has no acting user left.")
        assignee = None
        if "assignee" in data:
            assignee = User.objects.filter(pk=data["assignee"], is_active=True).first()
            if assignee is None:
                raise exceptions.ValidationError({"assignee": [f"No user {data['assignee']}."]})
        closing = data.get("status") == FollowUpCase.Status.CLOSED
        if closing:
            ids = set(data.get("root_causes", []))
            causes = list(RootCause.objects.filter(pk__in=ids))
            if len(causes) != len(ids):
                raise exceptions.ValidationError({"root_causes": ["Unknown root cause id."]})
        with transaction.atomic():
            if assignee is not None:
                if assignee.pk == actor.pk and case.assignee_id is None:
                    case = services.case_claim(case_id=case.pk, user=actor)
                elif assignee.pk != case.assignee_id:
                    case = services.case_reassign(case=case, assignee=assignee, by=actor)
            if closing:
                case = services.case_close(
                    case=case,
                    by=actor,
                    outcome=data["outcome"],
                    root_causes=causes,
                    resolution=data.get("resolution", ""),
                )
        return ApiResponse(CaseSerializer(self.get_object()).data)
