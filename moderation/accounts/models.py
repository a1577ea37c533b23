"""Acceptance of the Acceptable Use Policy.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

User = settings.AUTH_USER_MODEL


class AUPAcceptance(models.Model):
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="aup_acceptances")
    version = models.CharField(max_length=40)
    accepted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "version"], name="one_acceptance_per_version")]
