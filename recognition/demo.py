"""Demo recognition data for `manage.py seed_demo`: values, postcards, shout-outs."""

from __future__ import annotations

import datetime as dt
import random

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from recognition import services
from recognition.models import Postcard, PostcardMonthly, Value
from surveys.models import Response

VALUES = ["Went the extra mile", "Listened to the customer", "Fixed the root cause", "One team"]
MESSAGES = [
    "You stayed late to call back a customer whose line was down. They wrote to thank us!",
    "Thanks for explaining the new bill so patiently — the customer left smiling.",
    "You found why the invoices were wrong and fixed it for everyone, not just this customer.",
    "Covering my calls while I was out meant no customer waited. One team!",
    "The technician visit went perfectly thanks to your planning.",
    "You turned an angry caller into a fan. Textbook.",
]


def seed_postcards(*, rng: random.Random, count: int = 300, now: dt.datetime | None = None) -> int:
    """About `count` postcards over 120 days between staff, a few hidden. Idempotent."""
    if Postcard.objects.exists():
        return 0
    now = now or timezone.now()
    values = [
        Value.objects.get_or_create(name=name, defaults={"position": i})[0]
        for i, name in enumerate(VALUES)
    ]
    staff = list(
        get_user_model().objects.filter(memberships__isnull=False).distinct().order_by("pk")
    )
    if len(staff) < 2:
        return 0
    # A few popular colleagues, so the leaderboard has a shape (and some ties).
    weights = [5 if i % 7 == 0 else 1 for i in range(len(staff))]
    praise = list(
        Response.objects.filter(category="promoter")
        .exclude(comment="")
        .values_list("pk", flat=True)[:200]
    )
    postcards = []
    for i in range(count):
        sender = rng.choice(staff)
        recipient = rng.choices(staff, weights=weights)[0]
        if recipient == sender:
            continue
        postcards.append(
            Postcard(
                sender=sender,
                recipient=recipient,
                value=rng.choice(values),
                message=rng.choice(MESSAGES),
                response_id=rng.choice(praise) if praise and rng.random() < 0.3 else None,
                idempotency_key=f"demo-{i}",
                created_at=now - dt.timedelta(minutes=rng.randrange(0, 120 * 24 * 60)),
            )
        )
    for p in postcards[:4]:
        p.hidden_at, p.hidden_reason = now, "Demo: hidden by a CX admin"
    with transaction.atomic():
        Postcard.objects.bulk_create(postcards, batch_size=1000)
        counters: dict[tuple[int, dt.date], int] = {}
        for p in postcards:
            if p.hidden_at is None:
                key = (p.recipient_id, timezone.localtime(p.created_at).date().replace(day=1))
                counters[key] = counters.get(key, 0) + 1
        PostcardMonthly.objects.bulk_create(
            [PostcardMonthly(recipient_id=r, month=m, received=n) for (r, m), n in counters.items()]
        )
    for response_id in (
        Response.objects.filter(category="promoter")
        .exclude(comment="")
        .order_by("-created_at")
        .values_list("pk", flat=True)[:300]
    ):
        services.shoutouts_suggest(response_id=response_id)
    return len(postcards)
