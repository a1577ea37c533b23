"""Drafts and their media, with the draft's status and its named transitions.
"""

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from config.school import files
from config.school.models import AuditEntry
from config.school.scoping import BelongsToSchool, school_scoped
from connectors.models import Channel

User = settings.AUTH_USER_MODEL


class IllegalTransition(Exception):
    """A draft was asked to move in a way its status does not allow. Nothing changed."""


def add_months(moment, months: int):
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    # 29 February (or 31st) rolls back to the last day of the target month.
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise ValueError(moment)


class Draft(BelongsToSchool):
    school_from = ("channel",)
    objects = school_scoped("school")

    class Status(models.TextChoices):
        DRAFT = "draft", "Being written"
        RETURNED = "returned", "Returned to author"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        APPROVED = "approved", "Approved"
        PUBLISHING = "publishing", "Publishing"
        WAITING = "waiting", "Waiting for the platform"
        HELD = "held", "Held"
        PUBLISHED = "published", "Published"
        WITHDRAWN = "withdrawn", "Withdrawn"

    class Objective(models.TextChoices):
        EDUCATIONAL = "educational", "Educational"
        COMMUNITY = "community", "Community engagement"

    S = Status
    # name: (statuses it may start from, status it ends in, what the audit log says)
    TRANSITIONS = {
        "submit": ({S.DRAFT, S.RETURNED}, S.AWAITING_APPROVAL, "submitted for approval"),
        "fail_checks": ({S.DRAFT, S.RETURNED}, S.RETURNED, "returned to author: checks failed"),
        "send_back": ({S.AWAITING_APPROVAL}, S.RETURNED, "sent back to author by approver"),
        "approve": ({S.AWAITING_APPROVAL}, S.APPROVED, "approved"),
        "reopen": ({S.AWAITING_APPROVAL, S.APPROVED, S.HELD, S.WAITING}, S.DRAFT, "reopened for editing"),
        "start_publishing": ({S.APPROVED, S.HELD, S.WAITING}, S.PUBLISHING, "publishing started"),
        # The platform cannot take it now (rate limit, quota, outage, unclear answer, interrupted upload).
        "wait": ({S.PUBLISHING}, S.WAITING, "waiting for the platform"),
        "hold": ({S.PUBLISHING, S.APPROVED, S.WAITING}, S.HELD, "held: not published"),
        "mark_published": ({S.PUBLISHING}, S.PUBLISHED, "published"),
        "withdraw": ({S.DRAFT, S.RETURNED, S.AWAITING_APPROVAL, S.APPROVED, S.HELD, S.WAITING}, S.WITHDRAWN, "withdrawn"),
    }
    EDITABLE = {S.DRAFT, S.RETURNED}
    del S

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="drafts")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="drafts")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT, editable=False, db_index=True)
    text = models.TextField("Post text", blank=True)
    title = models.CharField("Video title", max_length=100, blank=True)
    link = models.URLField("Link", blank=True, max_length=500)
    objective = models.CharField(max_length=20, choices=Objective.choices, blank=True)
    intended_outcome = models.TextField(
        "Intended outcome",
        blank=True,
        help_text="What this post is meant to achieve, in words: for example, 'parents see the Year 4 river project'.",
    )
    publish_at = models.DateTimeField("Publish at", null=True, blank=True)
    status_note = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When its uploads were deleted after DRAFT_RETENTION_DAYS without activity (moderation.aftercare.retention).
    originals_deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-updated_at"]
        # A school's queue and lists: its own drafts in one status, oldest first.
        indexes = [models.Index(fields=["school", "status", "updated_at"], name="drafts_of_a_school_by_status")]
        permissions = [
            ("approve_draft", "Can approve a colleague's draft"),
            ("publish_draft", "Can publish an approved draft"),
            ("view_publication_log", "Can see the published-content log and audit trail"),
        ]

    def __str__(self):
        return f"Draft {self.pk} for {self.channel}"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("draft", args=[self.pk])

    def save(self, *args, **kwargs):
        # Status moves only through transition(); an ordinary save never writes it.
        if self.pk and not kwargs.get("force_insert") and "update_fields" not in kwargs:
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields if f.name not in {"id", "status", "status_note", "created_at"}
            ]
        super().save(*args, **kwargs)

    @property
    def has_text_to_check(self) -> bool:
        """Words that respectful-language reads: the text, the title, or a photo's description."""
        return bool(self.text.strip() or self.title.strip() or self.media.exclude(alt_text="").exists())

    @property
    def is_editable(self):
        return self.status in self.EDITABLE

    @property
    def is_youtube(self):
        return self.channel.kind == Channel.Kind.YOUTUBE

    def allowed(self, name: str) -> bool:
        return self.status in self.TRANSITIONS[name][0]

    def transition(self, name: str, *, by, note: str = "", data: dict | None = None, audit_note: str | None = None):
        """Move to the transition's target status atomically and write the audit entry.

        The status changes only if the row is still in an allowed source status, so two
        people (or two workers) acting at once cannot both move it. audit_note, when given, is what
        the audit trail says instead of note: a gate's words can name a pupil, and the trail, which
        cannot be changed, must not (the words stay in the gate results, which erasure can reach).
        """
        sources, target, wording = self.TRANSITIONS[name]
        with transaction.atomic():
            moved = Draft.objects.filter(pk=self.pk, status__in=list(sources)).update(
                status=target, status_note=note, updated_at=timezone.now()
            )
            if not moved:
                current = Draft.objects.filter(pk=self.pk).values_list("status", flat=True).first()
                label = self.Status(current).label.lower() if current else "missing"
                raise IllegalTransition(
                    f"This draft cannot be {wording.split(':')[0]} now: it is {label}."
                )
            previous = self.status
            self.status, self.status_note = target, note
            AuditEntry.objects.create(
                actor=by,
                action=f"draft.{name}",
                draft=self,
                channel_id=self.channel_id,
                summary=f"Draft {self.pk} {wording}" + (f": {audit_note if audit_note is not None else note}" if note else ""),
                data={"from": previous, "to": target, **(data or {})},
            )


