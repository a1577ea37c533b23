"""Telling people: by email (Django's mail framework), and at most once for anything a worker
might do again after a restart (a reminder, a failed scheduled publish)."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

logger = logging.getLogger(__name__)


def addresses_of_roles(*roles) -> list[str]:
    return sorted(set(
        get_user_model().objects.filter(groups__name__in=roles, is_active=True).exclude(email="").values_list("email", flat=True)
    ))


def email(addresses, subject: str, body: str) -> bool:
    """Send one email; a mail server that is down is logged, never fatal: the pages say it too."""
    addresses = sorted({a for a in addresses if a})
    if not addresses:
        return False
    try:
        send_mail(f"[{settings.SCHOOL.name}] {subject}", body, None, addresses)
    except OSError:
        logger.exception("Could not send the email '%s'", subject)
        return False
    return True


def tell_roles(roles, subject: str, body: str) -> bool:
    return email(addresses_of_roles(*roles), subject, body)


def once(key: str, subject: str) -> bool:
    """True the first time a key is seen, False ever after (across processes and restarts)."""
    from moderation.models import Notice

    try:
        with transaction.atomic():
            Notice.objects.create(key=key[:200], subject=subject[:300])
    except IntegrityError:
        return False
    return True
