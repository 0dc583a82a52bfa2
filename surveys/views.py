"""Public survey pages: no account, mobile first, in the invitation's language."""

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from surveys import selectors, services
from surveys.forms import ResponseForm
from surveys.models import Invitation, Response

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
            form = ResponseForm(request.POST)
            if form.is_valid():
                try:
                    services.response_record(
                        touchpoint=invitation.touchpoint,
                        invitation=invitation,
                        score=form.cleaned_data["score"],
                        comment=form.cleaned_data["comment"],
                    )
                except services.SurveyError as error:
                    return _survey_error(request, error)
                return redirect("surveys:respond-thanks", token=token)
            status = 400
        else:
            score = _initial_score(request)
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
                "touchpoint": invitation.touchpoint,
                "question": services.question_for(invitation.touchpoint),
                "selected": _selected(form),
                "answered_before": existing is not None,
                "scale": range(11),
                "unsubscribe_token": token,
            },
            status=status,
        )


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
                "touchpoint": invitation.touchpoint,
                "again_url": reverse("surveys:respond", args=[token]),
            },
        )


@require_http_methods(["GET", "POST"])
def public(request, slug):
    """A touchpoint's public link (kiosks, QR codes): anonymous responses."""
    touchpoint = selectors.public_touchpoint(slug)
    if touchpoint is None:
        raise Http404("No such survey")
    if request.method == "POST":
        form = ResponseForm(request.POST)
        if form.is_valid():
            services.response_record(
                touchpoint=touchpoint,
                score=form.cleaned_data["score"],
                comment=form.cleaned_data["comment"],
                channel=Invitation.Channel.WEB,
            )
            return redirect("surveys:public-thanks", slug=slug)
        status = 400
    else:
        form = ResponseForm(initial={"score": _initial_score(request)})
        status = 200
    return render(
        request,
        "surveys/survey_form.html",
        {
            "form": form,
            "touchpoint": touchpoint,
            "question": services.question_for(touchpoint),
            "selected": _selected(form),
            "scale": range(11),
        },
        status=status,
    )


def public_thanks(request, slug):
    touchpoint = selectors.public_touchpoint(slug)
    if touchpoint is None:
        raise Http404("No such survey")
    return render(
        request,
        "surveys/survey_thanks.html",
        {"touchpoint": touchpoint, "again_url": reverse("surveys:public", args=[slug])},
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
