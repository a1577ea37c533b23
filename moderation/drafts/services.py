"""Drafting: a draft is written, given its media, submitted to the gates, withdrawn or reopened.

Permissions are checked here, not only in views: whatever URL a request comes through, only the
author edits their draft, and nothing is edited once it is with the approver.
"""

from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from config.school import files
from config.school.models import AuditEntry
from config.school.people import require
from connectors import base as connectors
from connectors.models import Channel
from moderation.accounts.services import require_aup
from moderation.drafts import analysis
from moderation.drafts.analysis import analysis_note
from moderation.drafts.media import MediaRejected, store_upload
from moderation.gates import pipeline
from moderation.models import (
    Draft,
    GateRun,
    MediaFile,
    VideoTrack,
)
from moderation.publishing import video_copies

DRAFT_FIELDS = ("text", "title", "link", "objective", "intended_outcome", "publish_at")


def channels_for_author(user):
    if not user.has_perm("moderation.add_draft"):
        return Channel.objects.none()
    return Channel.objects.filter(active=True, authors=user)


def create_draft(author, channel: Channel, **fields) -> Draft:
    require(author, "moderation.add_draft", "Only office staff can write drafts.")
    require_aup(author)
    if not channels_for_author(author).filter(pk=channel.pk).exists():
        raise PermissionDenied(f"You are not authorised to post on '{channel}'. The headteacher can add you on the channel's page.")
    with transaction.atomic():
        draft = Draft(author=author, channel=channel, **{k: v for k, v in fields.items() if k in DRAFT_FIELDS})
        _clean_for_channel(draft)
        draft.save()
        AuditEntry.objects.create(
            actor=author, action="draft.created", draft=draft, channel=channel, summary=f"Draft {draft.pk} created for {channel}"
        )
    return draft


def _clean_for_channel(draft: Draft):
    if draft.channel.kind == Channel.Kind.YOUTUBE:
        draft.link = ""
    else:
        draft.title = ""
    # Refused while drafting, with the reason, rather than by the platform at publishing.
    problem = connectors.text_problem(draft.channel.kind, draft.title or "", draft.text or "")
    if problem:
        raise ValidationError(problem)


def _require_author_editing(draft: Draft, user):
    if user.pk != draft.author_id:
        raise PermissionDenied("Only the author can change this draft.")
    require_aup(user)
    if not draft.is_editable:
        raise ValidationError(f"This draft is {draft.get_status_display().lower()}: reopen it for editing first.")


def _lock_for_editing(draft: Draft, user) -> Draft:
    """Inside a transaction: the draft's row locked, and still the author's to edit. A submission
    or an approval that got there first wins, and this change is refused."""
    locked = Draft.objects.select_for_update().get(pk=draft.pk)
    _require_author_editing(locked, user)
    return locked


def update_draft(draft: Draft, by, **fields) -> list[str]:
    _require_author_editing(draft, by)
    changed = [name for name in DRAFT_FIELDS if name in fields and getattr(draft, name) != fields[name]]
    for name in changed:
        setattr(draft, name, fields[name])
    _clean_for_channel(draft)
    if changed:
        with transaction.atomic():
            _lock_for_editing(draft, by)
            # Only the fields edited: a stale status must never be written back.
            draft.save(update_fields=sorted({*changed, "title", "link", "updated_at"}))
            AuditEntry.objects.create(
                actor=by, action="draft.edited", draft=draft, channel_id=draft.channel_id,
                summary=f"Draft {draft.pk} edited: " + ", ".join(changed), data={"fields": changed},
            )
    return changed


def add_media(draft: Draft, by, upload, *, source: str, rights: str, alt_text: str = "") -> MediaFile:
    _require_author_editing(draft, by)
    if not source.strip():
        raise ValidationError("Say where the file comes from (who made it, when and where).")
    if rights not in MediaFile.Rights.values:
        raise ValidationError("Choose the rights under which the school may publish the file.")
    stored_name, size, sha256, inspected = store_upload(upload)
    problem = connectors.shape_problem(
        draft.channel.kind, list(draft.media.values_list("kind", flat=True)) + [inspected.kind], complete=False
    ) or connectors.media_problem(draft.channel.kind, inspected.kind, size, inspected.seconds)
    if problem:
        files.remove(files.UPLOADS, stored_name)
        raise MediaRejected(f"'{Path(upload.name or 'upload').name}' was not added: {problem}")
    try:
        with transaction.atomic():
            _lock_for_editing(draft, by)
            position = (draft.media.order_by("-position").values_list("position", flat=True).first() or -1) + 1
            media = MediaFile.objects.create(
                draft=draft, position=position, kind=inspected.kind, stored_name=stored_name,
                original_name=Path(upload.name or "upload").name[:255], content_type=inspected.content_type,
                size=size, sha256=sha256, width=inspected.width, height=inspected.height,
                source=source.strip(), rights=rights, alt_text=alt_text.strip(),
            )
            AuditEntry.objects.create(
                actor=by, action="draft.media_added", draft=draft, channel_id=draft.channel_id,
                summary=f"{media.audit_label.capitalize()} added to draft {draft.pk}",
                data={"sha256": sha256, "size": size},
            )
            draft.save(update_fields=["updated_at"])  # the draft's content changed
            Draft.objects.filter(pk=draft.pk).update(originals_deleted_at=None)  # it holds uploads again
    except BaseException:
        files.remove(files.UPLOADS, stored_name)
        raise
    analysis.queue(media)
    # Only what the analysis wrote: the caller's draft object stays the one media.draft points to.
    media.refresh_from_db(fields=[
        "analysis", "analysis_progress", "analysis_error", "analysis_started_at", "analysis_heartbeat",
        "analysis_worker", "faces_found_at", "detection_error", "words_read_at", "reading_error",
    ])
    return media


