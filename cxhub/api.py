"""What every REST API view shares: error bodies, permissions, pagination, throttling.

- Errors: one handler (`exception_handler`) turns every error into
  `{"status": 400, "message": "...", "errors": {field: [...]}}`, and maps the domain
  errors the services raise (DOMAIN_ERRORS) to HTTP. Retry-After on 429 is kept.
- Permissions (design §6): `ScopePermission` — an API key needs the scope the view
  asks for (read for GET, write for the rest unless the view says otherwise); a staff
  session may read, and write only as a CX admin unless the view says otherwise.
  `can_see_pii(request)` decides whether customer email, phone and name are shown.
- Pagination: page numbers for short lists, cursors for the long ones (responses,
  people, invitations), where a count(*) over millions of rows would cost more than
  the page.
- Throttling: `ApiThrottle`, a fixed window per key (or user, or IP) and view scope,
  rates in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]; one Redis round trip.
"""

from __future__ import annotations

import codecs
import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.views.decorators.csrf import csrf_exempt
from rest_framework import (
    exceptions,
    negotiation,
    pagination,
    parsers,
    permissions,
    serializers,
    throttling,
)
from rest_framework.settings import api_settings

from cxhub import addresses, caching, jsontext, roles
from cxhub.models import ApiKey

# --- errors ----------------------------------------------------------------------------


def _domain_errors() -> dict[type[Exception], int]:
    """Domain errors raised by services → HTTP status. Imported lazily: cxhub composes
    the apps, the apps do not import cxhub.api."""
    from feedback.services import CaseError
    from recognition.services import RecognitionError
    from surveys.services import SurveyError

    return {SurveyError: 400, CaseError: 400, RecognitionError: 400}


SURVEY_ERROR_STATUS = {"not_found": 404}


def _as_api_exception(exc: Exception) -> Exception:
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return exceptions.ValidationError(detail)
    for cls, code in _domain_errors().items():
        if isinstance(exc, cls):
            message = getattr(exc, "message", None) or str(exc)
            code = SURVEY_ERROR_STATUS.get(getattr(exc, "code", ""), code)
            if code == 404:
                return exceptions.NotFound(message)
            errors = getattr(exc, "errors", None)
            if errors:
                return exceptions.ValidationError(errors)
            return exceptions.ValidationError({"non_field_errors": [message]})
    return exc


def _flatten(detail):
    """DRF error details as plain JSON (ErrorDetail → str), keys as strings."""
    if isinstance(detail, dict):
        return {str(k): _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_flatten(v) for v in detail]
    return str(detail)


def exception_handler(exc, context):
    """Every API error as {"status", "message", "errors"}; headers (Retry-After,
    WWW-Authenticate) as DRF sets them."""
    # Imported here: rest_framework.views imports the permission classes of this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    exc = _as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: Django's 500 (and its logging) applies
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(response.data)
        if not isinstance(errors, dict):
            errors = {"non_field_errors": errors}
        message = "Validation failed: " + ", ".join(sorted(errors)) + "."
    else:
        data = response.data
        message = str(data.get("detail", "")) if isinstance(data, dict) else str(data)
        errors = {}
        request = context.get("request")
        if isinstance(exc, exceptions.NotAuthenticated) and _sent_basic(request):
            # A Delighted client pointed at /api/ instead of /v1/ (a proxy's own Basic
            # login, with a staff session, never gets here).
            message += (
                " This API takes 'Authorization: Bearer <API key>'; HTTP Basic with the key"
                " is for the Delighted-compatible API under /v1/."
            )
    response.data = {"status": response.status_code, "message": message, "errors": errors}
    return response


def _sent_basic(request) -> bool:
    header = request.META.get("HTTP_AUTHORIZATION", "") if request is not None else ""
    return header.strip().lower().startswith("basic ")


# Imported by apis for extend_schema(responses=...): the shape of every error body.
ERROR_EXAMPLE = {"status": 400, "message": "Validation failed: score.", "errors": {"score": ["…"]}}


