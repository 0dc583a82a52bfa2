"""Delighted's v1 API, as its official clients call it (design §8, issue 5).

Every view: HTTP Basic with a CX Hub API key as username (`key` or `key:`), JSON
out (406 when Accept asks for anything else), JSON or form-encoded bodies in, the
"v1" throttle (429 with an integer Retry-After), and Delighted's error statuses —
validation errors are 422 {"status": 422, "message": "Unprocessable Entity",
"errors": {field: [...]}}. Unknown query parameters are ignored.

Scopes (design §6; an admin key is a CX admin): metrics and survey responses need
`read`; anything showing contact data (people, unsubscribes, bounces, responses with
expand[]=person, notes or a person_email filter) needs `admin`; creating people,
responses and unsubscribes, updating responses and cancelling pending surveys need
`write`; erasing a person needs `admin`.
"""

from __future__ import annotations

import datetime as dt

from django.shortcuts import get_object_or_404
from django.utils import timezone
from rest_framework import exceptions, pagination, parsers, renderers
from rest_framework.response import Response as ApiResponse
from rest_framework.views import APIView

from cxhub import api
from cxhub.authentication import ApiKeyBasicAuthentication
from surveys import services
from surveys.delighted import selectors
from surveys.delighted import serializers as out
from surveys.delighted import services as dl_services
from surveys.models import Invitation, Person, Response, Touchpoint
from surveys.serializers import EARLIEST

READ, WRITE, ADMIN = api.READ, api.WRITE, api.ADMIN
PER_PAGE_DEFAULT, PER_PAGE_MAX = 20, 100


def exception_handler(exc, context):
    """The native handler's body, with Delighted's status for validation errors: 422
    "Unprocessable Entity" (a malformed body stays a 400 parse error)."""
    response = api.exception_handler(exc, context)
    if (
        response is not None
        and response.status_code == 400
        and not isinstance(exc, exceptions.ParseError)
    ):
        response.status_code = 422
        response.data = {
            "status": 422,
            "message": "Unprocessable Entity",
            "errors": response.data.get("errors") or {},
        }
    return response


class V1View(APIView):
    """What every /v1/ view shares. `scopes` maps each method to the key scope it needs."""

    authentication_classes = [ApiKeyBasicAuthentication]
    permission_classes = [api.ScopePermission]
    throttle_classes = [api.ApiThrottle]
    throttle_scope = "v1"
    renderer_classes = [renderers.JSONRenderer]
    parser_classes = [api.JSONParser, parsers.FormParser, parsers.MultiPartParser]
    schema = None  # not part of the native API's OpenAPI schema
    scopes: dict[str, str] = {}

    def required_scope(self, request) -> str:
        # HEAD runs GET's handler, so it needs GET's scope; a method without a handler
        # needs only a valid key, then gets its 405.
        method = "GET" if request.method == "HEAD" else request.method
        return self.scopes.get(method, READ)

    def session_allowed(self, request, scope) -> bool:
        return False  # API keys only, as Delighted

    def get_exception_handler(self):
        return exception_handler

    def require_admin(self, what: str) -> None:
        if not api.can_see_pii(self.request):
            raise exceptions.PermissionDenied(
                f"{what} shows customers' contact data: it needs an API key with the 'admin' scope."
            )

    def page_params(self) -> tuple[int, int]:
        params = self.request.query_params
        page = out.integer(params.get("page", "1"), "page", minimum=1, maximum=10**6)
        per_page = params.get("per_page", str(PER_PAGE_DEFAULT))
        per_page = out.integer(per_page, "per_page", minimum=1, maximum=10**6)
        return page, min(per_page, PER_PAGE_MAX)

    def paged(self, qs, serialize) -> ApiResponse:
        """Delighted's page/per_page lists: a JSON array (an empty one past the end),
        with a `Link: <…>; rel="next"` header while there is more."""
        page, per_page = self.page_params()
        start = (page - 1) * per_page
        rows = list(qs[start : start + per_page + 1])
        headers = {}
        if len(rows) > per_page:
            rows = rows[:per_page]
            url = self.request.build_absolute_uri()
            url = pagination.replace_query_param(url, "page", page + 1)
            headers["Link"] = f'<{url}>; rel="next"'
        return ApiResponse(serialize(rows), headers=headers)


def time_range(qs, params, field: str, since: str = "since", until: str = "until"):
    start = out.optional_timestamp(params, since)
    end = out.optional_timestamp(params, until)
    if start is not None:
        qs = qs.filter(**{f"{field}__gte": start})
    if end is not None:
        qs = qs.filter(**{f"{field}__lt": end + dt.timedelta(seconds=1)})
    return qs


