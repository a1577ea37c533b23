"""python manage.py import_register FILE.csv [--dry-run] [--partial] [--profile NAME] [--user USERNAME]

Exit status: 0 imported (or, with --dry-run, the file is valid); 1 the file was rejected and
nothing changed; 2 a usage error (no such file, unknown profile or user).
"""

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied

from config.school.commands import SchoolCommand
from consent import profiles, services

IMPORTED, REJECTED, USAGE = 0, 1, 2


class Command(SchoolCommand):
    help = "Import the consent register from a CSV export of the school's MIS, all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file")
        parser.add_argument("--dry-run", action="store_true", help="say what would change, and change nothing")
        parser.add_argument(
            "--partial", action="store_true",
            help="the file lists only some pupils: do not mark the others as left",
        )
        parser.add_argument("--profile", default=profiles.DEFAULT, help="the column profile of the export (default: %(default)s)")
        parser.add_argument("--user", help="record the import as made by this register keeper (default: the command line)")

    def handle(self, *args, file, dry_run, partial, profile, user, **options):
        path = Path(file)
        by = services.COMMAND_LINE
        if user:
            by = get_user_model().objects.filter(username=user, is_active=True).first()
            if by is None:
                self._stop(USAGE, f"There is no active user called '{user}'.")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self._stop(USAGE, f"There is no file {path}.")
        except OSError as error:
            self._stop(USAGE, f"The file {path} cannot be read: {error.strerror or error}.")
        try:
            report = services.import_register(by, data, file_name=path.name, profile=profile, partial=partial, dry_run=dry_run)
        except profiles.ProfileError as error:
            self._stop(USAGE, str(error))
        except PermissionDenied as error:
            self._stop(USAGE, str(error))

        if report.rejected:
            count = len(report.problems)
            self.stderr.write(f"Not imported: {path.name} has {count} problem{'s' if count != 1 else ''}. Nothing was changed.")
            for problem in report.problems:
                self.stderr.write(str(problem))
            sys.exit(REJECTED)
        if dry_run:
            self.stdout.write(f"Dry run: nothing was changed. Importing {path.name} would give: {report.counts_in_words()}.")
        else:
            self.stdout.write(f"Imported {path.name}: {report.counts_in_words()}.")
        if options["verbosity"] >= 1:
            for change in report.changes:
                self.stdout.write(f"  {change}")
        for warning in report.warnings:
            self.stdout.write(f"Warning: {warning}")

    def _stop(self, status, message):
        self.stderr.write(message)
        sys.exit(status)
