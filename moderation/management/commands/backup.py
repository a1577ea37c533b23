"""python manage.py backup DIR

Writes into DIR a new folder `backup-YYYYMMDD-HHMMSS` holding everything the school would lose:
the database, the face key and the site's secret key, uploads in flight, published copies, the
approver's video copies and the local outbox, with a manifest of checksums. Exits 0 when
written, 1 when it could not be. See the README for how often, and where to keep it.
"""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand

from moderation.upkeep import backup


class Command(BaseCommand):
    help = "Back up the database, the keys and the files into a new folder inside DIR."

    def add_arguments(self, parser):
        parser.add_argument("directory", help="where to write the backup folder (made if missing)")

    def handle(self, *args, directory, **options):
        try:
            folder = backup.backup(Path(directory))
        except (OSError, backup.BackupError) as error:
            self.stderr.write(f"The backup could not be written: {error}")
            sys.exit(1)
        facts = json.loads((folder / "manifest.json").read_text())
        self.stdout.write(f"Backed up into {folder}: {facts['drafts']} drafts, {facts['audit_entries']} audit entries, "
                          f"{len(facts['files'])} files. It holds the face key: keep it where only trusted staff can read it.")
