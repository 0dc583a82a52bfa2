from django.utils.functional import SimpleLazyObject

from cxhub import roles as roles_module


def roles(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from cxhub.selectors import can_see_scorecard
    from feedback.selectors import can_work_cases

    return {
        "is_cx_admin": SimpleLazyObject(lambda: roles_module.is_cx_admin(user)),
        "role_label": SimpleLazyObject(lambda: roles_module.role_label(user)),
        "can_work_cases": SimpleLazyObject(lambda: can_work_cases(user)),
        "can_see_scorecard": SimpleLazyObject(lambda: can_see_scorecard(user)),
    }
