"""What the approver decides: each face and track (blur or who it is), the language judged, the approval.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from config.school.scoping import school_scoped
from moderation.drafts.models import Draft, MediaFile

User = settings.AUTH_USER_MODEL


class FaceDecisions(models.Model):
    """What people decided about a face (who it is, blur it), and the latest automatic match:
    the same for a face in a photo and a face followed through a video."""

    identified_pupil = models.ForeignKey("consent.Pupil", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    identified_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    identified_at = models.DateTimeField(null=True, blank=True)
    blur = models.BooleanField(default=False)
    blur_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # The latest automatic result, kept for display: worked out again at every check.
    auto_status = models.CharField(max_length=12, blank=True)
    auto_pupil = models.ForeignKey("consent.Pupil", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    auto_distance = models.FloatField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def box(self):
        return (self.top, self.right, self.bottom, self.left)


def next_face_number(faces) -> int:
    """The number the next face (or track) of a file takes: after every number ever shown in it."""
    return (faces.aggregate(models.Max("number"))["number__max"] or 0) + 1


class MediaFace(FaceDecisions):
    """A face in a photo: found by detection or marked by a person, and what people decided about it.

    The automatic match is worked out again at every check against the register as it is
    then; what is stored here is the box and the people's decisions, which are part of the
    approved content.
    """

    class Source(models.TextChoices):
        DETECTED = "detected", "Found automatically"
        # Seen by the second detector (RetinaFace) where the first found no face: decided like any other.
        SECOND = "second", "Found by the second detector"
        MARKED = "marked", "Marked by a person"

    media = models.ForeignKey(MediaFile, on_delete=models.CASCADE, related_name="faces")
    objects = school_scoped("media__draft__school")
    top = models.PositiveIntegerField()
    right = models.PositiveIntegerField()
    bottom = models.PositiveIntegerField()
    left = models.PositiveIntegerField()
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.DETECTED)
    marked_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # Its number in its photo, for life: the same on the page, in the checks and in the audit
    # trail. Marking a missed face gives it the next number and renumbers nothing.
    number = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["number", "id"]


class Approval(models.Model):
    """A second colleague's approval of one exact content, bound to its hash."""
    objects = school_scoped("draft__school")

    draft = models.ForeignKey(Draft, on_delete=models.PROTECT, related_name="approvals")
    approver = models.ForeignKey(User, on_delete=models.PROTECT, related_name="approvals")
    content_hash = models.CharField(max_length=64)
    aup_version = models.CharField(max_length=40)
    # {attestation id: the exact words the approver confirmed}
    attestations = models.JSONField(default=dict)
    comment = models.TextField(blank=True)
    approved_at = models.DateTimeField(default=timezone.now)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-approved_at", "-id"]


class LanguageReview(models.Model):
    """The reviewing colleague's judgement of one sentence flagged by `respectful-language`.

    A false alarm is confirmed in words (why it is not abusive); a sentence judged abusive
    stops the draft from being approved until it is changed.
    """
    objects = school_scoped("draft__school")

    class Verdict(models.TextChoices):
        FALSE_ALARM = "false-alarm", "A false alarm"
        ABUSIVE = "abusive", "Abusive"

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="language_reviews")
    where = models.CharField(max_length=300)
    sentence = models.TextField()
    verdict = models.CharField(max_length=12, choices=Verdict.choices)
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["draft", "where", "sentence"], name="one_review_per_flag")]


class VideoTrack(FaceDecisions):
    """One face followed through a video, from when it appears to when it goes.

    Like a face in a photo, a track is identified automatically and may be identified or blurred
    by a person; those decisions are part of the approved content. The best view of the face is
    kept (its neighbourhood, as a JPEG) so that every check can match it against the register as
    it is then, without analysing the whole video again.
    """

    media = models.ForeignKey(MediaFile, on_delete=models.CASCADE, related_name="tracks")
    objects = school_scoped("media__draft__school")
    start = models.FloatField()
    end = models.FloatField()
    best_time = models.FloatField()
    top = models.PositiveIntegerField()
    right = models.PositiveIntegerField()
    bottom = models.PositiveIntegerField()
    left = models.PositiveIntegerField()
    # Every sighting, [time, top, right, bottom, left]: where to blur, between sightings by interpolation.
    sightings = models.JSONField(default=list)
    view = models.BinaryField()  # JPEG of the face's neighbourhood at its best view
    view_box = models.JSONField()  # the face inside view: [top, right, bottom, left]
    # Found by the engine, or marked by a person on a frame (then followed through the frames around it).
    Source = MediaFace.Source
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.DETECTED)
    marked_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    number = models.PositiveIntegerField(default=0)  # as a face in a photo: one number for life

    class Meta:
        ordering = ["number", "id"]
