import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from surveys import services
from surveys.models import Response, Touchpoint


class Command(BaseCommand):
    help = "Rebuild the daily NPS rollups for a range of days (default: every day with responses)."

    def add_arguments(self, parser):
        parser.add_argument("--since", type=dt.date.fromisoformat, help="first day, YYYY-MM-DD")
        parser.add_argument("--until", type=dt.date.fromisoformat, help="last day, YYYY-MM-DD")
        parser.add_argument("--touchpoint", action="append", help="slug; repeat for several")

    def handle(self, *args, since, until, touchpoint, **options):
        ids = None
        if touchpoint:
            found = dict(Touchpoint.objects.filter(slug__in=touchpoint).values_list("slug", "pk"))
            missing = set(touchpoint) - set(found)
            if missing:
                raise CommandError(f"unknown touchpoint: {', '.join(sorted(missing))}")
            ids = list(found.values())
        if since is None:
            first = (
                Response.objects.order_by("created_at").values_list("created_at", flat=True).first()
            )
            since = services.local_day(first) if first else timezone.localdate()
        until = until or timezone.localdate()
        if since > until:
            raise CommandError("--since is after --until")
        n = services.rollups_recompute_range(start=since, end=until, touchpoint_ids=ids)
        self.stdout.write(f"Recomputed {n} daily rollups from {since} to {until}.")
