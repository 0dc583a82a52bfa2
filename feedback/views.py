"""The manager's day: the queue, the case page and its actions; improvement actions.

Each view: login → access helper (404 for what the user may not see) → form →
service → redirect (or, for htmx, the re-rendered fragment).
"""

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from cxhub import roles
from cxhub.models import Team
from feedback import selectors, services
from feedback.forms import (
    CloseForm,
    ContactAttemptForm,
    ImprovementActionForm,
    NoteForm,
    ReassignForm,
)
from feedback.models import CaseEvent, ContactAttempt, ImprovementAction


def _forbidden(request, message):
    return HttpResponseForbidden(
        render_to_string("feedback/forbidden.html", {"message": message}, request)
    )


def _team_filter(request):
    try:
        return int(request.GET.get("team", ""))
    except ValueError:
        return None


QUEUE_LIST_PAGE = 50


def _queue_context(request):
    team_id = _team_filter(request)
    q = request.GET.get("q", "").strip()
    show = request.GET.get("show", "")
    if q:
        # A search shows its results in place of the queue (and after a Claim among
        # them, the same results again: the Claim's URL carries the search).
        search = selectors.case_search(request.user, q)
        context = {"search": search, "q": search.query, "now": timezone.now()}
    elif show in selectors.QUEUE_LISTS:
        # One list in full, page by page, under the same counters.
        now = timezone.now()
        context = {
            "counters": selectors.queue_counters(request.user, team_id=team_id, now=now),
            "now": now,
        }
        page = Paginator(
            selectors.queue_list(request.user, show, team_id=team_id), QUEUE_LIST_PAGE
        ).get_page(request.GET.get("page"))
        page.object_list = selectors.queue_list_rows(page.object_list)
        heading, empty = selectors.QUEUE_LISTS[show]
        context.update({"listing": page, "show": show, "heading": heading, "empty": empty})
    else:
        context = selectors.queue_for_user(request.user, team_id=team_id)
    visible_teams = (
        Team.objects.all()
        if roles.is_cx_admin(request.user)
        else Team.objects.filter(pk__in=roles.managed_team_ids(request.user))
    )
    context.update({"teams": visible_teams, "team_id": team_id})
    return context


@login_required
def queue(request):
    if not selectors.can_work_cases(request.user):
        return _forbidden(request, "The follow-up queue is for managers, team leads and CX admins.")
    # htmx (the search box) swaps the queue's content; a history restore needs the page.
    partial = request.htmx and not request.htmx.history_restore_request
    template = "feedback/_queue.html" if partial else "feedback/queue.html"
    response = render(request, template, _queue_context(request))
    patch_vary_headers(response, ["HX-Request"])
    return response


def _after_queue_action(request, fallback):
    """htmx: re-render the queue in place; otherwise back to where the user was."""
    if request.htmx:
        return render(request, "feedback/_queue.html", _queue_context(request))
    return redirect(fallback)


@login_required
@require_POST
def case_claim(request, pk):
    case = selectors.case_get_for_user(request.user, pk)
    from_case_page = request.POST.get("from") == "case"  # else the queue's row
    try:
        services.case_claim(case_id=case.pk, user=request.user)
        messages.success(request, f"Case #{case.pk} is yours.")
    except services.CaseError as error:
        messages.error(request, str(error))
        if from_case_page:
            return redirect("feedback:case-detail", pk=case.pk)
        if not request.htmx:
            return redirect("feedback:queue")
        response = _after_queue_action(request, "feedback:queue")
        response.status_code = 409
        return response
    if from_case_page:
        return redirect("feedback:case-detail", pk=case.pk)
    return _after_queue_action(request, "feedback:queue")


@login_required
@require_POST
def case_claim_next(request):
    if not selectors.can_work_cases(request.user):
        return _forbidden(request, "Only managers can claim cases.")
    case_id = services.case_claim_next(user=request.user)
    if case_id is None:
        messages.info(request, "No unassigned cases are waiting. Well done!")
        return _after_queue_action(request, "feedback:queue")
    messages.success(request, f"Case #{case_id} is yours.")
    return redirect("feedback:case-detail", pk=case_id)


_CASE_FORMS = ("attempt_form", "close_form", "reassign_form", "note_form")


def _post_from_the_case_page(view):
    """The case page's forms post here; a GET (a refreshed or bookmarked URL left by a
    refused form) goes back to the case page rather than a bare 405."""

    post_only = require_POST(view)

    @functools.wraps(view)
    def wrapped(request, pk, *args, **kwargs):
        if request.method == "GET":
            return redirect("feedback:case-detail", pk=pk)
        return post_only(request, pk, *args, **kwargs)

    return wrapped


def _likely_channel(person) -> str:
    """How the manager will most likely try the customer: by phone if they left a
    number, else by email if they left an address."""
    if person is not None and not person.phone and person.email:
        return ContactAttempt.Channel.EMAIL
    return ContactAttempt.Channel.PHONE


