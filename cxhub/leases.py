"""Outside work done once, and redone if the worker doing it died: the emails a case,
a postcard or an NPS breach owes.

The row that owes the work is leased (a `*_claimed_at` time) before the work starts:
a second delivery of the task finds it leased and does nothing. The work done, the
row is marked done and its lease cleared; if the work fails, the lease is cleared at
once (the task retries). If the worker dies in between (killed, out of memory), the
lease runs out after LEASE and the sweeper offers the work again: at least once, where
marking the row done before sending had lost the email for good.
"""

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone

# Longer than any one send takes (EMAIL_TIMEOUT bounds an SMTP conversation).
LEASE = dt.timedelta(minutes=10)


def free(field: str, now: dt.datetime | None = None) -> Q:
    """Rows whose lease `field` is not held: never claimed, or claimed so long ago that
    their worker must have died."""
    now = now or timezone.now()
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": now - LEASE})


def claim(owed: QuerySet, field: str) -> bool:
    """Lease the owed row for LEASE; True if this caller got it."""
    now = timezone.now()
    return bool(owed.filter(free(field, now)).update(**{field: now}))


def finish(row: QuerySet, field: str, work, **done):
    """Do the leased work: on success mark the row `done` (and clear the lease), on
    failure clear the lease and raise. Returns what `work()` returns."""
    try:
        result = work()
    except Exception:
        row.update(**{field: None})
        raise
    row.update(**{field: None, **done})
    return result
