"""Customer Champions pages. Login → access helper → form → service → redirect or render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from cxhub.models import Team
from recognition import selectors, services
from recognition.forms import NicknameForm, PostcardForm, PostcardHideForm
from recognition.models import Profile, Value
from surveys.services import digits_id


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _name(user) -> str:
    return user.get_full_name() or user.username


def _page(request, **filters) -> dict:
    """One page of the feed, and the cursor of the next ("older") page if there is one."""
    postcards = selectors.feed(
        before=_int(request.GET.get("before")), limit=selectors.FEED_PAGE + 1, **filters
    )
    more = len(postcards) > selectors.FEED_PAGE
    postcards = postcards[: selectors.FEED_PAGE]
    return {"postcards": postcards, "older": postcards[-1].pk if more else None}


@login_required
def feed(request):
    team_id, value_id = _int(request.GET.get("team")), _int(request.GET.get("value"))
    return render(
        request,
        "recognition/feed.html",
        {
            **_page(request, team_id=team_id, value_id=value_id),
            "teams": Team.objects.all(),
            "values": Value.objects.all(),
            "team_id": team_id,
            "value_id": value_id,
        },
    )


@login_required
def send(request):
    recipient = None
    if request.GET.get("to"):
        recipient = selectors.colleagues_by_username(request.GET["to"], exclude_user=request.user)
    elif request.GET.get("response"):  # the praise names a colleague: them
        recipient = selectors.praise_named_colleague(
            _int(request.GET["response"]), exclude_user=request.user
        )
    form = PostcardForm(
        request.POST if request.method == "POST" else None,
        initial={
            "response": _int(request.GET.get("response")),
            "recipient": recipient.pk if recipient else None,
        },
    )
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            postcard, created = services.postcard_send(
                sender=request.user,
                recipient=data["recipient"],
                value=data["value"],
                message=data["message"],
                response=selectors.praise_response(data["response"]),
                idempotency_key=data["idempotency_key"],
            )
        except services.RecognitionError as exc:
            form.add_error(None, str(exc))
        else:
            if created:
                messages.success(
                    request, f"Postcard sent to {_name(postcard.recipient)}. Thank you!"
                )
            else:
                messages.info(
                    request, f"Your postcard to {_name(postcard.recipient)} was already sent."
                )
            return redirect("recognition:feed")
    chosen = form.cleaned_data.get("recipient") if form.is_bound else recipient
    if chosen is not None and chosen.pk == request.user.pk:
        chosen = None  # refused: they pick a colleague again
    # Without JavaScript the search box submits the form: the colleagues it matches are
    # listed to pick from (with it, htmx lists them as one types).
    query = request.POST.get("q", "").strip() if form.is_bound and chosen is None else ""
    inspiration = selectors.praise_response(_int(form["response"].value()))
    return render(
        request,
        "recognition/send.html",
        {
            "form": form,
            "chosen": chosen,
            "q": query,
            "people": selectors.colleagues_matching(query, exclude_user=request.user)
            if query
            else [],
            "left_today": max(
                0, services.daily_cap() - services.postcards_sent_today(request.user)
            ),
            "daily_cap": services.daily_cap(),
            "inspiration": selectors.praise_of(inspiration) if inspiration else None,
        },
        status=400 if form.is_bound else 200,
    )


@login_required
def colleague_search(request):
    query = request.GET.get("q", "")
    people = selectors.colleagues_matching(query, exclude_user=request.user)
    # keep: the form has a colleague chosen already; a lone match must not replace them.
    keep = request.GET.get("keep") == "1"
    return render(
        request, "recognition/_colleagues.html", {"people": people, "q": query, "keep": keep}
    )


@login_required
def person(request, username):
    colleague = selectors.person_get(username=username)
    return render(
        request,
        "recognition/person.html",
        {
            **_page(request, recipient=colleague),
            "person": colleague,
            "received": selectors.received_count(colleague),
            "profile": Profile.objects.filter(user=colleague).first(),
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
    before = request.GET.get("before")
    before_id = None if before is None else digits_id(before)
    if before is not None and before_id is None:
        return HttpResponseBadRequest("“before” must be a response id.")
    praise = selectors.praise_wall(before=before_id, limit=selectors.PRAISE_PAGE + 1)
    more = len(praise) > selectors.PRAISE_PAGE
    older = praise[selectors.PRAISE_PAGE - 1].response_id if more else None
    return render(
        request,
        "recognition/praise.html",
        {
            "praise": praise[: selectors.PRAISE_PAGE],
            "older": older,
            "paged": before_id is not None,
        },
    )


@login_required
@require_POST
def praise_exclude(request, response_id):
    response = selectors.praise_get_for_moderation(user=request.user, response_id=response_id)
    services.praise_exclude(response=response, by=request.user)
    if request.htmx:
        return render(request, "recognition/_excluded.html")
    messages.success(request, "Comment taken off the praise wall.")
    return redirect("recognition:praise")


@login_required
@require_POST
def postcard_hide(request, pk):
    postcard = selectors.postcard_get_for_moderation(user=request.user, pk=pk)
    form = PostcardHideForm(request.POST)
    if not form.is_valid():
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        return HttpResponseBadRequest(
            "The postcard was not hidden. " + " ".join(errors),
            content_type="text/plain; charset=utf-8",
        )
    services.postcard_hide(postcard=postcard, by=request.user, reason=form.cleaned_data["reason"])
    if request.htmx:
        return render(request, "recognition/_hidden.html")
    messages.success(request, "Postcard hidden. It no longer counts anywhere.")
    return _redirect_back(request, form.cleaned_data["next"], default="recognition:feed")


def _redirect_back(request, back: str, *, default: str):
    """To `back` if it is a path on this site, else to the `default` view. `back` is
    never resolved as a view name (redirect("foo") is a NoReverseMatch)."""
    if back.startswith("/") and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(back)
    return redirect(default)


@login_required
def shoutouts(request):
    shoutouts, waiting = selectors.shoutouts_pending_for(request.user)
    return render(
        request, "recognition/shoutouts.html", {"shoutouts": shoutouts, "waiting": waiting}
    )


def _shoutout_decided(request, shoutout, status=200):
    if request.htmx:
        shoutout.refresh_from_db()
        return render(
            request,
            "recognition/_shoutout.html",
            {"s": selectors.shoutout_view(shoutout)},
            status=status,
        )
    return redirect("recognition:shoutouts")


@login_required
@require_POST
def shoutout_publish(request, pk):
    shoutout = selectors.shoutout_get_for_user(user=request.user, pk=pk)
    recipient = None
    if request.POST.get("recipient"):
        recipient = next(
            (c for c in shoutout.candidates.all() if c.pk == _int(request.POST["recipient"])),
            None,
        )
        if recipient is None:
            messages.error(request, "Choose one of the colleagues the name matches.")
            return _shoutout_decided(request, shoutout, status=400)
    try:
        postcard = services.shoutout_publish(
            shoutout=shoutout, by=request.user, recipient=recipient
        )
    except services.RecognitionError as exc:
        messages.error(request, str(exc))
        return _shoutout_decided(request, shoutout, status=400)
    messages.success(request, f"Published: {_name(postcard.recipient)} is a Customer Champion.")
    return _shoutout_decided(request, shoutout)


@login_required
@require_POST
def shoutout_dismiss(request, pk):
    shoutout = selectors.shoutout_get_for_user(user=request.user, pk=pk)
    try:
        services.shoutout_dismiss(shoutout=shoutout, by=request.user)
    except services.RecognitionError as exc:
        messages.error(request, str(exc))
        return _shoutout_decided(request, shoutout, status=400)
    messages.info(request, "Dismissed.")
    return _shoutout_decided(request, shoutout)


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
            messages.success(request, "Nickname saved.")
            return redirect("recognition:person", username=request.user.username)
    return render(
        request, "recognition/me.html", {"form": form}, status=400 if form.errors else 200
    )
