"""python manage.py reset_second_factor USERNAME

Removes a person's second factor (a lost or replaced phone). They set up a new one, with a QR code,
the next time they sign in. Written to the audit trail."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import CommandError

from config.school.commands import SchoolCommand
from moderation.accounts import second_factor


class Command(SchoolCommand):
    help = "Reset a person's second factor so that they set up a new one at their next sign-in."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No account is called '{username}'.")
        try:
            removed = second_factor.reset(user, None)
        except PermissionDenied as refused:
            raise CommandError(f"{refused} Nothing was changed (give --school for the school they work in).") from None
        self.stdout.write(f"{username}: {removed} second factor(s) removed. They set up a new one at their next sign-in.")
