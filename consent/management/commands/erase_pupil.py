"""python manage.py erase_pupil UPN --reason "..." --by USERNAME

Erases a pupil's personal data: enrolled faces, names, UPN and year group. The consent records
(dates and answers), the links to published posts and the audit trail stay, nameless: the trail
names pupils by record number only, and says that this record was erased, not whose it was."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError

from config.school.commands import SchoolCommand
from consent import services
from consent.models import Pupil


class Command(SchoolCommand):
    help = "Erase a pupil's personal data from the register (who left, or at the family's request)."

    def add_arguments(self, parser):
        parser.add_argument("upn")
        parser.add_argument("--reason", required=True, help="why, in a few words (written to the audit trail)")
        parser.add_argument("--by", required=True, help="the register keeper or headteacher who decided it")

    def handle(self, *args, upn, reason, by, **options):
        pupil = Pupil.objects.filter(upn=upn).first()
        if pupil is None:
            raise CommandError(f"No pupil has the UPN {upn}.")
        user = get_user_model().objects.filter(username=by).first()
        if user is None:
            raise CommandError(f"No account is called '{by}'.")
        try:
            services.erase_pupil(pupil, user, reason)
        except (PermissionDenied, ValidationError) as error:
            raise CommandError(" ".join(getattr(error, "messages", [str(error)]))) from None
        self.stdout.write(f"Erased: the record of {upn} is now {pupil.reference}, with no name, UPN or face.")
