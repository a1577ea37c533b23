"""python manage.py verify_audit [--seal ENTRY:HASH] [--school SLUG]

Checks a school's audit trail's hash chain from the first entry to the newest, and prints the newest
seal. With --seal (from a seal's email, or written down from the audit page) it also checks that
the trail still holds that entry with that hash: a trail rewritten or cut inside the database is
caught by a seal taken before. Exits 0 when all is well, 1 at the first difference (which it
names), 2 when the database cannot be read or the seal is not written ENTRY:HASH.
"""

import sys

from django.db import DatabaseError
from django.utils import timezone

from config.school import audit
from config.school.commands import SchoolCommand


class Command(SchoolCommand):
    help = "Check that no audit entry was edited, removed or inserted outside the product."

    def add_arguments(self, parser):
        parser.add_argument("--seal", action="append", default=[], metavar="ENTRY:HASH",
                            help="a seal taken earlier (its email, or the audit page); may be given more than once")

    def handle(self, *args, seal, **options):
        try:
            seals = [audit.parse_seal(token) for token in seal]
        except ValueError as error:
            self.stderr.write(str(error))
            sys.exit(2)
        try:
            checked, broken = audit.verify()
            differences = [(entry_id, audit.check_seal(entry_id, entry_hash)) for entry_id, entry_hash in seals]
            newest = audit.newest_seal()
        except DatabaseError as error:
            self.stderr.write(f"The audit trail could not be read: {error}")
            sys.exit(2)
        if newest is not None:
            self.stdout.write(f"Newest seal: {newest.token} (entry {newest.entry_id}, {newest.entries} entries, taken "
                              f"{timezone.localtime(newest.taken_at):%d %B %Y %H:%M}).")
        else:
            self.stdout.write("No seal has been taken yet: the worker takes one a day.")
        failed = False
        for entry_id, difference in differences:
            if difference:
                self.stderr.write(f"The seal {entry_id}:… does not hold: {difference}")
                failed = True
            else:
                self.stdout.write(f"The seal of entry {entry_id} holds: the trail up to it is as it was when the seal was taken.")
        if broken:
            self.stderr.write(f"The audit trail is broken after {checked} whole entr{'y' if checked == 1 else 'ies'}: {broken.problem}")
            sys.exit(1)
        if failed:
            sys.exit(1)
        self.stdout.write(f"The audit trail is whole: {checked} entr{'y' if checked == 1 else 'ies'}, each linked to the one before.")
