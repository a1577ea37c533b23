"""The Acceptable Use Policy each member of staff accepts before drafting or approving.
"""

from django.core.exceptions import PermissionDenied

from config.school.models import AuditEntry
from config.school.people import display_name
from config.school.tenancy import current_school
from moderation.models import AUPAcceptance


class AUPNotAccepted(PermissionDenied):
    pass


def aup_version() -> str:
    """The version of the Acceptable Use Policy of the school in scope: each school has its own."""
    return current_school().aup_version


def has_accepted_aup(user) -> bool:
    return AUPAcceptance.objects.filter(user=user, version=aup_version()).exists()


def require_aup(user):
    if not has_accepted_aup(user):
        raise AUPNotAccepted(
            f"Accept version {aup_version()} of the Acceptable Use Policy before drafting or approving."
        )


def accept_aup(user):
    version = aup_version()
    _, created = AUPAcceptance.objects.get_or_create(user=user, version=version)
    if created:
        AuditEntry.objects.create(actor=user, action="aup.accepted", summary=f"{display_name(user)} accepted AUP version {version}")
