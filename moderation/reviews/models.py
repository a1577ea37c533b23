"""Channel risk assessments and the annual policy review.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from config.school.scoping import BelongsToSchool, school_scoped
from connectors.models import Channel
from moderation.drafts.models import add_months

User = settings.AUTH_USER_MODEL


class RiskAssessment(models.Model):
    """A risk assessment of a channel, approved by the headteacher (policy section 5)."""
    objects = school_scoped("channel__school")

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="risk_assessments")
    summary = models.TextField(help_text="The risks considered and how they are controlled.")
    document_reference = models.CharField(max_length=200, blank=True)
    approved_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-approved_at"]

    def expires_at(self, months: int):
        return add_months(self.approved_at, months)


class PolicyReview(BelongsToSchool):
    """The headteacher's review of the social media policy itself (section 7: at least annually)."""
    objects = school_scoped("school")

    reviewed_at = models.DateTimeField(default=timezone.now)
    reviewed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    version = models.CharField("Policy version", max_length=60)
    notes = models.TextField("What was reviewed or changed", blank=True)

    class Meta:
        ordering = ["-reviewed_at", "-id"]

    def due_at(self, months: int):
        return add_months(self.reviewed_at, months)
