"""python manage.py restore BACKUP_FOLDER

Puts a backup (a folder written by `backup`) back into an empty installation: the database set
by DATABASE_URL (or the SQLite file of DATA_DIR) and DATA_DIR. Checks every checksum first and
changes nothing when the backup is damaged or the installation already has data. Then checks the
audit chain. Exits 0 when restored and whole, 1 otherwise.
"""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand

from config.school import audit
from config.school.models import School
from config.school.tenancy import in_school
from moderation.upkeep import backup


class Command(BaseCommand):
    help = "Restore a backup into an empty installation."

    def add_arguments(self, parser):
        parser.add_argument("folder", help="the backup folder (backup-YYYYMMDD-HHMMSS)")

    def handle(self, *args, folder, **options):
        try:
            manifest = backup.restore(Path(folder))
        except (OSError, backup.BackupError) as error:
            self.stderr.write(f"Not restored: {error}")
            sys.exit(1)
        checked = 0
        for school in School.objects.order_by("pk"):  # each school's trail is a chain of its own
            with in_school(school):
                whole, broken = audit.verify()
            if broken:
                self.stderr.write(f"Restored, but {school.name}'s audit trail is broken after {whole} entries: {broken.problem}")
                sys.exit(1)
            checked += whole
        self.stdout.write(f"Restored the backup of {manifest['taken_at']}: {manifest['drafts']} drafts, "
                          f"{len(manifest['files'])} files; the audit trail is whole ({checked} entries).")
        several = len(manifest.get("newest_audit_seals") or {}) > 1
        for slug, token in (manifest.get("newest_audit_seals") or {"": manifest.get("newest_audit_seal")}).items():
            if token:
                self.stdout.write("Check it against the newest seal you kept: python manage.py verify_audit "
                                  + (f"--school {slug} " if several else "") + f"--seal {token}")
