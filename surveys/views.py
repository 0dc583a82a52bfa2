"""Public survey pages (no account, mobile first, in the invitation's language), and
the CX admins' pages: the responses list, its CSV export and the CSV import."""

import functools

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import get_script_prefix, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from cxhub import addresses, caching, roles
from surveys import exports, imports, selectors, services
from surveys.filters import ResponseFilter
from surveys.forms import ResponseForm
from surveys.models import Invitation, Response, ResponseImport, Touchpoint

ERROR_STATUS = {"not_found": 404, "expired": 410}


def _survey_error(request, error: services.SurveyError):
    return render(
        request,
        "surveys/survey_error.html",
        {"message": error.message},
        status=ERROR_STATUS.get(error.code, 400),
    )


def _initial_score(request):
    try:
        return services.clean_score(request.GET.get("score", ""))
    except Exception:
        return None


@require_http_methods(["GET", "POST"])
def respond(request, token):
    """The landing page of an emailed survey link.

    Mail scanners follow every link in an email, so GET only shows the chosen score;
    the answer is recorded by the POST of the confirm button.
    """
    try:
        invitation = services.invitation_get_for_token(token)
    except services.SurveyError as error:
        return _survey_error(request, error)
    with translation.override(invitation.locale or request.LANGUAGE_CODE):
        existing = Response.objects.filter(invitation=invitation).first()
        if request.method == "POST":
            answer = _valid_answer(request.POST)
            if answer is not None:
                try:
                    services.response_record(
                        touchpoint=invitation.touchpoint,
                        invitation=invitation,
                        score=answer[0],
                        comment=answer[1],
                    )
                except services.SurveyError as error:
                    return _survey_error(request, error)
                return redirect("surveys:respond-thanks", token=token)
            form = ResponseForm(request.POST)
            form.is_valid()  # only to show what is wrong
            status, unsent = 400, False
        else:
            score = _initial_score(request)
            # A score chosen in the email that is not the one recorded: not sent yet.
            unsent = score is not None and (existing is None or existing.score != score)
            if score is None and existing is not None:
                score = existing.score
            form = ResponseForm(
                initial={"score": score, "comment": existing.comment if existing else ""}
            )
            status = 200
        return render(
            request,
            "surveys/survey_form.html",
            {
                "form": form,
                "touchpoint_name": invitation.touchpoint.customer_name(),
                "question": invitation.touchpoint.customer_question(),
                "selected": _selected(form),
                "answered_before": existing is not None,
                "unsent": unsent,
                "scale": range(11),
                "unsubscribe_token": token,
            },
            status=status,
        )


def _valid_answer(data) -> tuple[int, str] | None:
    """(score, comment) of a valid survey POST, else None.

    The survey POST is the hottest path of the product: a valid answer goes straight
    to the service, which validates it the same way (services.clean_score and
    clean_comment, as ResponseForm does); the form is built only to show an invalid
    answer's errors.
    """
    try:
        score = services.clean_score(data.get("score", ""))
        comment = services.clean_comment(data.get("comment", ""))
    except ValidationError:
        return None
    if "\x00" in comment:  # what the form's CharField refuses
        return None
    return score, comment


@functools.lru_cache(maxsize=1024)
def _public_thanks_url(script_prefix: str, slug: str) -> str:
    # reverse() cost a twentieth of the survey POST; the URL only depends on these two.
    return reverse("surveys:public-thanks", args=[slug])


def _selected(form):
    value = form["score"].value()
    try:
        return services.clean_score(value) if value not in (None, "") else None
    except Exception:
        return None


def respond_thanks(request, token):
    try:
        invitation = services.invitation_get_for_token(token)
    except services.SurveyError as error:
        return _survey_error(request, error)
    with translation.override(invitation.locale or request.LANGUAGE_CODE):
        return render(
            request,
            "surveys/survey_thanks.html",
            {
                "touchpoint_name": invitation.touchpoint.customer_name(),
                "again_url": reverse("surveys:respond", args=[token]),
            },
        )


@require_http_methods(["GET", "POST"])
def public(request, slug):
    """A touchpoint's public link (kiosks, QR codes): anonymous responses."""
    touchpoint = selectors.public_touchpoint(slug)
    if touchpoint is None:
        raise Http404("No such survey")
    busy, wait = False, 0.0
    if request.method == "POST":
        # Anyone may answer, so no one may flood a touchpoint's NPS or its team's queue
        # (unless the deployment's proxy limits it already: PUBLIC_SURVEY_RATE empty).
        if settings.PUBLIC_SURVEY_RATE:
            wait = caching.over_rate(
                f"rate:public-survey:{touchpoint.pk}:{addresses.client_network(request)}",
                settings.PUBLIC_SURVEY_RATE,
                doing="counting public-survey answers: they go unlimited",
            )
        answer = None if wait else _valid_answer(request.POST)
        if answer is not None:
            services.response_record(
                touchpoint=touchpoint,
                score=answer[0],
                comment=answer[1],
                channel=Invitation.Channel.WEB,
            )
            return HttpResponseRedirect(_public_thanks_url(get_script_prefix(), slug))
        form = ResponseForm(request.POST)
        if wait:  # the answer is kept in the form, to send again in a moment
            busy, status = True, 429
        else:
            form.is_valid()  # only to show what is wrong
            status = 400
    else:
        form = ResponseForm(initial={"score": _initial_score(request)})
        status = 200
    page = render(
        request,
        "surveys/survey_form.html",
        {
            "form": form,
            "touchpoint_name": touchpoint.customer_name(),
            "question": touchpoint.customer_question(),
            "selected": _selected(form),
            "scale": range(11),
            "unsent": not form.is_bound and _selected(form) is not None,
            "busy": busy,
        },
        status=status,
    )
    if busy:
        page["Retry-After"] = str(int(wait))
    return page


