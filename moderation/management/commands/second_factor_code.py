"""python manage.py second_factor_code USERNAME  (the demo only: DJANGO_DEBUG=1)

Prints the code a demo user's authenticator app would show now, so that the demo school can be
tried without a phone. It refuses to run unless DEBUG is on: in production the code comes only
from the person's own app."""

from django.conf import settings
from django.core.management.base import CommandError
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.school.commands import SchoolCommand


class Command(SchoolCommand):
    help = "The demo only: print a user's current second-factor code."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        if not settings.DEBUG:
            raise CommandError("This is for the demo only (DJANGO_DEBUG=1). In production the code comes from the person's own app.")
        device = TOTPDevice.objects.filter(user__username=username).order_by("-confirmed").first()
        if device is None:
            raise CommandError(f"'{username}' has no second factor yet: sign in once to set it up.")
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        self.stdout.write(f"{totp.token():0{device.digits}d}")
