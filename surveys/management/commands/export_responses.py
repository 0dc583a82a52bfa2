import csv
import sys

from django.core.management.base import BaseCommand, CommandError

from surveys import exports
from surveys.filters import ResponseFilter
from surveys.models import Response


class Command(BaseCommand):
    help = (
        "Write responses as CSV (the columns import_responses reads back) to stdout or a "
        "file, with the filters of the responses page."
    )

    def add_arguments(self, parser):
        parser.add_argument("--touchpoint", help="a touchpoint's slug")
        parser.add_argument("--category", choices=Response.Category.values)
        parser.add_argument("--since", help="first local day, YYYY-MM-DD")
        parser.add_argument("--until", help="last local day (included), YYYY-MM-DD")
        parser.add_argument("--output", "-o", help="file to write (default: stdout)")

    def handle(self, *args, output, **options):
        data = {k: options[k] for k in ("touchpoint", "category", "since", "until") if options[k]}
        filterset = ResponseFilter(data, queryset=Response.objects.all())
        if not filterset.is_valid():
            raise CommandError(
                "; ".join(f"--{k}: {' '.join(v)}" for k, v in filterset.errors.items())
            )
        rows = exports.responses_csv_rows(filterset.qs)
        if output:
            with open(output, "w", newline="", encoding="utf-8") as f:
                n = self._write(csv.writer(f), rows)
            self.stderr.write(f"Wrote {n} responses to {output}.")
        else:
            self._write(csv.writer(sys.stdout), rows)

    @staticmethod
    def _write(writer, rows) -> int:
        written = 0
        for row in rows:
            writer.writerow(row)
            written += 1
        return written - 1  # the header is not a response