def _case_page(request, case, status=200, **forms):
    root_causes = selectors.root_causes_for(case.response.touchpoint)
    timeline = selectors.case_timeline(case)
    attempts = list(case.attempts.select_related("by"))
    context = {
        "case": case,
        "response": case.response,
        "person": case.response.person,
        "history": selectors.customer_history(case),
        "timeline": timeline,
        "reopened": any(e.kind == CaseEvent.Kind.REOPENED for e in timeline),
        "attempts": attempts,
        "attempt_form": forms.get("attempt_form")
        or ContactAttemptForm(initial={"channel": _likely_channel(case.response.person)}),
        "close_form": forms.get("close_form") or CloseForm(root_causes=root_causes),
        "note_form": forms.get("note_form") or NoteForm(),
        "can_reassign": selectors.can_reassign(request.user, case),
        "can_claim": selectors.can_work_cases(request.user),
        "wrong_number": any(a.outcome == ContactAttempt.Outcome.WRONG_NUMBER for a in attempts),
        "error": forms.get("error"),
        # Which form the error is about: it is said there too (the form the browser
        # scrolls back to, its action's #fragment), not only at the top of a long page.
        "error_for": next(
            (name.removesuffix("_form") for name in _CASE_FORMS if name in forms), None
        ),
    }
    if context["can_reassign"] and case.is_open:
        context["reassign_form"] = forms.get("reassign_form") or ReassignForm(
            candidates=selectors.reassign_candidates(case)
        )
    return render(request, "feedback/case_detail.html", context, status=status)


@login_required
def case_detail(request, pk):
    case = selectors.case_get_for_user(request.user, pk)
    return _case_page(request, case)


@login_required
@_post_from_the_case_page
def case_attempt(request, pk):
    case = selectors.case_get_for_user(request.user, pk)
    form = ContactAttemptForm(request.POST)
    if not form.is_valid():
        return _case_page(
            request, case, status=400, attempt_form=form, error="Check the contact attempt."
        )
    try:
        services.contact_attempt_log(case=case, by=request.user, **form.cleaned_data)
    except services.CaseError as error:
        return _case_page(request, case, status=400, attempt_form=form, error=str(error))
    messages.success(request, "Contact attempt logged.")
    return redirect("feedback:case-detail", pk=case.pk)


@login_required
@_post_from_the_case_page
def case_close(request, pk):
    case = selectors.case_get_for_user(request.user, pk)
    form = CloseForm(request.POST, root_causes=selectors.root_causes_for(case.response.touchpoint))
    if not form.is_valid():
        return _case_page(
            request, case, status=400, close_form=form, error="Check the closing form."
        )
    try:
        services.case_close(
            case=case,
            by=request.user,
            outcome=form.cleaned_data["outcome"],
            root_causes=list(form.cleaned_data["root_causes"]),
            resolution=form.cleaned_data["resolution"],
        )
    except services.CaseError as error:
        return _case_page(request, case, status=400, close_form=form, error=str(error))
    messages.success(request, f"Case #{case.pk} closed. Thank you for closing the loop.")
    return redirect("feedback:case-detail", pk=case.pk)


@login_required
@_post_from_the_case_page
def case_note(request, pk):
    case = selectors.case_get_for_user(request.user, pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _case_page(
            request, case, status=400, note_form=form, error="A note cannot be empty."
        )
    services.case_note_add(case=case, by=request.user, text=form.cleaned_data["text"])
    return redirect("feedback:case-detail", pk=case.pk)


@login_required
@_post_from_the_case_page
def case_reassign(request, pk):
    case = selectors.case_get_for_user(request.user, pk)
    if not selectors.can_reassign(request.user, case):
        return _forbidden(request, "Only the team lead or a CX admin can reassign a case.")
    form = ReassignForm(request.POST, candidates=selectors.reassign_candidates(case))
    if not form.is_valid():
        return _case_page(
            request, case, status=400, reassign_form=form, error="Choose a manager of the team."
        )
    try:
        services.case_reassign(case=case, assignee=form.cleaned_data["assignee"], by=request.user)
    except services.CaseError as error:
        return _case_page(request, case, status=400, reassign_form=form, error=str(error))
    messages.success(request, "Case reassigned.")
    if request.htmx:
        return _after_queue_action(request, "feedback:queue")
    return redirect("feedback:case-detail", pk=case.pk)


# --- improvement actions -------------------------------------------------------------


@login_required
def actions(request):
    editor = selectors.can_edit_actions(request.user)
    qs = selectors.actions_for_user(request.user)
    if not editor:
        qs = qs.filter(published_at__isnull=False)
    # An Edit link only where action_edit lets the user in (a lead: their teams' actions).
    editable = (
        set(selectors.action_teams_for_user(request.user).values_list("pk", flat=True))
        if editor
        else set()
    )
    rows = [(action, action.owner_team_id in editable) for action in qs]
    return render(request, "feedback/actions.html", {"rows": rows, "can_edit": editor})


@login_required
def action_edit(request, pk=None):
    if not selectors.can_edit_actions(request.user):
        return _forbidden(request, "Improvement actions are edited by CX admins and team leads.")
    teams = selectors.action_teams_for_user(request.user)
    action = None
    if pk is not None:
        action = get_object_or_404(ImprovementAction, pk=pk, owner_team__in=teams)
    form = ImprovementActionForm(request.POST or None, instance=action, teams=teams)
    if action is None and request.method == "GET":
        # From the touchpoint page's "Plan an action": ?root_cause=…&team=…&touchpoint=…
        form.preselect(request.GET)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = services.improvement_action_save(
                by=request.user,
                action=action,
                title=data["title"],
                summary=data["summary"],
                owner_team=data["owner_team"],
                touchpoint=data["touchpoint"],
                root_causes=list(data["root_causes"]),
                status=data["status"],
                publish=data["publish"],
            )
        except services.CaseError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Saved “{saved.title}”.")
            return redirect("feedback:actions")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "feedback/action_form.html", {"form": form, "action": action}, status=status
    )
