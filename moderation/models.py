"""Drafts, their media, gate results, approvals, publications and the audit log."""

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from config.school.models import AuditEntry
from connectors.models import Channel

User = settings.AUTH_USER_MODEL


class IllegalTransition(Exception):
    """A draft was asked to move in a way its status does not allow. Nothing changed."""


class RiskAssessment(models.Model):
    """A risk assessment of a channel, approved by the headteacher (policy section 5)."""

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="risk_assessments")
    summary = models.TextField(help_text="The risks considered and how they are controlled.")
    document_reference = models.CharField(max_length=200, blank=True)
    approved_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-approved_at"]

    def expires_at(self, months: int):
        return add_months(self.approved_at, months)


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


class Draft(models.Model):
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
    # When its uploads were deleted after DRAFT_RETENTION_DAYS without activity (moderation.retention).
    originals_deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-updated_at"]
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
    copy_name = models.CharField(max_length=120, blank=True)  # under settings.PREVIEW_DIR
    copy_progress = models.FloatField(default=0.0)
    copy_error = models.CharField(max_length=300, blank=True)
    copy_heartbeat = models.DateTimeField(null=True, blank=True)
    # What the second face detector sees in that copy: [[time, top, right, bottom, left, score], ...].
    copy_findings = models.JSONField(default=list, blank=True)
    # The words read in that copy (after its blurs): [[time, text, top, right, bottom, left], ...].
    copy_words = models.JSONField(default=list, blank=True)

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
        return settings.UPLOAD_DIR / self.stored_name


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


class MediaText(models.Model):
    """A line of words read inside a photo (a certificate, a name label, a whiteboard).

    Words that carry personal data are blurred in the published copy, like a face; whether
    they are is a person's decision and part of the approved content.
    """

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


class GateRun(models.Model):
    """One run of the whole pipeline over a draft's exact content."""

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


class Approval(models.Model):
    """A second colleague's approval of one exact content, bound to its hash."""

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


class AUPAcceptance(models.Model):
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="aup_acceptances")
    version = models.CharField(max_length=40)
    accepted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "version"], name="one_acceptance_per_version")]


class PublishedPost(models.Model):
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

    class How(models.TextChoices):
        AUTOMATIC = "automatic", "Recognised automatically"
        CONFIRMED = "confirmed", "Identified by a person"

    post = models.ForeignKey(PublishedPost, on_delete=models.PROTECT, related_name="pupils_shown")
    pupil = models.ForeignKey("consent.Pupil", on_delete=models.PROTECT, related_name="+")
    how = models.CharField(max_length=10, choices=How.choices)


class PublishedMedia(models.Model):
    """The exact copy that was published, kept for the inclusive mirror."""

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
        return settings.PUBLISHED_DIR / self.stored_name

    @property
    def thumbnail_path(self):
        """A video's checked thumbnail, written beside it when it was published."""
        return self.path.with_suffix(".thumbnail.jpg")


class LanguageReview(models.Model):
    """The reviewing colleague's judgement of one sentence flagged by `respectful-language`.

    A false alarm is confirmed in words (why it is not abusive); a sentence judged abusive
    stops the draft from being approved until it is changed.
    """

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


class PolicyReview(models.Model):
    """The headteacher's review of the social media policy itself (section 7: at least annually)."""

    reviewed_at = models.DateTimeField(default=timezone.now)
    reviewed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    version = models.CharField("Policy version", max_length=60)
    notes = models.TextField("What was reviewed or changed", blank=True)

    class Meta:
        ordering = ["-reviewed_at", "-id"]

    def due_at(self, months: int):
        return add_months(self.reviewed_at, months)


class PlatformComment(models.Model):
    """A comment read from a published post (section 5, last bullet). The product only reads
    comments: it never replies and never sends private or direct messages."""

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


class Concern(models.Model):
    """A report of concern about a published post (policy section 8), from anyone."""

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

    concern = models.ForeignKey(Concern, on_delete=models.PROTECT, related_name="notes")
    written_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    written_at = models.DateTimeField(default=timezone.now)
    text = models.TextField()

    class Meta:
        ordering = ["written_at", "id"]


class FamiliesAccess(models.Model):
    """The code that opens the families' page (posts of channels that are not public). The
    headteacher issues it and can change it; only the newest one opens anything, so changing it
    ends every old link at once."""

    code = models.CharField(max_length=40, unique=True)
    issued_at = models.DateTimeField(default=timezone.now)
    issued_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name_plural = "families' access codes"


class WorkerBeat(models.Model):
    """The worker's last sign of life, per host and process, for `/health/`."""

    name = models.CharField(max_length=200, unique=True)
    beat_at = models.DateTimeField()
