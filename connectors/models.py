"""What the connectors keep in the database: the school's channels, each channel's connection
to its platform (the tokens, encrypted), each publish's journal, and the YouTube quota spent
each day."""

import json
import os
import socket
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from config.school import crypto
from config.school.scoping import BelongsToSchool, school_scoped
from connectors.base import Journal

User = settings.AUTH_USER_MODEL


class Channel(BelongsToSchool):
    """One of the school's official channels, with the record the headteacher approves."""
    objects = school_scoped("school")

    class Kind(models.TextChoices):
        FACEBOOK = "facebook", "Facebook Page"
        YOUTUBE = "youtube", "YouTube channel"

    class Privacy(models.TextChoices):
        PRIVATE = "private", "Private"
        UNLISTED = "unlisted", "Unlisted"
        PUBLIC = "public", "Public"

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    connector = models.CharField(
        max_length=40,
        default="outbox",
        help_text="Where posts go: the local outbox, or the platform itself once connected.",
    )
    active = models.BooleanField(default=True)
    platform_account_id = models.CharField("Page or channel id", max_length=120, blank=True)
    dedicated_account_name = models.CharField(
        "Dedicated account",
        max_length=200,
        blank=True,
        help_text="The account set up only for the school's official use.",
    )
    account_email = models.EmailField(
        "Registered email",
        blank=True,
        help_text="The school address the account is registered with.",
    )
    login_holders = models.ManyToManyField(
        User,
        blank=True,
        related_name="held_channels",
        verbose_name="Leadership staff who hold the login details",
    )
    authors = models.ManyToManyField(
        User,
        blank=True,
        related_name="authorised_channels",
        verbose_name="Staff authorised to draft posts",
    )
    parents_informed_on = models.DateField("Parents and carers informed on", null=True, blank=True)
    parents_informed_how = models.TextField(
        "How parents and carers were informed",
        blank=True,
        help_text="For example: letter home of 4 September with the expectations for safe use.",
    )
    youtube_privacy = models.CharField(
        "YouTube visibility", max_length=20, choices=Privacy.choices, default=Privacy.PRIVATE
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        db_table = "moderation_channel"  # where it was kept before it moved here
        constraints = [models.UniqueConstraint(fields=["school", "name"], name="one_channel_name_per_school")]
        permissions = [
            ("manage_channel", "Can edit a channel record"),
            ("approve_channel", "Can approve a channel's risk assessment"),
        ]

    def __str__(self):
        return self.name

    @property
    def current_risk_assessment(self):
        return self.risk_assessments.order_by("-approved_at", "-id").first()

    @property
    def posts_are_public(self) -> bool:
        """Whether anyone can see this channel's posts on the platform: a Facebook Page's are;
        a YouTube channel's only when its videos are public (private and unlisted ones are
        for the families the school shares them with)."""
        return self.kind == self.Kind.FACEBOOK or self.youtube_privacy == self.Privacy.PUBLIC


class Connection(models.Model):
    """A channel's link to its account on the platform. The tokens are stored encrypted with the
    school's key (the one that protects the face encodings: one secret to keep safe)."""
    objects = school_scoped("channel__school")

    class Status(models.TextChoices):
        CONNECTED = "connected", "Connected"
        RECONNECT_NEEDED = "reconnect_needed", "Reconnect needed"

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="connection")
    platform = models.CharField(max_length=20)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CONNECTED)
    account_id = models.CharField("Page or channel id", max_length=120)
    account_name = models.CharField(max_length=200, blank=True)
    secret = models.BinaryField(editable=False)
    connected_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    connected_at = models.DateTimeField(default=timezone.now)
    checked_at = models.DateTimeField(null=True, blank=True)
    problem = models.TextField(blank=True)

    def __str__(self):
        return f"{self.channel}: {self.get_status_display().lower()}"

    @property
    def usable(self) -> bool:
        return self.status == self.Status.CONNECTED

    @property
    def app_is_live(self) -> bool:
        """A Facebook connection made by someone who said the app is Live (see facebook/connect.py)."""
        try:
            return bool(self.credentials().get("app_live"))
        except (InvalidToken, ValueError):  # a key that no longer opens the tokens
            return False

    def credentials(self) -> dict:
        return json.loads(crypto.fernet().decrypt(bytes(self.secret)))

    def set_credentials(self, values: dict) -> None:
        self.secret = crypto.fernet().encrypt(json.dumps(values).encode())

    def save_credentials(self, values: dict) -> None:
        """Store refreshed tokens at once (Google hands out a new access token every hour)."""
        self.set_credentials(values)
        Connection.objects.filter(pk=self.pk).update(secret=self.secret)


