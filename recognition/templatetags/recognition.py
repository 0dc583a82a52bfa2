from django import template

from cxhub import roles
from cxhub.models import Membership

register = template.Library()


@register.filter
def decides_shoutouts(user) -> bool:
    """Leads and CX admins (who publish praise about a lead) get the shout-outs link;
    reads the memberships and groups cached once per request."""
    return bool(roles.team_ids_with_role(user, Membership.Role.LEAD)) or roles.is_cx_admin(user)
