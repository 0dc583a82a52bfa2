"""API key authentication for DRF: `Authorization: Bearer <key>` (native /api/) and
HTTP Basic with the key as username (Delighted-compatible /v1/).

An authenticated key gives `request.auth` = the ApiKey and `request.user` = an
ApiKeyUser: not a database user, an AnonymousUser-like object carrying the key's
scope. cxhub.roles answers for it as for a person: an admin key is a CX admin, a
read or write key is a plain employee (no team, no cases, no personal data).
Permissions check the scope with `cxhub.api.key_allows(request, scope)`.
"""

from __future__ import annotations

import base64
import binascii

from django.contrib.auth.models import Group, Permission
from django.db.models.manager import EmptyManager
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from cxhub import roles, services
from cxhub.models import ApiKey


class ApiKeyUser:
    """Who is calling when an API key calls: the key, seen as a user.

    It has no primary key, so it can never be saved as an actor or an assignee;
    services that record who did something get `acting_user` (the admin who created
    the key, possibly None) instead.
    """

    id = None
    pk = None
    is_active = True
    is_staff = False
    is_superuser = False
    is_anonymous = False
    is_authenticated = True
    first_name = ""
    last_name = ""
    email = ""
    _groups = EmptyManager(Group)
    _user_permissions = EmptyManager(Permission)

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.scope = api_key.scope
        self.username = f"api-key:{api_key.prefix}"
        # What cxhub.roles reads (its per-user caches): no team; CX admin for admin keys.
        self._cxhub_memberships = []
        self._cxhub_group_names = (
            {roles.CX_ADMINS} if api_key.scope == ApiKey.Scope.ADMIN else set()
        )

    def __str__(self):
        return f"API key {self.api_key.name} ({self.api_key.prefix}…)"

    def __eq__(self, other):
        return isinstance(other, ApiKeyUser) and other.api_key.pk == self.api_key.pk

    def __hash__(self):
        return hash(("api-key", self.api_key.pk))

    @property
    def groups(self):
        return self._groups

    @property
    def user_permissions(self):
        return self._user_permissions

    @property
    def acting_user(self):
        """The database user actions by this key are recorded under (its creator)."""
        return self.api_key.created_by

    def get_username(self) -> str:
        return self.username

    def get_full_name(self) -> str:
        return str(self)

    def get_short_name(self) -> str:
        return self.api_key.name

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def has_perms(self, perm_list, obj=None) -> bool:
        return False

    def has_module_perms(self, module) -> bool:
        return False


def key_from_basic_header(header: str | bytes | None) -> str | None:
    """The API key in an HTTP Basic `Authorization` header, or None when it is not one.

    Delighted's clients send the key as the username: Node and Ruby as `key:`, Python
    as `key` with no colon; both are accepted, and a password, if any, is ignored.
    """
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    scheme, _, encoded = (header or "").strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username = decoded.partition(":")[0].strip()
    return username or None


def authenticate_key(raw: str | None) -> tuple[ApiKeyUser, ApiKey]:
    """(user, auth) for DRF from a raw key; AuthenticationFailed (401) if it is not a
    valid, unrevoked key."""
    key = services.api_key_authenticate(raw)
    if key is None:
        raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
    return ApiKeyUser(key), key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <key>`. Absent header: not ours (the session may apply);
    a Bearer header with a bad or revoked key: 401."""

    keyword = "bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, raw = header.strip().partition(" ")
        if scheme.lower() != self.keyword:
            return None
        if not raw.strip():
            raise exceptions.AuthenticationFailed("No API key after 'Bearer'.")
        return authenticate_key(raw)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ApiKeyBasicAuthentication(authentication.BaseAuthentication):
    """HTTP Basic with the API key as username (`key` or `key:`): for /v1/."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request)
        if not header.lower().startswith(b"basic"):
            return None
        raw = key_from_basic_header(header)
        if raw is None:
            raise exceptions.AuthenticationFailed("Malformed HTTP Basic credentials.")
        return authenticate_key(raw)

    def authenticate_header(self, request):
        return 'Basic realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes ApiKeyAuthentication."""

    target_class = "cxhub.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key created by a CX admin: `Authorization: Bearer cxh_…`.",
        }


class ApiKeyBasicScheme(OpenApiAuthenticationExtension):
    target_class = "cxhub.authentication.ApiKeyBasicAuthentication"
    name = "ApiKeyBasic"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic", "description": "The API key as username."}