# --- people ---------------------------------------------------------------------------


class PeoplePagination(api.KeysetPagination):
    """Delighted's people list: oldest first, `per_page` (20, at most 100), and a
    `Link: <absolute url>; rel="next"` header carrying the cursor (a keyset one: people
    imported together share a created_at)."""

    cursor_query_param = "page_info"
    page_size = PER_PAGE_DEFAULT
    page_size_query_param = "per_page"
    max_page_size = PER_PAGE_MAX
    ordering = ("created_at", "id")

    def invalid_cursor(self):
        return out.invalid(self.cursor_query_param, "Invalid page_info cursor.")

    def get_paginated_response(self, data):
        headers = {}
        link = self.get_next_link()
        if link:
            headers["Link"] = f'<{link}>; rel="next"'
        return ApiResponse(data, headers=headers)


class PeopleApi(V1View):
    """GET: people (admin). POST: create or update a person and schedule their survey
    (write)."""

    scopes = {"GET": ADMIN, "POST": WRITE}

    def get(self, request):
        params = request.query_params
        qs = time_range(Person.objects.all(), params, "created_at")
        if params.get("email"):
            qs = qs.filter(email=out.email(params["email"]))
        if params.get("phone_number"):
            qs = qs.filter(phone=out.phone(params["phone_number"]))
        paginator = PeoplePagination()
        page = paginator.paginate_queryset(selectors.people_with_activity(qs), request, view=self)
        return paginator.get_paginated_response([out.person_data(p) for p in page])

    def post(self, request):
        body = out.body_dict(request)
        email = out.email(body.get("email"))
        phone = out.phone(body.get("phone_number"))
        if not email and not phone:
            raise out.invalid("email", "Give an email address or a phone_number.")
        channel = body.get("channel")
        if channel in (None, ""):
            channel = Invitation.Channel.EMAIL
        elif not isinstance(channel, str) or channel not in out.PERSON_CHANNELS:
            raise out.invalid("channel", "Must be 'email' or 'sms'.")
        if channel == Invitation.Channel.EMAIL and not email:
            raise out.invalid("email", "An email survey needs an email address.")
        if channel == Invitation.Channel.SMS and not phone:
            raise out.invalid("phone_number", "An SMS survey needs a phone_number.")
        properties = out.properties(body.get("properties"), "properties")
        delay = body.get("delay")
        delay = (
            0
            if delay in (None, "")
            else out.integer(delay, "delay", minimum=0, maximum=out.MAX_DELAY)
        )
        send = True if body.get("send") in (None, "") else out.boolean(body["send"], "send")
        locale = out.text(body.get("locale") or properties.get("locale"), "locale", max_length=10)
        name = out.text(body.get("name"), "name", max_length=200)
        last_sent_at = body.get("last_sent_at")
        if last_sent_at not in (None, ""):
            last_sent_at = out.past_timestamp(last_sent_at, "last_sent_at")
        else:
            last_sent_at = None
        person, invitation = dl_services.person_survey(
            email=email,
            phone=phone,
            name=name,
            channel=channel,
            delay=delay,
            send=send,
            properties=properties,
            last_sent_at=last_sent_at,
            locale=locale,
        )
        pii = api.can_see_pii(request)
        scheduled = invitation is not None and invitation.status == Invitation.Status.SCHEDULED
        return ApiResponse(
            {
                "id": str(person.pk),
                # A write key sees back what it sent, not what CX Hub knew before.
                "email": (person.email if pii else email) or None,
                "name": (person.name if pii else name) or None,
                "phone_number": (person.phone if pii else phone) or None,
                "survey_scheduled_at": out.ts(invitation.scheduled_for) if scheduled else None,
                # CX Hub's addition: why no survey was scheduled (quiet_period,
                # unsubscribed, no_address, inactive_touchpoint), null otherwise.
                "survey_skipped_reason": (invitation.skip_reason or None) if invitation else None,
                "properties": person.properties if pii else properties,
            }
        )


class PersonApi(V1View):
    """DELETE /v1/people/{id | email:… | phone_number:…}: erase the person (GDPR)."""

    scopes = {"DELETE": ADMIN}

    def delete(self, request, identifier: str):
        person = selectors.person_by_identifier(identifier)
        if person is None:
            raise exceptions.NotFound(f"No person {identifier!r}.")
        services.person_erase(person=person)
        return ApiResponse({"ok": True}, status=202)


