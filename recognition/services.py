"""Writes for recognition: postcards, hiding, praise moderation, customer shout-outs."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from cxhub import roles
from cxhub.models import Membership
from cxhub.queue import enqueue_on_commit
from recognition.models import Postcard, PostcardMonthly, PraiseExclusion, Profile, ShoutOut, Value
from surveys import nps
from surveys.models import Response

User = get_user_model()
MESSAGE_MAX_LENGTH = 1000
SHOUT_OUT_VALUE = "Customer shout-out"


class RecognitionError(Exception):
    """Something the rules do not allow; the message says what."""


def daily_cap() -> int:
    return getattr(settings, "POSTCARD_DAILY_CAP", 5)


def _month(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date().replace(day=1)


def _count(recipient_id: int, moment: dt.datetime, delta: int) -> None:
    """Keep PostcardMonthly in step; call inside the postcard's transaction."""
    month = _month(moment)
    updated = PostcardMonthly.objects.filter(recipient_id=recipient_id, month=month).update(
        received=F("received") + delta
    )
    if not updated:
        try:
            with transaction.atomic():
                PostcardMonthly.objects.create(
                    recipient_id=recipient_id, month=month, received=delta
                )
        except IntegrityError:  # created by a concurrent postcard: add to it
            PostcardMonthly.objects.filter(recipient_id=recipient_id, month=month).update(
                received=F("received") + delta
            )