def update_media_details(draft: Draft, by, media_id: int, *, source: str, rights: str, alt_text: str) -> list[str]:
    """The author corrects where a file comes from, its rights or its description, without
    uploading it again (its faces and words stay as they were found and decided)."""
    _require_author_editing(draft, by)
    if not source.strip():
        raise ValidationError("Say where the file comes from (who made it, when and where).")
    if rights not in MediaFile.Rights.values:
        raise ValidationError("Choose the rights under which the school may publish the file.")
    wanted = {"source": source.strip(), "rights": rights, "alt_text": alt_text.strip()}
    with transaction.atomic():
        _lock_for_editing(draft, by)
        media = draft.media.select_for_update().get(pk=media_id)
        changed = [name for name, value in wanted.items() if getattr(media, name) != value]
        if changed:
            MediaFile.objects.filter(pk=media.pk).update(**wanted)
            draft.save(update_fields=["updated_at"])
            AuditEntry.objects.create(
                actor=by, action="draft.media_edited", draft=draft, channel_id=draft.channel_id,
                summary=f"{media.audit_label.capitalize()} of draft {draft.pk}: " + ", ".join(changed) + " changed",
                data={"media": media.pk, "fields": changed},
            )
    return changed


def remove_media(draft: Draft, by, media_id: int):
    _require_author_editing(draft, by)
    media = draft.media.get(pk=media_id)
    with transaction.atomic():
        _lock_for_editing(draft, by)
        AuditEntry.objects.create(
            actor=by, action="draft.media_removed", draft=draft, channel_id=draft.channel_id,
            summary=f"{media.audit_label.capitalize()} removed from draft {draft.pk}",
            data={"sha256": media.sha256},
        )
        media.delete()
        draft.save(update_fields=["updated_at"])
    files.remove(files.UPLOADS, media.stored_name)
    video_copies.discard(media)


def reopen(draft: Draft, by):
    """The author takes a submitted or approved draft back to change it; any approval is void."""
    if by.pk != draft.author_id:
        raise PermissionDenied("Only the author can reopen this draft.")
    with transaction.atomic():
        voided = void_approvals(draft, "Reopened for editing by the author")
        draft.transition("reopen", by=by, data={"approvals_voided": voided})


def void_approvals(draft: Draft, reason: str) -> int:
    return draft.approvals.filter(voided_at__isnull=True).update(voided_at=timezone.now(), void_reason=reason)


def withdraw(draft: Draft, by):
    if by.pk != draft.author_id and not by.has_perm("connectors.approve_channel"):
        raise PermissionDenied("Only the author or the headteacher can withdraw this draft.")
    with transaction.atomic():
        void_approvals(draft, "Draft withdrawn")
        draft.transition("withdraw", by=by)
    # A withdrawn draft will never be published: its uploads are no longer needed.
    delete_originals(draft)


def delete_originals(draft: Draft) -> None:
    """The uploads, the faces cut from them for review and the approver's video copies go once a
    draft is published (its published copies stay) or withdrawn."""
    VideoTrack.objects.filter(media__draft=draft).update(view=b"")
    for media in draft.media.all():
        files.remove(files.UPLOADS, media.stored_name)
        video_copies.discard(media)


def submit(draft: Draft, by) -> GateRun:
    """Run the gates; a draft that fails goes back to its author with the reasons."""
    if by.pk != draft.author_id:
        raise PermissionDenied("Only the author can submit this draft.")
    require_aup(by)
    if not draft.is_editable:
        raise ValidationError(f"This draft is {draft.get_status_display().lower()} and cannot be submitted.")
    waiting_for = [analysis_note(m) for m in draft.media.exclude(analysis=MediaFile.Analysis.DONE)]
    if waiting_for:
        raise ValidationError(" ".join(waiting_for) + " Submit the draft once every file has been analysed.")
    run = pipeline.run_gates(draft, GateRun.Phase.SUBMIT, by)
    with transaction.atomic():
        # What was checked must be what is submitted: an edit or an upload that landed while the
        # checks ran (they take seconds) means they checked something else.
        locked = Draft.objects.select_for_update().get(pk=draft.pk)
        if run.content_hash:  # (content that could not be read has no hash: its run failed, and says why)
            try:
                now_hash = pipeline.freeze(locked).hash
            except pipeline.ContentUnreadable:
                now_hash = ""
            if now_hash != run.content_hash:
                raise ValidationError("The draft changed while its checks ran (a file was added or the text edited). Submit it again.")
        if run.passed:
            draft.transition("submit", by=by, data={"gate_run": run.pk, "content_hash": run.content_hash})
        else:
            draft.transition("fail_checks", by=by, note=pipeline.summary(pipeline.failures(run)), data={"gate_run": run.pk}, audit_note=pipeline.gate_ids(run))
    return run


__all__ = ["MediaRejected"]
