"""python manage.py verify_audit

Checks the audit trail's hash chain from the first entry to the newest. Exits 0 when it is whole,
1 at the first broken link (which it names), 2 when the database cannot be read.
"""

import sys

from django.core.management.base import BaseCommand
from django.db import DatabaseError

from moderation import audit


class Command(BaseCommand):
    help = "Check that no audit entry was edited, removed or inserted outside the product."

    def handle(self, *args, **options):
        try:
            checked, broken = audit.verify()
        except DatabaseError as error:
            self.stderr.write(f"The audit trail could not be read: {error}")
            sys.exit(2)
        if broken:
            self.stderr.write(f"The audit trail is broken after {checked} whole entr{'y' if checked == 1 else 'ies'}: {broken.problem}")
            sys.exit(1)
        self.stdout.write(f"The audit trail is whole: {checked} entr{'y' if checked == 1 else 'ies'}, each linked to the one before.")
