"""Who may see what (design §6). Every permission question goes through here."""

from cxhub.models import Membership

EXECUTIVES = "Executives"
CX_ADMINS = "CX admins"


def _group_names(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_cxhub_group_names", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._cxhub_group_names = cached
    return cached


def is_cx_admin(user) -> bool:
    return user.is_authenticated and (user.is_superuser or CX_ADMINS in _group_names(user))


def cx_admins():
    """The active CX admins (the group's members and superusers), oldest account first."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    return (
        get_user_model()
        .objects.filter(Q(groups__name=CX_ADMINS) | Q(is_superuser=True), is_active=True)
        .distinct()
        .order_by("pk")
    )


def is_executive(user) -> bool:
    return EXECUTIVES in _group_names(user)


def _memberships(user) -> list[tuple[int, str]]:
    """(team_id, role) pairs, read once per user object (that is, once per request)."""
    cached = getattr(user, "_cxhub_memberships", None)
    if cached is None:
        cached = list(Membership.objects.filter(user=user).values_list("team_id", "role"))
        user._cxhub_memberships = cached
    return cached


def team_ids_with_role(user, *roles: str) -> set[int]:
    """Teams in which the user holds one of the given roles."""
    if not user.is_authenticated:
        return set()
    return {team_id for team_id, role in _memberships(user) if role in roles}


def managed_team_ids(user) -> set[int]:
    """Teams whose cases and customer details the user may see (manager or lead)."""
    return team_ids_with_role(user, Membership.Role.MANAGER, Membership.Role.LEAD)


def role_label(user) -> str:
    if is_cx_admin(user):
        return "CX admin"
    if is_executive(user):
        return "Executive"
    roles = {role for _, role in _memberships(user)}
    for role in (Membership.Role.LEAD, Membership.Role.MANAGER):
        if role in roles:
            return role.label
    return "Employee"