class Delivery(models.Model):
    """One post's hand-over to its platform: the journal of what has been sent so far.

    There is one per draft and exact content. A second attempt (after a crash, a rate limit or an
    ambiguous answer) reads it and carries on from where the first one stopped.
    """
    objects = school_scoped("draft__school")

    draft = models.ForeignKey("moderation.Draft", on_delete=models.PROTECT, related_name="deliveries")
    content_hash = models.CharField(max_length=64)
    connector = models.CharField(max_length=40)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    steps = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Who is publishing it now (host:pid) and when they were last heard of: a crash leaves these behind.
    worker = models.CharField(max_length=120, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["draft", "content_hash", "connector"], name="one_delivery_per_content")]

    def journal(self) -> "DeliveryJournal":
        return DeliveryJournal(self)


class DeliveryJournal(Journal):
    """A journal written to the database at every step, so a crash loses no step."""

    def __init__(self, delivery: Delivery):
        super().__init__()
        self.delivery = delivery
        self.steps = dict(delivery.steps or {})

    def record(self, key: str, value) -> None:
        self.steps[key] = value
        self._save()

    def forget(self, key: str) -> None:
        if key in self.steps:
            del self.steps[key]
            self._save()

    def _save(self):
        self.delivery.steps = dict(self.steps)
        Delivery.objects.filter(pk=self.delivery.pk).update(steps=self.delivery.steps, heartbeat_at=timezone.now())


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# YouTube's daily quota starts again at midnight, Pacific time.
QUOTA_ZONE = ZoneInfo("America/Los_Angeles")


class QuotaDay(models.Model):
    """YouTube Data API quota spent by one channel on one (Pacific) day, in Google's two buckets.

    "Projects that enable the YouTube Data API have a default quota allocation of 100 search.list
    calls, 100 videos.insert calls, and 10,000 units per day combined for all other endpoints ...
    The search.list and videos.insert methods have their own quota buckets" (YouTube Data API,
    "Quota calculator", developers.google.com/youtube/v3/determine_quota_cost). `units` counts the
    10,000; `uploads` counts videos.insert calls.
    """
    objects = school_scoped("channel__school")

    UNITS, UPLOADS = "units", "uploads"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="quota_days")
    day = models.DateField()
    units = models.PositiveIntegerField(default=0)
    uploads = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "day"], name="one_quota_row_per_day")]

    @staticmethod
    def today(now: datetime | None = None) -> date:
        return (now or timezone.now()).astimezone(QUOTA_ZONE).date()

    @staticmethod
    def next_reset(now: datetime | None = None) -> datetime:
        day = QuotaDay.today(now) + timedelta(days=1)
        return datetime.combine(day, time(0, 5), tzinfo=QUOTA_ZONE)

    @classmethod
    def spent(cls, channel, now=None, bucket: str = UNITS) -> int:
        return cls.objects.filter(channel=channel, day=cls.today(now)).values_list(bucket, flat=True).first() or 0

    @classmethod
    def spend(cls, channel, units: int, now=None, bucket: str = UNITS) -> None:
        day = cls.today(now)
        with transaction.atomic():
            row, _ = cls.objects.select_for_update().get_or_create(channel=channel, day=day)
            cls.objects.filter(pk=row.pk).update(**{bucket: F(bucket) + units})

    @classmethod
    def exhaust(cls, channel, limit: int, now=None, bucket: str = UNITS) -> None:
        """The platform said the quota is spent: believe it until the reset."""
        day = cls.today(now)
        with transaction.atomic():
            row, _ = cls.objects.select_for_update().get_or_create(channel=channel, day=day)
            cls.objects.filter(pk=row.pk, **{f"{bucket}__lt": limit}).update(**{bucket: limit})
