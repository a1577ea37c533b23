"""How long a draft's photos and videos are kept when it is never published.

Uploads are pupils' pictures. A draft that nobody touches for DRAFT_RETENTION_DAYS loses its
uploads, the faces cut from them for review and any video copy made for the approver; its text
and its history stay. Its author is told a week before, once. Activity is anything the audit
trail records about the draft (an edit, an upload, a decision about a face, a submission), so
the clock starts again whenever someone works on it. A draft waiting for its publish time, or
being published, is never touched; a published or withdrawn one has already lost its uploads.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from config.school import notify
from config.school.models import AuditEntry
from moderation.drafts.services import delete_originals
from moderation.models import Draft, MediaFile

WARN_DAYS_BEFORE = 7
KEPT_STATUSES = (Draft.Status.DRAFT, Draft.Status.RETURNED, Draft.Status.AWAITING_APPROVAL, Draft.Status.APPROVED, Draft.Status.HELD)


def _candidates(now):
    """Drafts with uploads still on disk, with the time of their last activity."""
    drafts = (
        Draft.objects.filter(status__in=KEPT_STATUSES, media__isnull=False, originals_deleted_at__isnull=True)
        .exclude(status=Draft.Status.APPROVED, publish_at__gt=now)  # approved for a later time: kept for it
        .annotate(last_activity=Max("audit_entries__at"))
        .select_related("author")
        .distinct()
    )
    for draft in drafts:
        yield draft, max(filter(None, (draft.last_activity, draft.updated_at)))


def delete_at(last_activity):
    return last_activity + timedelta(days=settings.DRAFT_RETENTION_DAYS)


def run(now=None) -> tuple[int, int]:
    """The worker's daily duty: warn the authors of drafts a week from deletion, and delete the
    uploads of drafts past it. Returns (warned, deleted)."""
    now = now or timezone.now()
    warned = deleted = 0
    for draft, last in _candidates(now):
        due = delete_at(last)
        if due <= now:
            _delete(draft, now)
            deleted += 1
        elif due - timedelta(days=WARN_DAYS_BEFORE) <= now and notify.once(f"retention-{draft.pk}-{last.isoformat()}", "retention warning"):
            files = draft.media.count()
            notify.email(
                [draft.author.email], f"Draft {draft.pk}: its photos and videos will be deleted on {timezone.localtime(due):%d %B}",
                f"Nothing has happened to draft {draft.pk} (for {draft.channel}) since {timezone.localtime(last):%d %B %Y}. "
                f"Its {files} photo{'s' if files != 1 else ''} or video{'s' if files != 1 else ''} will be deleted on "
                f"{timezone.localtime(due):%d %B %Y}: the school keeps pupils' pictures only while they are needed.\n\n"
                f"To keep them, open the draft and carry on with it (any change, or submitting it, counts): {notify.page('draft', draft.pk)}\n"
                "Its text stays either way.",
            )
            warned += 1
    return warned, deleted


def _delete(draft: Draft, now) -> None:
    files = list(draft.media.values_list("pk", flat=True))
    delete_originals(draft)
    Draft.objects.filter(pk=draft.pk).update(originals_deleted_at=now)
    labels = ", ".join(MediaFile(pk=pk, kind=kind).audit_label for pk, kind in draft.media.values_list("pk", "kind"))
    AuditEntry.objects.create(
        actor=None, action="draft.originals_deleted", draft=draft, channel_id=draft.channel_id,
        summary=f"Draft {draft.pk} had no activity for {settings.DRAFT_RETENTION_DAYS} days: its uploads were deleted ({labels})",
        data={"media": files, "retention_days": settings.DRAFT_RETENTION_DAYS},
    )
