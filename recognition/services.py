"""Writes for recognition: postcards, hiding, praise moderation, nicknames, customer
shout-outs, and the per-period counters the leaderboard reads.

Every service that writes several rows is one transaction; email goes out after the
commit, from a Celery task.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections import defaultdict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, DateField
from django.db.models.functions import TruncMonth
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from cxhub import caching, leases, roles
from cxhub.models import Membership, Team
from cxhub.queue import enqueue_on_commit, publish
from recognition.models import (
    MESSAGE_MAX_LENGTH,
    Postcard,
    PostcardCount,
    PraiseExclusion,
    Profile,
    ShoutOut,
    Value,
)
from surveys import nps
from surveys.models import Response
from surveys.privacy import customer_label, fold, scrub_comment

logger = logging.getLogger(__name__)
User = get_user_model()
SHOUT_OUT_VALUE = "Customer shout-out"
NICKNAME_MAX_LENGTH = 40


class RecognitionError(Exception):
    """Something the rules do not allow; the message says what, in words for the user."""


def daily_cap() -> int:
    return getattr(settings, "POSTCARD_DAILY_CAP", 5)


def postcards_sent_today(sender, *, now: dt.datetime | None = None) -> int:
    """What the daily cap counts: the sender's own postcards of this local day (hidden
    ones too: they were sent; shout-outs published from a customer's praise are not)."""
    start = local_day_start(now or timezone.now())
    return Postcard.objects.filter(
        sender=sender, from_customer=False, created_at__gte=start
    ).count()


# --- time: days and months are cut in settings.TIME_ZONE ------------------------------


def local_day_start(moment: dt.datetime) -> dt.datetime:
    """Midnight of the local day containing `moment`, in the installation's zone."""
    zone = timezone.get_default_timezone()
    day = timezone.localtime(moment, zone).date()
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone)


def local_month(moment: dt.datetime) -> dt.date:
    """First day of the local month containing `moment`."""
    return timezone.localtime(moment, timezone.get_default_timezone()).date().replace(day=1)


# --- leaders ------------------------------------------------------------------------


def _team_lead(team: Team):
    """A team's lead: Team.lead, or else its first member with the lead role."""
    if team.lead_id and team.lead.is_active:
        return team.lead
    membership = (
        Membership.objects.filter(team=team, role=Membership.Role.LEAD, user__is_active=True)
        .select_related("user")
        .order_by("pk")
        .first()
    )
    return membership.user if membership else None


def leads_of(user) -> list:
    """The leads of every team `user` belongs to, `user` excepted."""
    leads = {}
    for team in Team.objects.filter(memberships__user=user).select_related("lead"):
        lead = _team_lead(team)
        if lead is not None and lead.pk != user.pk:
            leads[lead.pk] = lead
    return list(leads.values())


# --- leaderboard counters -------------------------------------------------------------


