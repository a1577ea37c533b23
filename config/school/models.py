"""What the base keeps in the database: the audit trail (a hash chain, sealed daily) and the
notices sent once."""

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

User = settings.AUTH_USER_MODEL


class Notice(models.Model):
    """A message the product sent once (a reminder, a scheduled publish that failed), so that a
    restarted worker never sends it twice."""

    key = models.CharField(max_length=200, unique=True)
    sent_at = models.DateTimeField(default=timezone.now)
    subject = models.CharField(max_length=300)

    class Meta:
        db_table = "moderation_notice"  # where it was kept before it moved here


class AuditQuerySet(models.QuerySet):
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
    """The newest link of the audit chain. Writing an entry locks this one row, so entries are
    chained one after another even when several processes write at once."""

    last_entry_id = models.BigIntegerField(null=True)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        db_table = "moderation_auditchainhead"  # where it was kept before it moved here


class AuditEntry(models.Model):
    """One thing that happened. Written once; never edited or deleted through the product.

    Each entry stores the hash of the one before it and its own hash over its content and that
    link, so an entry edited, removed or slipped in directly in the database breaks the chain
    (`python manage.py verify_audit`).
    """

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

    objects = AuditQuerySet.as_manager()

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
        with transaction.atomic():
            head, _ = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
            self.previous_hash = head.last_hash
            self.entry_hash = self.computed_hash()
            super().save(*args, **kwargs)
            AuditChainHead.objects.filter(pk=1).update(last_entry_id=self.pk, last_hash=self.entry_hash)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit entries cannot be deleted.")


class AuditSeal(models.Model):
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

    class Meta:
        ordering = ["-taken_at", "-id"]
        db_table = "moderation_auditseal"

    @property
    def token(self) -> str:
        """What is written down and given to verify_audit --seal."""
        return f"{self.entry_id}:{self.entry_hash}"