# --- parsing ---------------------------------------------------------------------------


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, also refusing with a 400 what would otherwise fail later as a
    500 (cxhub.jsontext): numbers beyond float range, NaN and Infinity, strings holding
    a lone surrogate and nesting deeper than jsontext.MAX_DEPTH."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return jsontext.loads(codecs.getreader(encoding)(stream).read())
        except ValueError as exc:  # also UnicodeDecodeError and jsontext.Unstorable
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None


# --- permissions (design §6) ------------------------------------------------------------

READ, WRITE, ADMIN = ApiKey.SCOPE_ORDER


def api_key(request) -> ApiKey | None:
    return request.auth if isinstance(request.auth, ApiKey) else None


def can_see_pii(request) -> bool:
    """Customer email, phone and name: CX admins and admin-scope keys only (an admin
    key is a CX admin for cxhub.roles)."""
    return roles.is_cx_admin(request.user)


class ScopePermission(permissions.BasePermission):
    """The view's `required_scope(request)` (default: read for safe methods, write
    otherwise) against the key's scope; for staff sessions, the view's
    `session_allowed(request, scope)` (default: anyone reads, CX admins write)."""

    message = "You do not have permission to do this."

    def has_permission(self, request, view):
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        getter = getattr(view, "required_scope", None)
        if getter is not None:
            scope = getter(request)
        else:
            scope = READ if request.method in permissions.SAFE_METHODS else WRITE
        key = api_key(request)
        if key is not None:
            if not key.allows(scope):
                raise exceptions.PermissionDenied(
                    f"This API key has the '{key.scope}' scope; this needs '{scope}'."
                )
            return True
        check = getattr(view, "session_allowed", None)
        if check is not None:
            return check(request, scope)
        return scope == READ or roles.is_cx_admin(user)


# --- content negotiation ---------------------------------------------------------------


class ContentNegotiation(negotiation.DefaultContentNegotiation):
    """DRF's, but a ?format= no renderer of the view has is an ignored query parameter
    (the Accept header decides), not a 404."""

    def filter_renderers(self, renderers, format):
        return [r for r in renderers if r.format == format] or renderers


# --- pagination ---------------------------------------------------------------------------


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        # A page that does not exist is a bad query parameter: 400, not DRF's 404.
        try:
            return super().paginate_queryset(queryset, request, view)
        except exceptions.NotFound as exc:
            raise exceptions.ValidationError({self.page_query_param: [str(exc.detail)]}) from None


# The instants a cursor may name: a forged one outside them is refused, not sent to the
# database (which errs on offsets such as +23:59).
CURSOR_EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
CURSOR_LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


class KeysetPagination(pagination.CursorPagination):
    """DRF's cursor pagination, with a cursor that names the row itself: its ordering
    field (a datetime) and its id (keyset pagination), for lists ordered by (field, id).

    DRF's own cursor keeps only the first ordering field and skips rows sharing it by
    an offset, capped at 1,000: past a thousand rows with one created_at (an import,
    a batch) the same page came back for ever, and rows added meanwhile shifted the
    offset, so a page repeated rows of the one before. Here the next page starts
    strictly after (field, id) of the last row, whatever was added since. `previous`
    links work the same way backwards. Subclasses set `ordering` to ("field", "id")
    or ("-field", "-id") and the messages of `invalid_cursor`.
    """

    ordering = ("-created_at", "-id")

    def invalid_cursor(self):
        return exceptions.ValidationError({self.cursor_query_param: ["Invalid cursor."]})

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise self.invalid_cursor() from None
        if cursor is None:
            return None
        if cursor.offset or cursor.position is None:
            raise self.invalid_cursor()
        value, _, pk = cursor.position.rpartition("|")
        try:
            value, pk = dt.datetime.fromisoformat(value), int(pk)
        except ValueError:
            raise self.invalid_cursor() from None
        if value.tzinfo is None or not CURSOR_EARLIEST <= value <= CURSOR_LATEST or pk < 1:
            raise self.invalid_cursor()
        return pagination.Cursor(offset=0, reverse=cursor.reverse, position=(value, pk))

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = self.get_page_size(request)
        if not self.page_size:
            return None
        self.base_url = request.build_absolute_uri()
        self.cursor = self.decode_cursor(request)
        field = self.ordering[0].lstrip("-")
        reverse = self.cursor is not None and self.cursor.reverse
        # Walking backwards (a previous link) reads the other way, then flips the page.
        descending = self.ordering[0].startswith("-") != reverse
        sign = "-" if descending else ""
        queryset = queryset.order_by(f"{sign}{field}", f"{sign}id")
        if self.cursor is not None:
            value, pk = self.cursor.position
            after = "lt" if descending else "gt"
            # The plain bound first, so that an index on the field starts its scan at
            # the cursor instead of reading (and filtering) every row before it.
            queryset = queryset.filter(**{f"{field}__{after}e": value}).filter(
                Q(**{f"{field}__{after}": value}) | Q(**{f"id__{after}": pk})
            )
        rows = list(queryset[: self.page_size + 1])
        more = len(rows) > self.page_size
        self.page = rows[: self.page_size]
        if reverse:
            self.page.reverse()
        # Forwards: a next page if more rows followed; a previous one if a cursor led
        # here. Backwards: the other way round.
        self.has_next = more if not reverse else True
        self.has_previous = (self.cursor is not None) if not reverse else more
        return self.page

    def _position(self, row) -> str:
        field = self.ordering[0].lstrip("-")
        value = row[field] if isinstance(row, dict) else getattr(row, field)
        pk = row["id"] if isinstance(row, dict) else row.pk
        return f"{value.isoformat()}|{pk}"

    def get_next_link(self):
        if not self.has_next or not self.page:
            return None
        return self.encode_cursor(pagination.Cursor(0, False, self._position(self.page[-1])))

    def get_previous_link(self):
        if not self.has_previous or not self.page:
            return None
        return self.encode_cursor(pagination.Cursor(0, True, self._position(self.page[0])))


