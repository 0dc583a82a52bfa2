"""Demo recognition data for `manage.py seed_demo`: values, postcards, shout-outs."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cxhub import roles
from recognition import services
from recognition.models import Postcard, ShoutOut, Value
from surveys import nps
from surveys.models import Response

VALUES = ["Went the extra mile", "Listened to the customer", "Fixed the root cause", "One team"]
MESSAGES = [
    "You stayed late to call back a customer whose line was down. They wrote to thank us!",
    "Thanks for explaining the new bill so patiently — the customer left smiling.",
    "You found why the invoices were wrong and fixed it for everyone, not just this customer.",
    "Covering my calls while I was out meant no customer waited. One team!",
    "The technician visit went perfectly thanks to your planning.",
    "You turned an angry caller into a fan. Textbook.",
    "You spotted the roaming charge before the customer even noticed and refunded it.",
    "Thank you for walking Mrs. B. through the app on the phone, step by step.",
]
SHOUTOUTS_PER_LEAD = 2


def seed_postcards(
    *,
    rng: random.Random,
    users=None,
    responses=None,
    count: int = 300,
    now: dt.datetime | None = None,
) -> int:
    """About `count` postcards over the last 120 days between `users` (default: every
    team member), a few hidden by a CX admin, some inspired by promoter `responses`
    (default: the latest promoter comments); the values list; a few pending customer
    shout-outs for each lead. Does nothing if postcards exist. Returns postcards made.
    """
    if Postcard.objects.exists():
        return 0
    now = now or timezone.now()
    values = [
        Value.objects.get_or_create(name=name, defaults={"position": i})[0]
        for i, name in enumerate(VALUES)
    ]
    User = get_user_model()
    staff = list(
        users
        if users is not None
        else User.objects.filter(memberships__isnull=False, is_active=True)
        .distinct()
        .order_by("pk")
    )
    if len(staff) < 2:
        return 0
    if responses is None:
        responses = (
            Response.objects.filter(category=nps.PROMOTER)
            .exclude(comment="")
            .order_by("-created_at")
        )[:300]
    praise = [
        r.pk for r in responses if r.category == nps.PROMOTER and r.comment and r.comment.strip()
    ]
    moderator = (
        User.objects.filter(Q(groups__name=roles.CX_ADMINS) | Q(is_superuser=True))
        .order_by("-is_superuser", "pk")
        .first()
    )
    # A few popular colleagues, so the leaderboard has a shape (and some ties).
    weights = [6 if i % 7 == 0 else 1 for i in range(len(staff))]
    postcards = []
    for i in range(count):
        sender = rng.choice(staff)
        recipient = rng.choices(staff, weights=weights)[0]
        if recipient.pk == sender.pk:
            continue
        # Recent weeks are busier, so this month's leaderboard is not empty.
        age = _minutes(rng.triangular(0, 120 * 24 * 60, 0))
        created = now - age
        postcards.append(
            Postcard(
                sender=sender,
                recipient=recipient,
                value=rng.choice(values),
                message=rng.choice(MESSAGES),
                response_id=rng.choice(praise) if praise and rng.random() < 0.3 else None,
                idempotency_key=f"demo-{i}",
                created_at=created,
                notified_at=created,  # demo postcards send no email
            )
        )
    for p in postcards[:: max(1, len(postcards) // 4)][:4]:
        p.hidden_at, p.hidden_by = now, moderator
        p.hidden_reason = "Demo: not about customers"
    with transaction.atomic():
        Postcard.objects.bulk_create(postcards, batch_size=1000)
        services.postcard_counters_rebuild()
    _seed_shoutouts(praise)
    return len(postcards)


def _minutes(minutes: float) -> dt.timedelta:
    return dt.timedelta(minutes=int(minutes))


def _seed_shoutouts(response_ids: list[int]) -> int:
    """A couple of pending shout-outs per lead, from praise that names a colleague."""
    index = services._names_index()
    per_lead: dict[int, int] = defaultdict(int)
    made = 0
    for response_id in response_ids:
        response = Response.objects.filter(pk=response_id).only("comment").first()
        if response is None or not services.names_in(response.comment, index=index):
            continue
        for shoutout in services.shoutouts_suggest(response_id=response_id, index=index):
            if shoutout.lead_id is None or per_lead[shoutout.lead_id] >= SHOUTOUTS_PER_LEAD:
                ShoutOut.objects.filter(pk=shoutout.pk).delete()
                continue
            per_lead[shoutout.lead_id] += 1
            made += 1
    return made
