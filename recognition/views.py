"""Customer Champions pages. Login → access check → form → service → redirect."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from cxhub import roles
from cxhub.models import Team
from recognition import selectors, services
from recognition.forms import NicknameForm, PostcardForm
from recognition.models import Postcard, Profile, ShoutOut, Value
from surveys import nps
from surveys.models import Response

User = get_user_model()


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@login_required
def feed(request):
    team_id, value_id = _int(request.GET.get("team")), _int(request.GET.get("value"))
    return render(
        request,
        "recognition/feed.html",
        {
            "postcards": selectors.feed(team_id=team_id, value_id=value_id),
            "teams": Team.objects.all(),
            "values": Value.objects.all(),
            "team_id": team_id,
            "value_id": value_id,
        },
    )


def _inspiring_response(response_id):
    """Only promoter praise may be attached to a postcard (it is shown to everyone)."""
    if response_id is None:
        return None
    return (
        Response.objects.filter(pk=response_id, category=nps.PROMOTER).exclude(comment="").first()
    )


@login_required
def send(request):
    form = PostcardForm(
        request.POST or None, initial={"response": _int(request.GET.get("response"))}
    )
    error = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            postcard, created = services.postcard_send(
                sender=request.user,
                recipient=data["recipient"],
                value=data["value"],
                message=data["message"],
                response=_inspiring_response(data["response"]),
                idempotency_key=data["idempotency_key"],
            )
        except services.RecognitionError as exc:
            error = str(exc)
        else:
            if created:
                messages.success(
                    request, f"Postcard sent to {postcard.recipient.get_full_name()}. Thank you!"
                )
            return redirect("recognition:feed")
    chosen = form["recipient"].value() if form.is_bound else None
    response_id = form["response"].value()
    return render(
        request,
        "recognition/send.html",
        {
            "form": form,
            "error": error,
            "chosen": User.objects.filter(pk=_int(chosen)).first() if chosen else None,
            "inspiration": _inspiring_response(_int(response_id)),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
def colleague_search(request):
    people = selectors.colleagues_matching(request.GET.get("q", ""), exclude_user=request.user)
    return render(
        request, "recognition/_colleagues.html", {"people": people, "q": request.GET.get("q", "")}
    )


@login_required
def person(request, username):
    user = get_object_or_404(User, username=username, is_active=True)
    return render(
        request,
        "recognition/person.html",
        {
            "person": user,
            "postcards": selectors.received_by(user),
            "profile": Profile.objects.filter(user=user).first(),
        },
    )


@login_required
def leaderboard(request):
    period = request.GET.get("period", "month")
    if period not in selectors.PERIODS:
        period = "month"
    by = "team" if request.GET.get("by") == "team" else "person"
    return render(
        request,
        "recognition/leaderboard.html",
        {
            "ranks": selectors.leaderboard(period=period, by=by),
            "period": period,
            "by": by,
            "periods": selectors.PERIODS,
            "start": selectors.period_start(period),
        },
    )


@login_required
def praise(request):
    admin = roles.is_cx_admin(request.user)
    return render(
        request,
        "recognition/praise.html",
        {"praise": selectors.praise_wall(include_excluded=False), "can_exclude": admin},
    )


@login_required
@require_POST
def praise_exclude(request, response_id):
    if not roles.is_cx_admin(request.user):
        return HttpResponseForbidden("Only CX admins can take comments off the praise wall.")
    response = get_object_or_404(Response, pk=response_id, category=nps.PROMOTER)
    services.praise_exclude(response=response, by=request.user)
    if request.htmx:
        return render(request, "recognition/_excluded.html")
    messages.success(request, "Comment taken off the praise wall.")
    return redirect("recognition:praise")


@login_required
@require_POST
def postcard_hide(request, pk):
    if not roles.is_cx_admin(request.user):
        return HttpResponseForbidden("Only CX admins can hide postcards.")
    postcard = get_object_or_404(Postcard, pk=pk)
    services.postcard_hide(
        postcard=postcard, by=request.user, reason=request.POST.get("reason", "")
    )
    if request.htmx:
        return render(request, "recognition/_hidden.html")
    messages.success(request, "Postcard hidden. It no longer counts anywhere.")
    return redirect("recognition:feed")


def _shoutout_for(request, pk) -> ShoutOut:
    shoutout = get_object_or_404(ShoutOut.objects.select_related("response"), pk=pk)
    if not services.can_decide_shoutout(request.user, shoutout):
        raise Http404("No such shout-out")
    return shoutout


@login_required
def shoutouts(request):
    return render(
        request, "recognition/shoutouts.html", {"shoutouts": selectors.shoutouts_for(request.user)}
    )


@login_required
@require_POST
def shoutout_publish(request, pk):
    shoutout = _shoutout_for(request, pk)
    recipient = None
    if request.POST.get("recipient"):
        recipient = User.objects.filter(pk=_int(request.POST["recipient"])).first()
    try:
        postcard = services.shoutout_publish(
            shoutout=shoutout, by=request.user, recipient=recipient
        )
    except services.RecognitionError as exc:
        messages.error(request, str(exc))
        status = 400
    else:
        messages.success(
            request, f"Published: {postcard.recipient.get_full_name()} is a Customer Champion."
        )
        status = 200
    if request.htmx:
        shoutout.refresh_from_db()
        return render(request, "recognition/_shoutout.html", {"s": shoutout}, status=status)
    return redirect("recognition:shoutouts")


@login_required
@require_POST
def shoutout_dismiss(request, pk):
    shoutout = _shoutout_for(request, pk)
    try:
        services.shoutout_dismiss(shoutout=shoutout, by=request.user)
    except services.RecognitionError as exc:
        messages.error(request, str(exc))
    if request.htmx:
        shoutout.refresh_from_db()
        return render(request, "recognition/_shoutout.html", {"s": shoutout})
    return redirect("recognition:shoutouts")


@login_required
def my_profile(request):
    profile = Profile.objects.filter(user=request.user).first()
    form = NicknameForm(
        request.POST or None, initial={"nickname": profile.nickname if profile else ""}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_set_nickname(user=request.user, nickname=form.cleaned_data["nickname"])
        except services.RecognitionError as exc:
            form.add_error("nickname", str(exc))
        else:
            messages.success(request, "Saved.")
            return redirect("recognition:person", username=request.user.username)
    return render(
        request, "recognition/me.html", {"form": form}, status=400 if form.errors else 200
    )
