"""Telling people: by email (Django's mail framework), and at most once for anything a worker
might do again after a restart (a reminder, a failed scheduled publish)."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from config.school.models import Notice, School
from config.school.tenancy import current_school_id, people

logger = logging.getLogger(__name__)


def addresses_of_roles(*roles) -> list[str]:
    """The addresses of the people holding these roles in the school in scope (nobody's, with none)."""
    return sorted(set(people(*roles).filter(is_active=True).exclude(email="").values_list("email", flat=True)))


def page(name: str, *args) -> str:
    """The address of one of the product's pages, for an email: people act on what it says there."""
    from django.urls import reverse

    path = reverse(name, args=args)
    if current_school_id() is not None and School.objects.count() > 1:
        # Opened by someone working in several schools, the link opens in the school it is about.
        path += f"?school={current_school_id()}"
    if settings.SITE_ADDRESS:
        return settings.SITE_ADDRESS + path
    return f"{path} (on the product's site; SITE_ADDRESS gives its full address)"


SUBJECT_LENGTH = 150


def one_line(subject: str) -> str:
    """A subject as a mail header must be: one line (a post's first words may hold line breaks), not too long."""
    line = " ".join(str(subject).split())
    return line if len(line) <= SUBJECT_LENGTH else line[:SUBJECT_LENGTH - 1].rstrip() + "…"


def email(addresses, subject: str, body: str) -> bool:
    """Send one email; a mail server that is down, or anything else that stops it, is logged and
    never fatal: the caller records that it was not sent, and the pages say it too."""
    addresses = sorted({a for a in addresses if a})
    if not addresses:
        return False
    school = School.objects.filter(pk=current_school_id()).first()
    subject = one_line(f"[{school.name if school else settings.SCHOOL.name}] {subject}")
    try:
        send_mail(subject, body, None, addresses)
    except Exception:  # noqa: BLE001 - SMTP errors, refused headers, a misconfigured backend: all mean "not sent"
        logger.exception("Could not send the email '%s'", subject)
        return False
    return True


def tell_roles(roles, subject: str, body: str) -> bool:
    return email(addresses_of_roles(*roles), subject, body)


def once(key: str, subject: str) -> bool:
    """True the first time a key is seen, False ever after (across processes and restarts)."""
    try:
        with transaction.atomic():
            Notice.objects.create(key=key[:200], subject=subject[:300])
    except IntegrityError:
        return False
    return True
