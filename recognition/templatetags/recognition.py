from django import template

from cxhub import roles
from cxhub.models import Membership

register = template.Library()


@register.filter
def is_team_lead(user) -> bool:
    """Leads get the shout-outs link; reads the memberships cached once per request."""
    return bool(roles.team_ids_with_role(user, Membership.Role.LEAD))
