"""What the base keeps in the database: the schools and who holds which role in each, the
audit trail (a hash chain per school, sealed daily) and the notices sent once."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models, transaction
from django.utils import timezone

from config.school.scoping import BelongsToSchool, SchoolQuerySet, school_scoped

User = settings.AUTH_USER_MODEL


class School(models.Model):
    """One school on this installation. Everything a school owns (channels, drafts, register,
    concerns, audit trail) carries it, and every query of that data is scoped to one school
    (config/school/tenancy.py). A single school's installation has exactly one, made by the
    first `migrate` from the SCHOOL_* settings."""

    name = models.CharField(max_length=200)
    # The school's part of its public addresses: /schools/<slug>/news/.
    slug = models.SlugField(max_length=60, unique=True)
    email_domains = models.JSONField(default=list, blank=True)
    # Off by default: the policy names a *private* YouTube channel.
    allow_youtube_unlisted = models.BooleanField(default=False)
    aup_version = models.CharField(max_length=40, default="2026-1")
    aup_url = models.URLField(blank=True)
    # Months a channel's risk assessment stays valid (policy section 7: at least annually).
    risk_assessment_months = models.PositiveSmallIntegerField(default=12)
    # The school's own postal address, comma-separated: posts may give it (it is not personal data).
    address = models.TextField(blank=True)
    # YouTube's "made for kids" declaration, sent with every upload.
    youtube_made_for_kids = models.BooleanField(default=False)
    # The office's own phone numbers and email addresses: posts give them; not personal data.
    phones = models.JSONField(default=list, blank=True)
    emails = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self):
        return self.name

    @property
    def own_address_parts(self) -> tuple[str, ...]:
        parts = [p.strip() for p in self.address.split(",") if p.strip()]
        return tuple(parts + ([self.address.strip()] if parts else []))

    @property
    def own_contact_details(self) -> tuple[str, ...]:
        """Everything of the school's own that a post may give: its address, phones and emails."""
        return self.own_address_parts + tuple(self.phones) + tuple(self.emails)


class Membership(models.Model):
    """One role one person holds in one school. Most people hold roles in one school; a trust's
    staff may hold roles in several (a trust's safeguarding lead is DSL in each of its schools).
    A role in one school gives nothing in another."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="memberships")
    role = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "school", "role"], name="one_role_once_per_school")]

    def __str__(self):
        return f"{self.user} is {self.role.name} at {self.school}"


class Notice(models.Model):
    """A message the product sent once (a reminder, a scheduled publish that failed), so that a
    restarted worker never sends it twice."""

    key = models.CharField(max_length=200, unique=True)
    sent_at = models.DateTimeField(default=timezone.now)
    subject = models.CharField(max_length=300)

    class Meta:
        db_table = "moderation_notice"  # where it was kept before it moved here


class AuditQuerySet(SchoolQuerySet):
    def update(self, **kwargs):
        raise PermissionError("Audit entries cannot be changed.")

    def delete(self):
        raise PermissionError("Audit entries cannot be deleted.")

    def bulk_create(self, *args, **kwargs):
        raise PermissionError("Audit entries are written one at a time, each linked to the one before.")


def audit_hash(*, at, actor_id, action, draft_id, channel_id, summary, data, previous_hash) -> str:
    """The hash of one audit entry's content and of the entry before it (a hash chain).

    Every stored hash depends on this exact recipe: changing it breaks every existing chain."""
    import hashlib
    import json
    from datetime import timezone as dt_timezone

    content = {
        "at": at.astimezone(dt_timezone.utc).isoformat(timespec="microseconds"),
        "actor": actor_id, "action": action, "draft": draft_id, "channel": channel_id,
        "summary": summary, "data": data, "previous": previous_hash,
    }
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


GENESIS_HASH = "0" * 64


class AuditChainHead(models.Model):
    """The newest link of a school's audit chain. Writing an entry locks this one row, so entries
    are chained one after another even when several processes write at once."""

    school = models.OneToOneField(School, on_delete=models.PROTECT, related_name="+")
    last_entry_id = models.BigIntegerField(null=True)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    objects = school_scoped()

    class Meta:
        db_table = "moderation_auditchainhead"  # where it was kept before it moved here


class AuditEntry(BelongsToSchool):
    """One thing that happened. Written once; never edited or deleted through the product.

    Each entry stores the hash of the one before it and its own hash over its content and that
    link, so an entry edited, removed or slipped in directly in the database breaks the chain
    (`python manage.py verify_audit`).
    """

    # Each school's entries form a chain of their own: the school of the draft or channel the
    # entry is about, else the school in scope.
    school_from = ("draft", "channel")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=60)
    # What the entry is about, by name: the base knows these tables, not their code.
    draft = models.ForeignKey("moderation.Draft", on_delete=models.PROTECT, null=True, blank=True, related_name="audit_entries")
    channel = models.ForeignKey("connectors.Channel", on_delete=models.PROTECT, null=True, blank=True, related_name="audit_entries")
    summary = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    previous_hash = models.CharField(max_length=64, editable=False, default=GENESIS_HASH)
    entry_hash = models.CharField(max_length=64, editable=False, blank=True)

    objects = school_scoped(queryset=AuditQuerySet)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        db_table = "moderation_auditentry"

    def computed_hash(self, previous_hash: str | None = None) -> str:
        return audit_hash(
            at=self.at, actor_id=self.actor_id, action=self.action, draft_id=self.draft_id, channel_id=self.channel_id,
            summary=self.summary, data=self.data, previous_hash=self.previous_hash if previous_hash is None else previous_hash,
        )

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise PermissionError("Audit entries cannot be changed.")
        # The hash covers the data as the database gives it back: a JSON round trip.
        import json

        self.data = json.loads(json.dumps(self.data or {}))
        self.take_school()
        with transaction.atomic():
            head, _ = AuditChainHead.objects.select_for_update().get_or_create(school_id=self.school_id)
            self.previous_hash = head.last_hash
            self.entry_hash = self.computed_hash()
            super().save(*args, **kwargs)
            AuditChainHead.objects.filter(pk=head.pk).update(last_entry_id=self.pk, last_hash=self.entry_hash)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit entries cannot be deleted.")


class AuditSeal(BelongsToSchool):
    """A copy of the audit chain's newest link, taken daily (and on demand) and sent outside the
    database: emailed to the headteacher and shown on the audit page, to be written down or kept.
    Whoever can rewrite the database can rewrite the chain and this table too; they cannot
    rewrite the emails. `verify_audit --seal ENTRY:HASH` checks the chain against one."""

    taken_at = models.DateTimeField(default=timezone.now)
    entry_id = models.BigIntegerField()  # the newest entry when the seal was taken
    entry_hash = models.CharField(max_length=64)
    entries = models.PositiveIntegerField()  # how many entries the trail held up to it
    taken_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    sent_to = models.TextField(blank=True)  # the addresses it was emailed to

    objects = school_scoped()

    class Meta:
        ordering = ["-taken_at", "-id"]
        db_table = "moderation_auditseal"

    @property
    def token(self) -> str:
        """What is written down and given to verify_audit --seal."""
        return f"{self.entry_id}:{self.entry_hash}"
