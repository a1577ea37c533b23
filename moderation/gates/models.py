"""Each run of the gates over a draft, and each gate's result.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from config.school.scoping import school_scoped
from moderation.drafts.models import Draft

User = settings.AUTH_USER_MODEL


class GateRun(models.Model):
    """One run of the whole pipeline over a draft's exact content."""
    objects = school_scoped("draft__school")

    class Phase(models.TextChoices):
        SUBMIT = "submit", "On submission"
        APPROVE = "approve", "On approval"
        PUBLISH = "publish", "At publishing"
        RECHECK = "recheck", "After a consent change"
        # The checks a decision about a face or words touches, run again at once for the page.
        DECISION = "decision", "After a decision"

    draft = models.ForeignKey(Draft, on_delete=models.PROTECT, related_name="gate_runs")
    phase = models.CharField(max_length=10, choices=Phase.choices)
    run_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True)
    run_at = models.DateTimeField(default=timezone.now)
    content_hash = models.CharField(max_length=64, blank=True)
    passed = models.BooleanField()

    class Meta:
        ordering = ["-run_at", "-id"]


class GateResult(models.Model):
    objects = school_scoped("run__draft__school")
    class Status(models.TextChoices):
        PASS = "pass", "Passed"
        FAIL = "fail", "Failed"
        WAITING = "waiting", "Waiting for a person"
        UNAVAILABLE = "unavailable", "Not yet available"

    run = models.ForeignKey(GateRun, on_delete=models.PROTECT, related_name="results")
    position = models.PositiveIntegerField()
    gate_id = models.CharField(max_length=40)
    clause = models.TextField()
    status = models.CharField(max_length=12, choices=Status.choices)
    message = models.TextField()

    class Meta:
        ordering = ["position"]