def public_thanks(request, slug):
    touchpoint = selectors.public_touchpoint(slug)
    if touchpoint is None:
        raise Http404("No such survey")
    return render(
        request,
        "surveys/survey_thanks.html",
        {
            "touchpoint_name": touchpoint.customer_name(),
            "again_url": reverse("surveys:public", args=[slug]),
            "public": True,
        },
    )


# The token in the URL is the credential; RFC 8058 one-click unsubscribe POSTs come
# from mail providers without a CSRF token.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    invitation = Invitation.objects.select_related("person").filter(token=token).first()
    if invitation is None:
        return _survey_error(
            request, services.SurveyError(_("This link is not valid."), "not_found")
        )
    with translation.override(invitation.locale or request.LANGUAGE_CODE):
        done = invitation.person.unsubscribed_at is not None
        if request.method == "POST":
            services.person_unsubscribe(person=invitation.person)
            done = True
        return render(request, "surveys/unsubscribe.html", {"done": done, "token": token})


# --- CX admins: the responses list, CSV export and import ---------------------------


def _cx_admins_only(view):
    """Login first (anonymous → the login page); then 404 for anyone but CX admins, as
    for any page a user may not see (design §6: responses carry contact details)."""

    @login_required
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not roles.is_cx_admin(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


def _filtered_responses(request):
    """The list page's filters (the API's ResponseFilter, plus a search in comments)."""
    filterset = ResponseFilter(request.GET, queryset=Response.objects.with_related())
    queryset = filterset.qs if filterset.is_valid() else Response.objects.none()
    q = request.GET.get("q", "").strip()[:200]
    if q:
        queryset = queryset.filter(comment__icontains=q)
    return filterset, queryset, q


RESPONSES_PER_PAGE = 50


@_cx_admins_only
def responses_list(request):
    filterset, queryset, q = _filtered_responses(request)
    page = Paginator(queryset.order_by("-created_at", "-pk"), RESPONSES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    # What other apps link from each row (a detractor's follow-up case): one query a page.
    page.object_list = list(page.object_list)
    links = selectors.response_links_for(
        user=request.user, response_ids=[r.pk for r in page.object_list]
    )
    for r in page.object_list:
        r.links = links.get(r.pk, [])
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "surveys/responses.html",
        {
            "filterset": filterset,
            # Named as the form names them ("From", not "since").
            "errors": [
                (filterset.form.fields[name].label if name in filterset.form.fields else name, e)
                for name, e in filterset.errors.items()
            ],
            "page": page,
            "q": q,
            "query": query.urlencode(),
            "touchpoints": Touchpoint.objects.order_by("name"),
            "categories": Response.Category.choices,
        },
        status=400 if filterset.errors else 200,
    )


@_cx_admins_only
def responses_export(request):
    filterset, queryset, _q = _filtered_responses(request)
    if filterset.errors:
        lines = [f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items()]
        return HttpResponseBadRequest("\n".join(lines), content_type="text/plain; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y-%m-%d-%H%M")
    return exports.responses_csv_response(queryset, filename=f"responses-{stamp}.csv")


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="CX Hub's own export or Delighted's CSV export, at most "
        f"{imports.MAX_UPLOAD_BYTES // 1024 // 1024} MB.",
    )
    default_touchpoint = forms.ModelChoiceField(
        queryset=Touchpoint.objects.order_by("name"),
        required=False,
        empty_label="— none —",
        to_field_name="slug",
        help_text="For rows that name no touchpoint (Delighted exports never do).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:  # one active touchpoint: the only sensible default
            active = list(Touchpoint.objects.filter(active=True).order_by("pk")[:2])
            if len(active) == 1:
                self.initial.setdefault("default_touchpoint", active[0])

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > imports.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The file is too big: {upload.size / 1024 / 1024:.1f} MB, at most "
                f"{imports.MAX_UPLOAD_BYTES // 1024 // 1024} MB. Split it and import the parts."
            )
        return upload


@_cx_admins_only
@require_http_methods(["GET", "POST"])
def import_new(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            response_import = imports.response_import_create(
                filename=upload.name,
                content=imports.decode_upload(upload.read()),
                default_touchpoint=form.cleaned_data["default_touchpoint"],
                created_by=request.user,
            )
        except imports.ImportFileError as error:
            form.add_error(error.field, str(error))
        else:
            return redirect("surveys:import-detail", pk=response_import.pk)
    return render(
        request,
        "surveys/import_new.html",
        {"form": form, "recent": ResponseImport.objects.defer("content")[:10]},
        status=400 if form.errors else 200,
    )


@_cx_admins_only
def import_detail(request, pk):
    response_import = imports.response_import_get_for_user(request.user, pk)
    context = {"imp": response_import}
    if request.htmx:
        return render(request, "surveys/_import_progress.html", context)
    return render(request, "surveys/import_detail.html", context)
