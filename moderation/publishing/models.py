"""What was published: the post, the pupils it shows, its published copies; families' access.
"""

from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.utils import timezone

from config.school import files
from config.school.scoping import BelongsToSchool, school_scoped
from connectors.models import Channel
from moderation.approval.models import Approval
from moderation.drafts.models import Draft, MediaFile
from moderation.gates.models import GateRun

User = settings.AUTH_USER_MODEL
# A published video's checked thumbnail is kept beside it under this ending.
THUMBNAIL = ".thumbnail.jpg"


class PublishedPost(models.Model):
    objects = school_scoped("channel__school")
    draft = models.OneToOneField(Draft, on_delete=models.PROTECT, related_name="publication")
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="publications")
    connector = models.CharField(max_length=40)
    platform_post_id = models.CharField(max_length=200)
    platform_url = models.CharField(max_length=500, blank=True)
    published_at = models.DateTimeField(default=timezone.now, db_index=True)
    published_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    approval = models.ForeignKey(Approval, on_delete=models.PROTECT, related_name="+")
    gate_run = models.ForeignKey(GateRun, on_delete=models.PROTECT, related_name="+")
    content_hash = models.CharField(max_length=64)
    text = models.TextField(blank=True)
    title = models.CharField(max_length=100, blank=True)
    link = models.URLField(blank=True, max_length=500)
    # What the platform still does with it (a YouTube video being processed), in words; "" when nothing.
    platform_state = models.CharField(max_length=300, blank=True)
    # Why the platform did not take the video's checked thumbnail ("" when it did, or there was
    # none): the post is up, and "Set the thumbnail again" sends it once more.
    thumbnail_problem = models.CharField(max_length=500, blank=True)
    # A post of a channel that is not public (a private YouTube channel) is shown on the families'
    # page, behind the headteacher's access link, and nowhere that anyone can reach.
    for_families_only = models.BooleanField(default=False)
    # Takedown (policy section 8): off the mirror at once; off the platform when its API confirms.
    taken_down_at = models.DateTimeField(null=True, blank=True, db_index=True)
    taken_down_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    takedown_reason = models.TextField(blank=True)
    removed_from_platform_at = models.DateTimeField(null=True, blank=True)
    takedown_error = models.TextField(blank=True)
    # When its comments were last read from the platform (section 5, last bullet).
    comments_read_at = models.DateTimeField(null=True, blank=True)
    comments_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-published_at", "-id"]

    def __str__(self):
        return self.title or (self.text[:60] if self.text else self.link) or f"Post {self.pk}"

    @property
    def approved_by(self):
        return self.approval.approver

    @property
    def is_taken_down(self) -> bool:
        return self.taken_down_at is not None

    @property
    def takedown_pending(self) -> bool:
        """Off the mirror, but the platform has not confirmed its removal yet."""
        return self.taken_down_at is not None and self.removed_from_platform_at is None


class PublishedPupil(models.Model):
    """A pupil shown (not blurred) in a published post: what a consent withdrawal must find."""
    objects = school_scoped("post__channel__school")

    class How(models.TextChoices):
        AUTOMATIC = "automatic", "Recognised automatically"
        CONFIRMED = "confirmed", "Identified by a person"

    post = models.ForeignKey(PublishedPost, on_delete=models.PROTECT, related_name="pupils_shown")
    pupil = models.ForeignKey("consent.Pupil", on_delete=models.PROTECT, related_name="+")
    how = models.CharField(max_length=10, choices=How.choices)


class PublishedMedia(models.Model):
    """The exact copy that was published, kept for the inclusive mirror."""
    objects = school_scoped("post__channel__school")

    post = models.ForeignKey(PublishedPost, on_delete=models.PROTECT, related_name="media")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=MediaFile.Kind.choices)
    stored_name = models.CharField(max_length=120)
    content_type = models.CharField(max_length=60)
    sha256 = models.CharField(max_length=64)
    alt_text = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["position"]

    @property
    def path(self):
        """The published copy on this machine's disk (fetched from the file storage when it is kept elsewhere)."""
        return files.here(files.PUBLISHED, self.stored_name)

    @property
    def thumbnail_path(self):
        """A video's checked thumbnail, written beside it when it was published."""
        return files.here(files.PUBLISHED, str(PurePosixPath(self.stored_name).with_suffix(THUMBNAIL)))


class FamiliesAccess(BelongsToSchool):
    """The code that opens the families' page (posts of channels that are not public). The
    headteacher issues it and can change it; only the newest one opens anything, so changing it
    ends every old link at once."""
    objects = school_scoped("school")

    code = models.CharField(max_length=40, unique=True)
    issued_at = models.DateTimeField(default=timezone.now)
    issued_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name_plural = "families' access codes"