class PendingSurveyRequestsApi(V1View):
    """DELETE /v1/people/{email}/survey_requests/pending: cancel the person's scheduled
    surveys that have not been sent yet."""

    scopes = {"DELETE": WRITE}

    def delete(self, request, person_email: str):
        if not person_email.strip():
            raise exceptions.NotFound("Give the person's email address.")
        person = Person.objects.filter(email=services.clean_email(person_email)).first()
        # The same answer whether or not the email is a customer's: a write key must not
        # learn who is one.
        if person is not None:
            services.invitations_cancel_pending(person=person)
        return ApiResponse({"ok": True})


# --- survey responses -----------------------------------------------------------------

ORDERS = {
    "asc": ("created_at", "id"),
    "desc": ("-created_at", "-id"),
    "asc:updated_at": ("updated_at", "id"),
    "desc:updated_at": ("-updated_at", "-id"),
}


class _Responses(V1View):
    def expansions(self) -> set[str]:
        expand = set(out.query_list(self.request.query_params, "expand"))
        unknown = expand - {"person", "notes"}
        if unknown:
            raise out.invalid("expand", f"Can expand person and notes, not {sorted(unknown)}.")
        if expand:
            self.require_admin("expand[]=" + "/".join(sorted(expand)))
        return expand

    def serialize(self, rows: list[Response], expand: set[str]) -> list[dict]:
        notes = selectors.notes_for([r.pk for r in rows]) if "notes" in expand and rows else {}
        pii = api.can_see_pii(self.request)
        return [
            out.response_data(r, pii=pii, expand_person="person" in expand, notes=notes.get(r.pk))
            for r in rows
        ]

    def change(self, body: dict, pk: int):
        """PUT: a new score, comment or person_properties; the rest of the body (what a
        client read) is ignored."""
        response = get_object_or_404(Response.objects.select_related("person"), pk=pk)
        score = body.get("score")
        score = None if score in (None, "") else out.score(score)
        # A client saving back what it read sends comment null for "no comment", and
        # the comment as it read it: scrubbed, for a key that sees no personal data.
        comment = None if "comment" not in body else out.comment(body["comment"])
        comment = dl_services.comment_change(
            response, comment, contact_details=api.can_see_pii(self.request)
        )
        properties = out.properties(body.get("person_properties"), "person_properties")
        response = services.response_update(
            response=response, score=score, comment=comment, properties=properties
        )
        response = Response.objects.select_related("touchpoint", "person").get(pk=response.pk)
        return ApiResponse(self.serialize([response], set())[0])

    def queryset(self, expand: set[str]):
        # The person's name too: a comment shown without personal data is scrubbed of it.
        qs = Response.objects.select_related("touchpoint", "person")
        if "person" in expand:
            qs = qs.annotate(**selectors.activity(ref="person_id", prefix="person_"))
        return qs


def _copy_person_activity(rows: list[Response]) -> None:
    # The person's last_* / next_* times were annotated on the response row.
    for r in rows:
        if r.person_id is not None:
            for field in ("last_sent_at", "last_responded_at", "next_survey_scheduled_at"):
                setattr(r.person, field, getattr(r, f"person_{field}", None))


class SurveyResponsesApi(_Responses):
    """GET: survey responses, page by page (read; admin for contact data). POST: add
    a response for a person (write). PUT with the response's `id` in the body: change
    it, as PUT /v1/survey_responses/{id} does (write): Delighted's Node client saves a
    response that way."""

    scopes = {"GET": READ, "POST": WRITE, "PUT": WRITE}

    def get(self, request):
        params = request.query_params
        expand = self.expansions()
        order = params.get("order") or "asc"
        if order not in ORDERS:
            raise out.invalid("order", f"Must be one of: {', '.join(ORDERS)}.")
        qs = self.queryset(expand)
        qs = time_range(qs, params, "created_at")
        qs = time_range(qs, params, "updated_at", "updated_since", "updated_until")
        if params.get("trend"):
            touchpoint = Touchpoint.objects.filter(slug=params["trend"].strip()).first()
            if touchpoint is None:
                raise out.invalid("trend", f"No touchpoint {params['trend']!r}.")
            qs = qs.filter(touchpoint=touchpoint)
        if params.get("person_id"):
            # A write key gets a person's id back for an email it knows (POST /people).
            self.require_admin("person_id")
            qs = qs.filter(
                person_id=out.integer(
                    params["person_id"], "person_id", minimum=1, maximum=2**63 - 1
                )
            )
        if params.get("person_email"):
            self.require_admin("person_email")
            qs = qs.filter(person__email=out.email(params["person_email"], "person_email"))

        def serialize(rows):
            if "person" in expand:
                _copy_person_activity(rows)
            return self.serialize(rows, expand)

        return self.paged(qs.order_by(*ORDERS[order]), serialize)

    def post(self, request):
        body = out.body_dict(request)
        raw_person = body.get("person")
        if raw_person in (None, ""):
            raise out.invalid("person", "The id of the person who answered is required.")
        person_id = out.integer(raw_person, "person", minimum=1, maximum=2**63 - 1)
        person = Person.objects.filter(pk=person_id).first()
        if person is None:
            raise out.invalid("person", f"No person {raw_person!r}.")
        if body.get("score") in (None, ""):
            raise out.invalid("score", "The score (0 to 10) is required.")
        score = out.score(body["score"])
        properties = out.properties(body.get("person_properties"), "person_properties")
        comment = out.comment(body.get("comment"))
        created_at = body.get("created_at")
        created_at = (
            None
            if created_at in (None, "")
            # As the native API: responses count from 2000 (the rollups' first day).
            else out.past_timestamp(created_at, "created_at", earliest=EARLIEST)
        )
        touchpoint = dl_services.touchpoint_for(properties, "person_properties")
        response = services.response_record(
            touchpoint=touchpoint,
            score=score,
            comment=comment,
            person=person,
            channel=Invitation.Channel.WEB,
            properties=properties,
            created_at=created_at,
        )
        return ApiResponse(self.serialize([response], set())[0])

    def put(self, request):
        body = out.body_dict(request)
        raw = body.get("id")
        if raw in (None, ""):
            raise out.invalid("id", "The id of the survey response to change is required.")
        return self.change(body, out.integer(raw, "id", minimum=1, maximum=2**63 - 1))