def counter_keys(month: dt.date) -> list[tuple[str, dt.date]]:
    """The (period, start) counters a postcard of this local month adds to."""
    return [
        (PostcardCount.Period.MONTH, month),
        (PostcardCount.Period.QUARTER, month.replace(month=3 * ((month.month - 1) // 3) + 1)),
        (PostcardCount.Period.YEAR, month.replace(month=1)),
        (PostcardCount.Period.ALL, PostcardCount.ALL_TIME_START),
    ]


# Identifiers are quoted the standard way, which PostgreSQL and SQLite both accept.
COUNT_SQL = (
    'INSERT INTO "recognition_postcardcount" ("recipient_id", "period", "start", "received") '
    "VALUES (%s, %s, %s, %s), (%s, %s, %s, %s), (%s, %s, %s, %s), (%s, %s, %s, %s) "
    'ON CONFLICT ("period", "start", "recipient_id") DO UPDATE '
    'SET "received" = "recognition_postcardcount"."received" + EXCLUDED."received"'
)


def _count(recipient_id: int, moment: dt.datetime, delta: int) -> None:
    """Add `delta` to the recipient's four counters for the local month of `moment`.

    One INSERT … ON CONFLICT DO UPDATE (PostgreSQL and SQLite), so concurrent postcards
    to the same person add up without a lost update. Called inside the transaction
    that sends or hides the postcard: counters and postcards commit together.
    """
    keys = counter_keys(local_month(moment))
    params = [
        v for period, start in keys for v in (recipient_id, str(period), start.isoformat(), delta)
    ]
    with connection.cursor() as cursor:
        cursor.execute(COUNT_SQL, params)


def postcard_counters_rebuild() -> int:
    """Recompute every leaderboard counter from the visible postcards. Returns the
    number of counter rows written or deleted.

    The postcards are the truth; the counters are a copy kept in step by the send and
    hide services. This repairs them after a bulk load or a change of TIME_ZONE, and
    is safe to run at any time: sends and hides wait for it, then count on top.
    """
    zone = timezone.get_default_timezone()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {PostcardCount._meta.db_table} IN EXCLUSIVE MODE")
        monthly = (
            Postcard.objects.visible()
            .annotate(month=TruncMonth("created_at", output_field=DateField(), tzinfo=zone))
            .values_list("recipient_id", "month")
            .annotate(n=Count("pk"))
            .order_by()
        )
        truth: dict[tuple[str, dt.date, int], int] = defaultdict(int)
        for recipient_id, month, n in monthly:
            for period, start in counter_keys(month):
                truth[(str(period), start, recipient_id)] += n
        stored = {
            (c.period, c.start, c.recipient_id): c
            for c in PostcardCount.objects.all().iterator(chunk_size=5000)
        }
        changed = [c for key, c in stored.items() if key in truth and c.received != truth[key]]
        for c in changed:
            c.received = truth[(c.period, c.start, c.recipient_id)]
        PostcardCount.objects.bulk_update(changed, ["received"], batch_size=2000)
        stale = [c.pk for key, c in stored.items() if key not in truth]
        for i in range(0, len(stale), 5000):
            PostcardCount.objects.filter(pk__in=stale[i : i + 5000]).delete()
        new = [
            PostcardCount(recipient_id=r, period=p, start=s, received=n)
            for (p, s, r), n in truth.items()
            if (p, s, r) not in stored
        ]
        PostcardCount.objects.bulk_create(new, batch_size=5000)
        return len(changed) + len(stale) + len(new)


# --- postcards ------------------------------------------------------------------------


def _check_inspiration(response: Response | None) -> None:
    """Only promoter praise may inspire a postcard: it is shown to everyone."""
    if response is None:
        return
    excluded = PraiseExclusion.objects.filter(response=response).exists()
    if response.category != nps.PROMOTER or not response.comment or excluded:
        raise RecognitionError(
            "Only a customer's praise (a 9 or 10 with a comment) can be attached."
        )


def _forget_dashboard_on_commit() -> None:
    """The home dashboard's shared Champions panel shows this write at once."""
    from recognition.selectors import DASHBOARD_PANEL_KEY

    transaction.on_commit(lambda: caching.forget(DASHBOARD_PANEL_KEY))


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

    Guarantees: no postcard to oneself; a message of 1 to 1,000 characters; an offered
    value; at most `POSTCARD_DAILY_CAP` postcards per sender and local day (customer
    shout-outs do not count); the same idempotency key from the same sender returns
    the first postcard, so a double submit sends one. On refusal nothing is saved and
    RecognitionError says why. The recipient's counters move in the same
    transaction; the recipient and their team lead are emailed after the commit.
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
            f"The message is {len(message)} characters long: at most {MESSAGE_MAX_LENGTH}."
        )
    if not value.active and not from_customer:
        raise RecognitionError("That value is no longer offered; choose another.")
    _check_inspiration(response)
    now = timezone.now()
    with transaction.atomic():
        # One sender's postcards are serialised, so two tabs cannot both pass the cap.
        User.objects.select_for_update().filter(pk=sender.pk).first()
        # Again under the lock: the same submit may have committed while we waited
        # (before the cap check, or the cap would refuse the last postcard of the day).
        existing = Postcard.objects.filter(sender=sender, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing, False
        if not from_customer:
            sent_today = postcards_sent_today(sender, now=now)
            if sent_today >= daily_cap():
                raise RecognitionError(
                    f"You have sent {sent_today} postcards today, the daily limit: "
                    "send this one tomorrow."
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
        except IntegrityError:  # the same submit, committed a moment ago by another request
            return Postcard.objects.get(sender=sender, idempotency_key=idempotency_key), False
        _count(recipient.pk, now, +1)
        from recognition import tasks

        enqueue_on_commit(tasks.postcard_notify, postcard.pk)
        _forget_dashboard_on_commit()
    return postcard, True


def postcard_hide(*, postcard: Postcard, by, reason: str = "") -> Postcard:
    """A CX admin hides an abusive postcard. From then on it counts nowhere (feed,
    person page, leaderboard, dashboard); who hid it, when and why is kept. Hiding
    twice changes nothing."""
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
        _forget_dashboard_on_commit()
    return postcard


def _postcard_emails(postcard: Postcard) -> list[EmailMessage]:
    url = settings.SITE_URL + reverse("recognition:person", args=[postcard.recipient.username])
    context = {"postcard": postcard, "url": url}
    emails = []
    if postcard.recipient.email:
        emails.append(
            EmailMessage(
                subject=f"You are a Customer Champion: {postcard.value.name}",
                body=render_to_string("recognition/email/postcard.txt", context),
                to=[postcard.recipient.email],
            )
        )
    for lead in leads_of(postcard.recipient):
        if lead.email and lead.pk != postcard.sender_id:
            emails.append(
                EmailMessage(
                    subject=(
                        f"{postcard.recipient.get_full_name() or postcard.recipient.username}"
                        " received a Customer Champion postcard"
                    ),
                    body=render_to_string(
                        "recognition/email/postcard_lead.txt", {**context, "lead": lead}
                    ),
                    to=[lead.email],
                )
            )
    return emails


def postcard_notify(*, postcard_id: int) -> int:
    """Email the recipient and their team lead(s) once. Returns the emails sent.

    The postcard is leased before sending (cxhub.leases), so a task delivered twice
    sends once; if sending fails the lease is released and the task retries; if the
    worker dies mid-send the sweeper offers it again. A hidden postcard is never
    announced.
    """
    lease = "notify_claimed_at"
    owed = Postcard.objects.filter(pk=postcard_id, notified_at__isnull=True, hidden_at__isnull=True)
    if not leases.claim(owed, lease):
        return 0
    postcard = Postcard.objects.select_related("sender", "recipient", "value").get(pk=postcard_id)
    emails = _postcard_emails(postcard)
    leases.finish(
        Postcard.objects.filter(pk=postcard_id),
        lease,
        lambda: get_connection().send_messages(emails) if emails else 0,
        notified_at=timezone.now(),
    )
    return len(emails)


def postcards_notify_sweep(*, older_than_minutes: int = 10, within_days: int = 2) -> int:
    """Re-enqueue the notification of postcards whose task was lost (broker down at
    send time) or whose worker died mid-send. Returns how many were enqueued."""
    now = timezone.now()
    from recognition import tasks

    ids = (
        Postcard.objects.filter(
            notified_at__isnull=True,
            hidden_at__isnull=True,
            created_at__lt=now - dt.timedelta(minutes=older_than_minutes),
            created_at__gte=now - dt.timedelta(days=within_days),
        )
        .filter(leases.free("notify_claimed_at", now))
        .values_list("pk", flat=True)[:500]
    )
    return sum(1 for pk in ids if publish(tasks.postcard_notify, pk))


# --- praise wall ----------------------------------------------------------------------


def praise_exclude(*, response: Response, by) -> PraiseExclusion:
    """A CX admin takes a comment off the praise wall (and out of shout-outs). The
    response itself is not changed: the exclusion lives in recognition."""
    if not roles.is_cx_admin(by):
        raise RecognitionError("Only CX admins can take comments off the praise wall.")
    with transaction.atomic():
        exclusion, _ = PraiseExclusion.objects.get_or_create(
            response=response, defaults={"excluded_by": by}
        )
        # Its shout-outs go too: a lead would otherwise keep a comment no one may publish.
        ShoutOut.objects.filter(response=response, status=ShoutOut.Status.PENDING).update(
            status=ShoutOut.Status.DISMISSED, decided_at=timezone.now(), decided_by=by
        )
    _forget_dashboard_on_commit()
    return exclusion


# --- nicknames and customer shout-outs --------------------------------------------------


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:['-][a-z0-9]+)*", fold(text))


@functools.cache
def _common_words() -> frozenset[str]:
    """The stop words (the, will, bill, très, …) of every language the surveys are in
    (settings.LANGUAGES, by the stop-words package), folded as comments are."""
    from django.utils.translation import get_language_info
    from stop_words import AVAILABLE_LANGUAGES, get_stop_words

    words: set[str] = set()
    for code, _ in settings.LANGUAGES:
        name = get_language_info(code)["name"].lower()
        if name in AVAILABLE_LANGUAGES:
            words.update(w for stop in get_stop_words(name) for w in _words(stop))
    return frozenset(words)


def nickname_clean(nickname: str) -> str:
    """A nickname as stored ("" for none), or RecognitionError saying what is wrong."""
    nickname = " ".join((nickname or "").split())
    if len(nickname) > NICKNAME_MAX_LENGTH:
        raise RecognitionError(f"Keep the nickname under {NICKNAME_MAX_LENGTH} characters.")
    if nickname and len("".join(_words(nickname))) < 2:
        raise RecognitionError("A nickname needs at least two letters.")
    if nickname and all(word in _common_words() for word in _words(nickname)):
        # Every comment with "the" (or "will", "bill") would become a shout-out for them.
        raise RecognitionError(
            f"“{nickname}” is a word customers write about anything: add your last name, "
            "or choose a nickname only you are called."
        )
    return nickname


def profile_set_nickname(*, user, nickname: str) -> Profile:
    """Set (or clear, with "") the name customers may know the employee by."""
    nickname = nickname_clean(nickname)
    profile, _ = Profile.objects.update_or_create(user=user, defaults={"nickname": nickname})
    return profile


def _names_index() -> dict[tuple[str, ...], set[int]]:
    """Every way a customer may name an active employee: "first last" and nicknames."""
    index: dict[tuple[str, ...], set[int]] = {}
    staff = User.objects.filter(is_active=True, memberships__isnull=False).distinct()
    for user_id, first, last in staff.values_list("pk", "first_name", "last_name"):
        key = tuple(_words(f"{first} {last}"))
        if first.strip() and last.strip() and key:
            index.setdefault(key, set()).add(user_id)
    for user_id, nickname in (
        Profile.objects.exclude(nickname="")
        .filter(user__is_active=True, user__memberships__isnull=False)
        .values_list("user_id", "nickname")
        .distinct()
    ):
        key = tuple(_words(nickname))
        if key:
            index.setdefault(key, set()).add(user_id)
    return index


def names_in(comment: str, *, index=None) -> dict[str, set[int]]:
    """The employee names a comment mentions, as {name: ids of everyone it fits}.

    Whole words only, regardless of case and accents. When one name found is part of
    a longer one ("Sarah" in "Sarah Lopez"), only the longer one counts.
    """
    words = _words(comment)
    found: dict[str, set[int]] = {}
    for key, user_ids in (index if index is not None else _names_index()).items():
        n = len(key)
        if any(tuple(words[i : i + n]) == key for i in range(len(words) - n + 1)):
            found.setdefault(" ".join(key), set()).update(user_ids)
    for name in list(found):
        if any(name != other and f" {name} " in f" {other} " for other in found):
            del found[name]
    return found


def _lead_for(user_ids: set[int], touchpoint_team_id: int | None):
    """Who decides: the lead of the team of the person named; when the name fits
    people in several teams (or one person in several teams), the lead of the
    touchpoint's team if it is one of them, else of the touchpoint's team anyway."""
    team_ids = set(
        Membership.objects.filter(user_id__in=user_ids).values_list("team_id", flat=True)
    )
    if touchpoint_team_id in team_ids or (len(team_ids) != 1 and touchpoint_team_id):
        team_id = touchpoint_team_id
    elif len(team_ids) == 1:
        team_id = team_ids.pop()
    else:
        return None
    team = Team.objects.select_related("lead").filter(pk=team_id).first()
    return _team_lead(team) if team else None


def _decider_for(user_ids: set[int], touchpoint_team_id: int | None):
    """Who publishes a shout-out for these candidates: their lead (_lead_for), but no
    one decides on praise that may be about themselves. A lead named by the customer
    hands it to the touchpoint team's lead, or else to the first CX admin who is not
    a candidate either (None: no one, and the shout-out is not made)."""
    lead = _lead_for(user_ids, touchpoint_team_id)
    if lead is None or lead.pk not in user_ids:
        return lead
    team = Team.objects.select_related("lead").filter(pk=touchpoint_team_id).first()
    other = _team_lead(team) if team else None
    if other is not None and other.pk not in user_ids:
        return other
    return roles.cx_admins().exclude(pk__in=user_ids).first()


def shoutouts_suggest(*, response_id: int, index=None) -> list[ShoutOut]:
    """Propose a postcard "from the customer" for every employee a promoter comment
    names, to that employee's team lead. A name that fits several people is not
    guessed: they are all candidates and the lead chooses. Safe to run twice (one
    shout-out per response and name). Returns the shout-outs made now."""
    response = (
        Response.objects.select_related("touchpoint")
        .filter(pk=response_id, praise_exclusion__isnull=True)
        .first()
    )
    if response is None or response.category != nps.PROMOTER or not response.comment.strip():
        return []
    made = []
    for name, user_ids in names_in(response.comment, index=index).items():
        lead = _decider_for(user_ids, response.touchpoint.owner_team_id)
        if lead is None:
            continue
        with transaction.atomic():
            shoutout, created = ShoutOut.objects.get_or_create(
                response=response, matched_name=name, defaults={"lead": lead}
            )
            if created:
                shoutout.candidates.set(user_ids)
                made.append(shoutout)
    return made


def _shoutouts_suggest_between(since: dt.datetime, until: dt.datetime) -> int:
    ids = (
        Response.objects.filter(updated_at__gte=since, updated_at__lte=until, category=nps.PROMOTER)
        .exclude(comment="")
        .values_list("pk", flat=True)
    )
    index = _names_index()
    return sum(len(shoutouts_suggest(response_id=pk, index=index)) for pk in ids.iterator())


def shoutouts_suggest_sweep(*, hours: int = 3) -> int:
    """Redo the suggestions for promoter comments recorded or changed in the last
    `hours` (for a task lost with the broker). Idempotent. Returns shout-outs made."""
    now = timezone.now()
    return _shoutouts_suggest_between(now - dt.timedelta(hours=hours), now)


SCANNED_UNTIL_KEY = "recognition:shoutouts-scanned-until"
# A response's updated_at is set before its transaction commits: each run looks this
# far behind the previous one, so a commit that landed just after a scan is not missed.
SCAN_OVERLAP = dt.timedelta(seconds=30)
# Without a previous run on record (cache cleared or down), look back this far; the
# hourly sweep covers anything older.
SCAN_DEFAULT_LOOKBACK = dt.timedelta(minutes=15)


def shoutouts_suggest_recent(*, now: dt.datetime | None = None) -> int:
    """Suggest shout-outs for the promoter comments recorded or changed since the last
    run (a watermark kept in the cache, minus SCAN_OVERLAP).

    This is what the survey's after-commit work triggers, debounced: a burst of
    promoter comments costs one task every few seconds instead of one broker message
    per answer (the survey POST's hot path). Idempotent: overlapping runs, or a run
    delivered twice, make nothing twice. Returns the shout-outs made.
    """
    now = now or timezone.now()
    try:
        scanned_until = cache.get(SCANNED_UNTIL_KEY)
    except Exception:  # the cache is Redis in production; the lookback covers it
        logger.warning("cache unavailable; scanning the last %s of comments", SCAN_DEFAULT_LOOKBACK)
        scanned_until = None
    since = (scanned_until or now - SCAN_DEFAULT_LOOKBACK) - SCAN_OVERLAP
    made = _shoutouts_suggest_between(since, now)
    try:
        cache.set(SCANNED_UNTIL_KEY, now, timeout=24 * 60 * 60)
    except Exception:
        logger.warning("cache unavailable; the next scan looks back %s", SCAN_DEFAULT_LOOKBACK)
    return made


def shoutout_value() -> Value:
    """The value of published shout-outs; inactive, so colleagues cannot pick it."""
    value, _ = Value.objects.get_or_create(
        name=SHOUT_OUT_VALUE, defaults={"position": 999, "active": False}
    )
    return value


def shoutout_message(response: Response) -> str:
    name = response.person.name if response.person else ""
    prefix = f"{customer_label(name)} wrote: “"
    room = MESSAGE_MAX_LENGTH - len(prefix) - 1
    comment = scrub_comment(response.comment.strip(), customer_name=name)
    if len(comment) > room:
        comment = comment[: room - 1].rstrip() + "…"
    return f"{prefix}{comment}”"


def shoutout_publish(*, shoutout: ShoutOut, by, recipient=None) -> Postcard:
    """The lead publishes the customer's praise as a postcard, in one click.

    Only the lead the shout-out was proposed to may; `recipient` must be one of the
    candidates (and is required when there are several). Published once: a second
    click is refused. The postcard carries the customer's first name and initial.
    """
    if shoutout.lead_id is None or shoutout.lead_id != by.pk:
        raise RecognitionError("Only the team lead this shout-out was sent to can publish it.")
    with transaction.atomic():
        shoutout = ShoutOut.objects.select_for_update().get(pk=shoutout.pk)
        if shoutout.status != ShoutOut.Status.PENDING:
            raise RecognitionError("This shout-out was already handled.")
        candidates = {c.pk: c for c in shoutout.candidates.filter(is_active=True)}
        if recipient is None:
            if len(candidates) != 1:
                raise RecognitionError(
                    "Several colleagues have this name: choose who the customer meant."
                )
            recipient = next(iter(candidates.values()))
        elif recipient.pk not in candidates:
            raise RecognitionError("Choose one of the colleagues the name matches.")
        if recipient.pk == by.pk:
            raise RecognitionError(
                "This praise may be about you: another lead or a CX admin publishes it."
            )
        response = Response.objects.select_related("person").get(pk=shoutout.response_id)
        if PraiseExclusion.objects.filter(response=response).exists():
            raise RecognitionError("A CX admin took this comment off the praise wall.")
        postcard, _ = postcard_send(
            sender=by,
            recipient=recipient,
            value=shoutout_value(),
            message=shoutout_message(response),
            response=response,
            from_customer=True,
            idempotency_key=f"shoutout-{shoutout.pk}",
        )
        shoutout.status = ShoutOut.Status.PUBLISHED
        shoutout.postcard = postcard
        shoutout.decided_at = timezone.now()
        shoutout.decided_by = by
        shoutout.save(update_fields=["status", "postcard", "decided_at", "decided_by"])
    return postcard


def shoutout_dismiss(*, shoutout: ShoutOut, by) -> ShoutOut:
    """The lead declines a shout-out (a false match, say). Once only."""
    if shoutout.lead_id is None or shoutout.lead_id != by.pk:
        raise RecognitionError("Only the team lead this shout-out was sent to can dismiss it.")
    updated = ShoutOut.objects.filter(pk=shoutout.pk, status=ShoutOut.Status.PENDING).update(
        status=ShoutOut.Status.DISMISSED, decided_at=timezone.now(), decided_by=by
    )
    if not updated:
        raise RecognitionError("This shout-out was already handled.")
    shoutout.refresh_from_db()
    return shoutout


# --- erasure ---------------------------------------------------------------------------

ERASED_PRAISE = "A customer's praise (its words were erased at the customer's request)."


def recognition_erase_customer(*, response_ids: list[int]) -> int:
    """GDPR erasure of a customer (surveys.hooks.person_erased): the shout-out postcards
    that quote their comments lose the quote (the postcard stays, so its recipient's
    counts and the leaderboards do not change), and shout-outs still waiting for a lead
    go (there is no comment left to publish). The home dashboard's shared panel, which
    may quote their praise, is forgotten at the commit. Returns the number of postcards
    rewritten."""
    ShoutOut.objects.filter(response_id__in=response_ids, status=ShoutOut.Status.PENDING).delete()
    rewritten = Postcard.objects.filter(response_id__in=response_ids, from_customer=True).update(
        message=ERASED_PRAISE
    )
    if response_ids:
        # The panel caches fresh praise for a minute: the customer's words and name.
        _forget_dashboard_on_commit()
    return rewritten
