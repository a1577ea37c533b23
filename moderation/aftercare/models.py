"""After publishing: comments read from the platforms, concerns raised and their notes.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from config.school.scoping import BelongsToSchool, school_scoped
from moderation.publishing.models import PublishedPost

User = settings.AUTH_USER_MODEL


class PlatformComment(models.Model):
    """A comment read from a published post (section 5, last bullet). The product only reads
    comments: it never replies and never sends private or direct messages."""
    objects = school_scoped("post__channel__school")

    class Status(models.TextChoices):
        CLEAR = "clear", "Nothing of concern found"
        CONCERN = "concern", "Of concern: raised to the DSL"
        DEALT_WITH = "dealt_with", "Dealt with"

    post = models.ForeignKey(PublishedPost, on_delete=models.PROTECT, related_name="comments")
    comment_id = models.CharField(max_length=200)
    parent_id = models.CharField(max_length=200, blank=True)
    author = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True)
    written_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CLEAR, db_index=True)
    # [{"kind": ..., "text": ..., "why": ...}]: what made it a concern.
    reasons = models.JSONField(default=list, blank=True)
    dealt_with_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    dealt_with_at = models.DateTimeField(null=True, blank=True)
    dealt_with_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-read_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["post", "comment_id"], name="one_row_per_comment")]


class Concern(BelongsToSchool):
    """A report of concern about a published post (policy section 8), from anyone."""
    school_from = ("post.channel",)
    objects = school_scoped("school")

    class Source(models.TextChoices):
        PUBLIC = "public", "The news page (no account)"
        STAFF = "staff", "A member of staff"

    class Kind(models.TextChoices):
        CHILD_SHOWN = "child_shown", "A child is shown who should not be"
        PERSONAL_DATA = "personal_data", "It gives personal information"
        INAPPROPRIATE = "inappropriate", "It is inappropriate, hurtful or untrue"
        OTHER = "other", "Something else"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    post = models.ForeignKey(PublishedPost, on_delete=models.PROTECT, related_name="concerns")
    source = models.CharField(max_length=10, choices=Source.choices)
    kind = models.CharField("What is the concern?", max_length=20, choices=Kind.choices)
    details = models.TextField("Tell us what worries you")
    # Optional: a concern may be anonymous.
    contact = models.CharField("Your name and how to reach you (optional)", max_length=300, blank=True)
    reported_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reported_at = models.DateTimeField(default=timezone.now, db_index=True)
    # A keyed hash of the sender's address, only to limit how often one address may report.
    sender_key = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    # When the DSL and the headteacher were emailed about it; until then the worker tries again.
    told_at = models.DateTimeField(null=True, blank=True)
    # Sent while many reports arrived at once (CONCERNS_FLOOD_PER_HOUR): kept, told about together.
    in_flood = models.BooleanField(default=False)
    telling_attempts = models.PositiveIntegerField(default=0)
    closed_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True)

    class Meta:
        ordering = ["-reported_at", "-id"]
        permissions = [("handle_concern", "Can handle reports of concern and take posts down")]


class ConcernNote(models.Model):
    """A follow-up on a concern: what was done, who was told, lessons learnt."""
    objects = school_scoped("concern__school")

    concern = models.ForeignKey(Concern, on_delete=models.PROTECT, related_name="notes")
    written_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    written_at = models.DateTimeField(default=timezone.now)
    text = models.TextField()

    class Meta:
        ordering = ["written_at", "id"]