class MediaFile(models.Model):
    objects = school_scoped("draft__school")

    class Kind(models.TextChoices):
        IMAGE = "image", "Photo"
        VIDEO = "video", "Video"

    class Rights(models.TextChoices):
        SCHOOL = "school", "Taken by staff for the school"
        PUPIL_WORK = "pupil_work", "Pupils' work made in school"
        PERMISSION = "permission", "Used with the owner's written permission"
        LICENSED = "licensed", "Licensed for reuse (licence named in the source)"

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="media")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    stored_name = models.CharField(max_length=80, unique=True, editable=False)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=60)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField(null=True)
    height = models.PositiveIntegerField(null=True)
    source = models.CharField(
        max_length=300, help_text="Who made it, when and where: for example, 'Mrs Patel, school camera, sports day'."
    )
    rights = models.CharField(max_length=20, choices=Rights.choices)
    alt_text = models.CharField(
        "Description for people who cannot see it", max_length=500, blank=True
    )
    added_at = models.DateTimeField(auto_now_add=True)
    # When detection last ran over these bytes, or why it could not.
    faces_found_at = models.DateTimeField(null=True, blank=True)
    detection_error = models.CharField(max_length=300, blank=True)
    # When the words inside the photo were read (None: not yet), or why they could not be.
    words_read_at = models.DateTimeField(null=True, blank=True)
    reading_error = models.CharField(max_length=300, blank=True)

    class Analysis(models.TextChoices):
        QUEUED = "queued", "Waiting to be analysed"
        RUNNING = "running", "Being analysed"
        DONE = "done", "Analysed"
        FAILED = "failed", "Could not be analysed"

    # Finding the faces and reading the words runs in the worker, not in the web request. The
    # worker claims a file by moving it from queued to running; a running file whose heartbeat
    # stops (the worker was killed or restarted) is queued again.
    analysis = models.CharField(max_length=10, choices=Analysis.choices, default=Analysis.QUEUED, db_index=True)
    analysis_progress = models.FloatField(default=0.0)
    analysis_started_at = models.DateTimeField(null=True, blank=True)
    analysis_heartbeat = models.DateTimeField(null=True, blank=True)
    analysis_error = models.CharField(max_length=300, blank=True)
    # host:pid of the worker analysing it, so that a worker starting on the same host can tell
    # that the one before it is gone.
    analysis_worker = models.CharField(max_length=120, blank=True)
    # A video's thumbnail, the picture the platform shows before it plays: the frame at this many
    # seconds, chosen by the author (None: a third of the way in). It is checked as a photo.
    thumbnail_time = models.FloatField(null=True, blank=True)

    # A video's published copy, made by the worker once the faces are decided (the approver watches
    # it, and it is the very file published): which decisions it was made for, and how it went.
    class Copy(models.TextChoices):
        NONE = "none", "Not made"
        QUEUED = "queued", "Waiting to be made"
        RUNNING = "running", "Being made"
        DONE = "done", "Made"
        FAILED = "failed", "Could not be made"

    copy_state = models.CharField(max_length=10, choices=Copy.choices, default=Copy.NONE)
    copy_for = models.CharField(max_length=64, blank=True)  # the decisions it shows (video_review.decisions_hash)
    copy_name = models.CharField(max_length=120, blank=True)  # in the "copies" storage
    copy_progress = models.FloatField(default=0.0)
    copy_error = models.CharField(max_length=300, blank=True)
    copy_heartbeat = models.DateTimeField(null=True, blank=True)
    # What the second face detector sees in that copy: [[time, top, right, bottom, left, score], ...].
    copy_findings = models.JSONField(default=list, blank=True)
    # The words read in that copy (after its blurs): [[time, text, top, right, bottom, left], ...].
    copy_words = models.JSONField(default=list, blank=True)

    @classmethod
    def waiting_beside(cls, media_id: int, **state) -> int:
        """How many other files of this file's school wait in this state (analysis=QUEUED, say),
        counted across the installation: a file's turn among the schools (upkeep/tasks.in_turn)."""
        with scopes_disabled():  # and the database's wall open (config/school/wall.py)
            school = cls.objects.filter(pk=media_id).values("draft__school")
            return cls.objects.filter(draft__school__in=school, **state).exclude(pk=media_id).count()

    @classmethod
    def queued_by_school(cls, **queued) -> list[tuple[int, int]]:
        """(id, school id) of every file in this state (analysis=QUEUED, say), oldest first, across
        the installation: the turns among the schools on Redis (upkeep/tasks.feed)."""
        with scopes_disabled():  # and the database's wall open (config/school/wall.py)
            return list(cls.objects.filter(**queued).order_by("pk").values_list("pk", "draft__school_id"))

    def analysis_seconds_left(self, now=None) -> int | None:
        """A guess from the pace measured so far, up to now (not to the last report of progress,
        which a long step between two reports would freeze); None until there is a pace to go by."""
        if self.analysis != self.Analysis.RUNNING or not self.analysis_started_at or self.analysis_progress <= 0.02:
            return None
        elapsed = ((now or timezone.now()) - self.analysis_started_at).total_seconds()
        return max(1, round(elapsed / self.analysis_progress * (1 - self.analysis_progress)))

    def analysis_words(self, now=None) -> str:
        """How far the analysis has gone, in words, as the draft page shows it."""
        percent = round(100 * self.analysis_progress)
        left = self.analysis_seconds_left(now)
        if left is None:
            return f"{percent}%"
        return f"{percent}%, about {round(left / 60)} minutes left" if left >= 90 else f"{percent}%, about {left} seconds left"

    class Meta:
        ordering = ["position", "id"]

    @property
    def audit_label(self) -> str:
        """How the audit trail names this file: by its row ("photo 12"), never by its file name,
        which is often a child's name. The pages show the name beside it while the file exists."""
        return f"{self.get_kind_display().lower()} {self.pk}"

    @property
    def path(self):
        """The uploaded file on this machine's disk (fetched from the file storage when it is kept elsewhere)."""
        return files.here(files.UPLOADS, self.stored_name)


class MediaText(models.Model):
    """A line of words read inside a photo (a certificate, a name label, a whiteboard).

    Words that carry personal data are blurred in the published copy, like a face; whether
    they are is a person's decision and part of the approved content.
    """
    objects = school_scoped("media__draft__school")

    media = models.ForeignKey(MediaFile, on_delete=models.CASCADE, related_name="words")
    top = models.PositiveIntegerField()
    right = models.PositiveIntegerField()
    bottom = models.PositiveIntegerField()
    left = models.PositiveIntegerField()
    text = models.CharField(max_length=500)
    confidence = models.FloatField()
    blur = models.BooleanField(default=False)
    blur_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # In a video: when the frame that was read is shown (seconds from the start); None in a photo.
    time = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["time", "top", "left", "id"]

    @property
    def box(self):
        return (self.top, self.right, self.bottom, self.left)
