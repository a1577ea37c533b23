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
        checked, broken = audit.verify()
        if broken:
            self.stderr.write(f"Restored, but the audit trail is broken after {checked} entries: {broken.problem}")
            sys.exit(1)
        self.stdout.write(f"Restored the backup of {manifest['taken_at']}: {manifest['drafts']} drafts, "
                          f"{len(manifest['files'])} files; the audit trail is whole ({checked} entries).")
        if manifest.get("newest_audit_seal"):
            self.stdout.write(f"Check it against the newest seal you kept: python manage.py verify_audit --seal {manifest['newest_audit_seal']}")
