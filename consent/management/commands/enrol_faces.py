"""python manage.py enrol_faces UPN IMAGE... [--user USERNAME]

Enrols one face from each photo for the pupil, all or nothing. Refused, with the reason and
nothing stored, without written parental consent to biometric processing, when the pupil
objects, or when a photo does not show exactly one face.

Exit status: 0 enrolled; 1 refused (nothing stored); 2 a usage error (no such pupil or user).
"""

import sys

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, PermissionDenied

from config.school.commands import SchoolCommand
from consent.enrolment import EnrolmentRefused, enrol
from consent.models import Pupil
from consent.services import COMMAND_LINE

ENROLLED, REFUSED, USAGE = 0, 1, 2


class Command(SchoolCommand):
    help = "Enrol a pupil's face from photos (one face each), with biometric consent only."

    def add_arguments(self, parser):
        parser.add_argument("upn", help="the pupil's UPN")
        parser.add_argument("images", nargs="+", metavar="IMAGE", help="photos of the pupil, one face each (JPEG, PNG, WebP, HEIC)")
        parser.add_argument("--user", help="record the enrolment as made by this register keeper (default: the command line)")

    def handle(self, *args, upn, images, user, **options):
        by = COMMAND_LINE
        if user:
            by = get_user_model().objects.filter(username=user, is_active=True).first()
            if by is None:
                self._stop(USAGE, f"There is no active user called '{user}'.")
        pupil = Pupil.objects.filter(upn=upn.strip().upper()).first()
        if pupil is None:
            self._stop(USAGE, f"There is no pupil with UPN {upn} in the register.")
        try:
            rows = enrol(pupil, images, by)
        except EnrolmentRefused as error:
            self._stop(REFUSED, f"Not enrolled: {error}")
        except PermissionDenied as error:
            self._stop(REFUSED, f"Not enrolled: {error}")
        except ImproperlyConfigured as error:  # no key for the encodings
            self._stop(REFUSED, f"Not enrolled: {error}")
        self.stdout.write(f"Enrolled {len(rows)} face{'s' if len(rows) != 1 else ''} for {pupil.upn} (stored encrypted).")

    def _stop(self, code, message):
        self.stderr.write(message)
        sys.exit(code)