class CursorPagination(KeysetPagination):
    """Newest first, stable while rows are added: for lists that grow without bound."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = ("-created_at", "-id")


# --- throttling --------------------------------------------------------------------------


class ApiThrottle(throttling.ScopedRateThrottle):
    """A fixed-window counter per (view's throttle_scope, API key | user | IP).

    DRF's own throttles keep every request's timestamp in one cache entry and rewrite
    it on each request, which costs more the higher the rate; this keeps a counter
    (INCR + EXPIRE in one round trip on Redis). The 429 carries Retry-After: the
    seconds left in the window. Rates are read from settings at each request, so
    override_settings works in tests.

    A request never fails because the cache is down: the throttle then lets it through
    uncounted, and leaves the cache alone for a while (cxhub.caching's breaker).
    """

    def get_rate(self):
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        if self.scope not in rates:
            raise exceptions.ImproperlyConfigured(f"No throttle rate for scope {self.scope!r}")
        return rates[self.scope]

    def get_ident(self, request):
        return addresses.client_network(request)

    def get_cache_key(self, request, view):
        key = api_key(request)
        if key is not None:
            ident = f"k{key.pk}"
        elif request.user is not None and request.user.is_authenticated:
            ident = f"u{request.user.pk}"
        else:
            ident = f"ip{self.get_ident(request)}"
        return f"throttle:{self.scope}:{ident}"

    def allow_request(self, request, view):
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        # The cache down: unthrottled rather than failed (over_rate answers 0).
        self._wait = caching.over_rate(
            self.get_cache_key(request, view),
            self.rate,
            doing="counting API requests: they go unthrottled",
        )
        return not self._wait

    def wait(self):
        return self._wait


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Unknown URLs under /api/ answer in JSON like the rest of the API, whatever the
    method (no CSRF check: there is nothing to protect)."""
    from django.http import JsonResponse

    return JsonResponse({"status": 404, "message": "Not found.", "errors": {}}, status=404)


# --- schema ----------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """Every error the API returns."""

    status = serializers.IntegerField()
    message = serializers.CharField()
    errors = serializers.DictField(
        help_text="Per field (or per item index for batches): the list of what is wrong."
    )


def error_responses(*codes: int) -> dict:
    """OpenAPI responses for the error codes an operation can return (400 so that
    validation errors are documented, and the auth/throttle ones every view has)."""
    codes = codes or (400,)
    return dict.fromkeys(sorted({*codes, 401, 403, 429}), ErrorSerializer)
