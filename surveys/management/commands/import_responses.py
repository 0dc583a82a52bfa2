from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from surveys import imports
from surveys.models import Touchpoint


class Command(BaseCommand):
    help = (
        "Import responses from a CSV file (CX Hub's export or Delighted's CSV export), "
        "in this process; importing the same file again adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--touchpoint", help="slug of the touchpoint for rows that do not name one"
        )

    def handle(self, *args, file, touchpoint, **options):
        default = None
        if touchpoint:
            default = Touchpoint.objects.filter(slug=touchpoint).first()
            if default is None:
                raise CommandError(f"unknown touchpoint: {touchpoint}")
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        try:
            response_import = imports.response_import_create(
                filename=file.name,
                content=imports.decode_upload(data),
                default_touchpoint=default,
                enqueue=False,
            )
        except imports.ImportFileError as exc:
            raise CommandError(str(exc)) from None
        done = imports.response_import_run(import_id=response_import.pk)
        for entry in done.report[:20]:
            self.stderr.write(f"row {entry['row']}: {entry['reason']}")
        if done.skipped > 20:
            self.stderr.write(f"... and {done.skipped - 20} more skipped rows")
        if done.status != done.Status.DONE:
            raise CommandError(f"import #{done.pk} failed: {done.error}")
        self.stdout.write(
            f"Import #{done.pk} of {file.name}: {done.imported} imported, "
            f"{done.duplicates} duplicates, {done.skipped} skipped."
        )
