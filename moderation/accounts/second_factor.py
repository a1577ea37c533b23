"""A second factor (TOTP, from an authenticator app) for the roles that need one: setting it up
with a QR code, checking a code, and resetting it when a phone is lost."""

import io
from base64 import b32encode, b64encode

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.qr import write_qrcode_image

from config.school.models import AuditEntry
from config.school.roles import HEADTEACHER, has_role
from config.school.tenancy import current_school_id, roles_in

DEVICE_NAME = "Authenticator app"


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def pending_device(user) -> TOTPDevice:
    """The device being set up: the same key until it is confirmed, so a reload keeps the QR code."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def qr_data_uri(device: TOTPDevice) -> str:
    """The QR code as an SVG image in a data: address (an <img>, which the page's CSP allows)."""
    out = io.BytesIO()
    write_qrcode_image(device.config_url, out)
    return "data:image/svg+xml;base64," + b64encode(out.getvalue()).decode("ascii")


def readable_key(device: TOTPDevice) -> str:
    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i:i + 4] for i in range(0, len(key), 4))


def check_code(user, code: str) -> TOTPDevice:
    """The device the code belongs to (confirming a new one); ValidationError when it is wrong."""
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    device = confirmed_device(user)
    setting_up = device is None
    device = device or pending_device(user)
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        raise ValidationError("Too many wrong codes: wait a minute, then try again with a new code.")
    if len(code) != 6 or not device.verify_token(code):
        raise ValidationError("That code is not right. Type the 6 digits your authenticator app shows now.")
    if setting_up:
        with transaction.atomic():
            TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
            device.confirmed = True
            AuditEntry.objects.create(actor=user, action="account.second_factor_set_up",
                                      summary=f"{user.get_full_name() or user.username} set up a second factor")
    return device


def reset(user, by) -> int:
    """Remove a person's second factor (a lost phone): they set up a new one at their next sign-in."""
    if by is not None and not has_role(by, HEADTEACHER):
        raise PermissionDenied("Only the headteacher resets a second factor.")
    if not roles_in(user, current_school_id()):
        raise PermissionDenied(f"{user.get_full_name() or user.username} holds no role in this school: their own school resets it.")
    with transaction.atomic():
        removed, _ = TOTPDevice.objects.filter(user=user).delete()
        AuditEntry.objects.create(actor=by, action="account.second_factor_reset",
                                  summary=f"The second factor of {user.get_full_name() or user.username} was reset")
    return removed