def postcard_send(
    *,
    sender,
    recipient,
    value: Value,
    message: str,
    idempotency_key: str,
    response: Response | None = None,
    from_customer: bool = False,
) -> tuple[Postcard, bool]:
    """Send a Customer Champion postcard. Returns (postcard, created).

    Refuses a postcard to oneself, an empty or over-long message, an inactive value
    and more than the daily cap per sender (customer shout-outs do not count). The
    same idempotency key from the same sender returns the first postcard: a double
    submit sends one. The recipient and their team lead are emailed after commit.
    """
    message = (message or "").strip()
    if not idempotency_key:
        raise RecognitionError("The form expired: reload the page and try again.")
    existing = Postcard.objects.filter(sender=sender, idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing, False
    if recipient.pk == sender.pk and not from_customer:
        raise RecognitionError("You cannot send a postcard to yourself — pick a colleague.")
    if not recipient.is_active:
        raise RecognitionError("That colleague's account is not active.")
    if not message:
        raise RecognitionError("Write a message: what did they do for the customer?")
    if len(message) > MESSAGE_MAX_LENGTH:
        raise RecognitionError(
            f"The message is {len(message)} characters long; keep it under {MESSAGE_MAX_LENGTH}."
        )
    if not value.active:
        raise RecognitionError("That value is no longer offered; choose another.")
    now = timezone.now()
    with transaction.atomic():
        # Serialise one sender's postcards so that two tabs cannot both pass the cap.
        User.objects.select_for_update().filter(pk=sender.pk).first()
        if not from_customer:
            start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
            sent_today = Postcard.objects.filter(
                sender=sender, from_customer=False, created_at__gte=start
            ).count()
            if sent_today >= daily_cap():
                raise RecognitionError(
                    f"You have sent {sent_today} postcards today, the daily limit. "
                    "Save this one for tomorrow!"
                )
        try:
            with transaction.atomic():
                postcard = Postcard.objects.create(
                    sender=sender,
                    recipient=recipient,
                    value=value,
                    message=message,
                    response=response,
                    from_customer=from_customer,
                    idempotency_key=idempotency_key,
                    created_at=now,
                )
        except IntegrityError:
            return Postcard.objects.get(sender=sender, idempotency_key=idempotency_key), False
        _count(recipient.pk, now, +1)
        from recognition import tasks

        enqueue_on_commit(tasks.postcard_notify, postcard.pk)
    return postcard, True


def postcard_hide(*, postcard: Postcard, by, reason: str = "") -> Postcard:
    """A CX admin hides an abusive postcard: it then counts nowhere; who and when is kept."""
    if not roles.is_cx_admin(by):
        raise RecognitionError("Only CX admins can hide postcards.")
    with transaction.atomic():
        postcard = Postcard.objects.select_for_update().get(pk=postcard.pk)
        if postcard.hidden_at is not None:
            return postcard
        postcard.hidden_at = timezone.now()
        postcard.hidden_by = by
        postcard.hidden_reason = (reason or "").strip()[:200]
        postcard.save(update_fields=["hidden_at", "hidden_by", "hidden_reason"])
        _count(postcard.recipient_id, postcard.created_at, -1)
    return postcard


def postcard_notify(*, postcard_id: int) -> int:
    """Email the recipient and their team lead(s). Returns the number of emails sent."""
    postcard = Postcard.objects.for_feed().filter(pk=postcard_id, hidden_at__isnull=True).first()
    if postcard is None:
        return 0
    url = settings.SITE_URL + reverse("recognition:person", args=[postcard.recipient.username])
    context = {"postcard": postcard, "url": url}
    sent = 0
    if postcard.recipient.email:
        send_mail(
            subject=f"You are a Customer Champion: {postcard.value.name}",
            message=render_to_string("recognition/email/postcard.txt", context),
            from_email=None,
            recipient_list=[postcard.recipient.email],
        )
        sent += 1
    leads = (
        User.objects.filter(
            memberships__role=Membership.Role.LEAD,
            memberships__team__memberships__user=postcard.recipient,
            is_active=True,
        )
        .exclude(pk=postcard.recipient_id)
        .exclude(email="")
        .distinct()
    )
    for lead in leads:
        send_mail(
            subject=f"{postcard.recipient.get_full_name()} received a Customer Champion postcard",
            message=render_to_string(
                "recognition/email/postcard_lead.txt", {**context, "lead": lead}
            ),
            from_email=None,
            recipient_list=[lead.email],
        )
        sent += 1
    return sent


def praise_exclude(*, response: Response, by) -> PraiseExclusion:
    if not roles.is_cx_admin(by):
        raise RecognitionError("Only CX admins can take comments off the praise wall.")
    exclusion, _ = PraiseExclusion.objects.get_or_create(
        response=response, defaults={"excluded_by": by}
    )
    return exclusion


def profile_set_nickname(*, user, nickname: str) -> Profile:
    nickname = (nickname or "").strip()
    if nickname and len(_words(nickname)) == 0:
        raise RecognitionError("A nickname needs letters.")
    profile, _ = Profile.objects.get_or_create(user=user)
    profile.nickname = nickname[:40]
    profile.save(update_fields=["nickname"])
    return profile


# --- customer shout-outs ------------------------------------------------------------


def _fold(text: str) -> str:
    """Lower case without accents, so 'Chloé' in a comment matches 'Chloe' and back."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:['-][a-z0-9]+)*", _fold(text))


def _names_index():
    """Every way a customer may name an active employee: 'first last' and nicknames."""
    index: dict[tuple[str, ...], set[int]] = {}
    staff = User.objects.filter(is_active=True, memberships__isnull=False).distinct()
    for user_id, first, last in staff.values_list("pk", "first_name", "last_name"):
        if first and last:
            index.setdefault(tuple(_words(f"{first} {last}")), set()).add(user_id)
    for user_id, nickname in (
        Profile.objects.exclude(nickname="")
        .filter(user__is_active=True)
        .values_list("user_id", "nickname")
    ):
        key = tuple(_words(nickname))
        if key:
            index.setdefault(key, set()).add(user_id)
    return index


def names_in(comment: str) -> dict[str, set[int]]:
    """The employee names a comment mentions, as {name as written: matching user ids}."""
    words = _words(comment)
    found: dict[str, set[int]] = {}
    for key, user_ids in _names_index().items():
        n = len(key)
        for i in range(len(words) - n + 1):
            if tuple(words[i : i + n]) == key:
                found.setdefault(" ".join(key), set()).update(user_ids)
                break
    # "Sarah Lopez" also contains a nickname "Sarah": keep the longest name only.
    for name in list(found):
        if any(name != other and f" {name} " in f" {other} " for other in found):
            del found[name]
    return found


def _lead_of(user_ids: set[int], fallback_team_id: int | None):
    teams = set(Membership.objects.filter(user_id__in=user_ids).values_list("team_id", flat=True))
    if len(teams) != 1 and fallback_team_id is not None:
        teams = {fallback_team_id}
    return (
        User.objects.filter(
            memberships__team_id__in=teams, memberships__role=Membership.Role.LEAD, is_active=True
        )
        .order_by("pk")
        .first()
    )


def shoutouts_suggest(*, response_id: int) -> list[ShoutOut]:
    """Propose a postcard "from the customer" for every employee a promoter comment names.

    A name that fits one person goes to that person's team lead; a name that fits
    several is not guessed: all of them are candidates, for the lead of the
    touchpoint's team to choose. Safe to run twice.
    """
    response = Response.objects.select_related("touchpoint").filter(pk=response_id).first()
    if response is None or response.category != nps.PROMOTER or not response.comment:
        return []
    made = []
    for name, user_ids in names_in(response.comment).items():
        lead = _lead_of(user_ids, response.touchpoint.owner_team_id)
        with transaction.atomic():
            shoutout, created = ShoutOut.objects.get_or_create(
                response=response, matched_name=name, defaults={"lead": lead}
            )
            if created:
                shoutout.candidates.set(user_ids)
                made.append(shoutout)
    return made


def _shoutout_value() -> Value:
    value, _ = Value.objects.get_or_create(name=SHOUT_OUT_VALUE, defaults={"position": 999})
    return value


def can_decide_shoutout(user, shoutout: ShoutOut) -> bool:
    return roles.is_cx_admin(user) or shoutout.lead_id == user.pk


def shoutout_publish(*, shoutout: ShoutOut, by, recipient=None) -> Postcard:
    """The lead publishes the customer's praise as a postcard, in one click."""
    if not can_decide_shoutout(by, shoutout):
        raise RecognitionError("Only the team lead this shout-out was sent to can publish it.")
    with transaction.atomic():
        shoutout = ShoutOut.objects.select_for_update().get(pk=shoutout.pk)
        if shoutout.status != ShoutOut.Status.PENDING:
            raise RecognitionError("This shout-out was already handled.")
        candidates = list(shoutout.candidates.all())
        if recipient is None:
            if len(candidates) != 1:
                raise RecognitionError(
                    "Several colleagues have this name: choose who the customer meant."
                )
            recipient = candidates[0]
        elif recipient.pk not in {c.pk for c in candidates}:
            raise RecognitionError("Choose one of the colleagues the name matches.")
        response = Response.objects.select_related("person").get(pk=shoutout.response_id)
        customer = response.person.first_name_and_initial if response.person else "A customer"
        postcard, _ = postcard_send(
            sender=by,
            recipient=recipient,
            value=_shoutout_value(),
            message=f"{customer} wrote: “{response.comment[:900]}”",
            response=response,
            from_customer=True,
            idempotency_key=f"shoutout-{shoutout.pk}",
        )
        shoutout.status = ShoutOut.Status.PUBLISHED
        shoutout.postcard = postcard
        shoutout.decided_at = timezone.now()
        shoutout.save(update_fields=["status", "postcard", "decided_at"])
    return postcard


def shoutout_dismiss(*, shoutout: ShoutOut, by) -> ShoutOut:
    if not can_decide_shoutout(by, shoutout):
        raise RecognitionError("Only the team lead this shout-out was sent to can dismiss it.")
    updated = ShoutOut.objects.filter(pk=shoutout.pk, status=ShoutOut.Status.PENDING).update(
        status=ShoutOut.Status.DISMISSED, decided_at=timezone.now()
    )
    if not updated:
        raise RecognitionError("This shout-out was already handled.")
    shoutout.refresh_from_db()
    return shoutout