class SurveyResponseApi(_Responses):
    """GET one survey response (read); PUT: change its score, comment or
    person_properties (write). The rest of the body (what a client read) is ignored."""

    scopes = {"GET": READ, "PUT": WRITE}

    def get(self, request, pk: int):
        expand = self.expansions()
        response = get_object_or_404(self.queryset(expand), pk=pk)
        if "person" in expand:
            _copy_person_activity([response])
        return ApiResponse(self.serialize([response], expand)[0])

    def put(self, request, pk: int):
        return self.change(out.body_dict(request), pk)


# --- metrics, unsubscribes, bounces ----------------------------------------------------


class MetricsApi(V1View):
    """NPS and counts of the responses first submitted between since and until (Unix
    seconds, both included; default: everything up to now), optionally for one
    touchpoint (`trend`, its slug)."""

    scopes = {"GET": READ}

    def get(self, request):
        params = request.query_params
        since = out.optional_timestamp(params, "since")
        until = out.optional_timestamp(params, "until")
        if since is not None and until is not None and since > until:
            raise out.invalid("since", "Must not be after until.")
        touchpoint_ids = None
        if params.get("trend"):
            touchpoint = Touchpoint.objects.filter(slug=params["trend"].strip()).first()
            if touchpoint is None:
                raise out.invalid("trend", f"No touchpoint {params['trend']!r}.")
            touchpoint_ids = [touchpoint.pk]
        end = (
            until + dt.timedelta(seconds=1)
            if until is not None
            else timezone.now() + dt.timedelta(seconds=1)
        )
        counts = selectors.counts_between(start=since, end=end, touchpoint_ids=touchpoint_ids)
        return ApiResponse(out.metrics_data(counts))


class UnsubscribesApi(V1View):
    """GET: unsubscribed people, oldest first (admin). POST {person_email}: unsubscribe
    them, creating the person if CX Hub does not know them yet, so that they are
    never surveyed (write)."""

    scopes = {"GET": ADMIN, "POST": WRITE}

    def get(self, request):
        qs = Person.objects.filter(unsubscribed_at__isnull=False)
        qs = time_range(qs, request.query_params, "unsubscribed_at")
        return self.paged(
            qs.order_by("unsubscribed_at", "id"),
            lambda rows: [out.unsubscribe_data(p) for p in rows],
        )

    def post(self, request):
        body = out.body_dict(request)
        email = out.email(body.get("person_email"), "person_email")
        if not email:
            raise out.invalid("person_email", "The email address to unsubscribe is required.")
        services.person_unsubscribe_email(email=email)
        return ApiResponse({"ok": True})


class BouncesApi(V1View):
    """GET: people whose survey email bounced, oldest first (admin)."""

    scopes = {"GET": ADMIN}

    def get(self, request):
        qs = Person.objects.filter(bounced_at__isnull=False)
        qs = time_range(qs, request.query_params, "bounced_at")
        return self.paged(
            qs.order_by("bounced_at", "id"), lambda rows: [out.bounce_data(p) for p in rows]
        )
