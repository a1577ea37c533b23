"""Acceptance of the Acceptable Use Policy.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from config.school.scoping import BelongsToSchool, school_scoped

User = settings.AUTH_USER_MODEL


class AUPAcceptance(BelongsToSchool):
    """Someone accepted one version of a school's Acceptable Use Policy (each school has its own)."""

    objects = school_scoped("school")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="aup_acceptances")
    version = models.CharField(max_length=40)
    accepted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["school", "user", "version"], name="one_acceptance_per_version_per_school")]
