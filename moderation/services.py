"""The moderation workflow. Views, commands and jobs all call these functions.

Permissions are checked here, not only in views: whatever URL a request comes through, an
author cannot approve their own draft and a non-headteacher cannot approve a channel.
"""

import hashlib
import json
import shutil
import uuid
from dataclasses import replace
import logging
from datetime import timedelta, timezone as dt_timezone
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from config.school.files import sha256_of
from config.school.people import display_name, require
from connectors import base as connectors
from connectors import services as connections
from connectors.models import Delivery, worker_name
from moderation import analysis, video_copies
from moderation import attestations as attestation_text
from moderation.gates import PIPELINE
from moderation.gates.base import FAIL, PASS, WAITING, Content, Context, FaceItem, MediaItem, TrackItem, WordsItem
from moderation.media import MediaRejected, store_upload
from config.school.models import AuditEntry
from connectors.models import Channel
from moderation.models import (
    Approval,
    IllegalTransition,
    AUPAcceptance,
    Draft,
    GateResult,
    GateRun,
    MediaFile,
    MediaFace,
    PublishedMedia,
    PublishedPost,
    PublishedPupil,
    RiskAssessment,
    VideoTrack,
)
from config.school.roles import HEADTEACHER, has_role
from pixels import imaging, photos, video_copy
from consent.models import PhotoConsent

logger = logging.getLogger(__name__)


class ContentUnreadable(Exception):
    pass


class AUPNotAccepted(PermissionDenied):
    pass


# --- Acceptable Use Policy ---------------------------------------------------------------


def has_accepted_aup(user) -> bool:
    return AUPAcceptance.objects.filter(user=user, version=settings.SCHOOL.aup_version).exists()


def require_aup(user):
    if not has_accepted_aup(user):
        raise AUPNotAccepted(
            f"Accept version {settings.SCHOOL.aup_version} of the Acceptable Use Policy before drafting or approving."
        )


def accept_aup(user):
    version = settings.SCHOOL.aup_version
    _, created = AUPAcceptance.objects.get_or_create(user=user, version=version)
    if created:
        AuditEntry.objects.create(actor=user, action="aup.accepted", summary=f"{display_name(user)} accepted AUP version {version}")


# --- Drafts ------------------------------------------------------------------------------

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
        (settings.UPLOAD_DIR / stored_name).unlink(missing_ok=True)
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
        (settings.UPLOAD_DIR / stored_name).unlink(missing_ok=True)
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
    media.path.unlink(missing_ok=True)
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
        media.path.unlink(missing_ok=True)
        video_copies.discard(media)


# --- The exact content, and the gates ------------------------------------------------------


def analysis_note(media: MediaFile) -> str:
    """What to say about a file the worker has not finished with ("" once it has)."""
    if media.analysis == MediaFile.Analysis.DONE:
        return ""
    if media.analysis == MediaFile.Analysis.FAILED:
        return f"'{media.original_name}' could not be analysed ({media.analysis_error}). Remove it and upload it again."
    if media.analysis == MediaFile.Analysis.RUNNING:
        return f"'{media.original_name}' is still being analysed ({media.analysis_progress:.0%} done)."
    return f"'{media.original_name}' is waiting to be analysed."


def freeze(draft: Draft, copy_to: Path | None = None, read_bytes: bool = True) -> Content:
    """Take the draft's content as it is now, hashing every media file's bytes (read_bytes=False:
    taking each file's hash as recorded at upload, for a page that only shows the hash).

    With copy_to, each upload is first copied there and that frozen copy is what is hashed,
    checked and turned into the published copy, so the bytes checked are the bytes sent.
    """
    items = []
    for media in draft.media.prefetch_related("faces__identified_by", "words", "tracks__identified_by"):
        path = media.path
        try:
            if copy_to is not None:
                copy_to.mkdir(parents=True, exist_ok=True)
                copied = copy_to / f"{media.position:03d}-original-{uuid.uuid4().hex}"
                shutil.copyfile(path, copied)
                path = copied
            digest = sha256_of(path) if read_bytes or copy_to is not None else media.sha256
        except OSError as error:
            raise ContentUnreadable(
                _storage_problem(error, media.original_name)
                or f"'{media.original_name}' cannot be read ({error.strerror or error}). Remove it and upload it again."
            ) from error
        faces = tuple(
            FaceItem(
                id=f.pk, box=f.box, source=f.source, identified_pupil_id=f.identified_pupil_id,
                identified_by=display_name(f.identified_by) if f.identified_by_id else "", blur=f.blur, number=f.number,
            )
            for f in media.faces.all()
        )
        items.append(MediaItem(
            position=media.position, kind=media.kind, source_path=path, path=path, sha256=digest,
            content_type=media.content_type, original_name=media.original_name, alt_text=media.alt_text,
            source=media.source, rights=media.rights, media_id=media.pk, faces=faces,
            faces_found=media.faces_found_at is not None, detection_error=media.detection_error,
            words=tuple(WordsItem(id=w.pk, box=w.box, text=w.text, blur=w.blur, time=w.time) for w in media.words.all()),
            words_read=media.words_read_at is not None, reading_error=media.reading_error,
            analysis=media.analysis, analysis_note=analysis_note(media),
            tracks=tuple(
                TrackItem(id=t.pk, start=t.start, end=t.end, box=t.box, identified_pupil_id=t.identified_pupil_id,
                          identified_by=display_name(t.identified_by) if t.identified_by_id else "", blur=t.blur,
                          sightings=tuple(tuple(s) for s in t.sightings), number=t.number)
                for t in media.tracks.all()
            ),
            thumbnail_time=media.thumbnail_time,
        ))
    content = Content(
        draft_id=draft.pk, channel_id=draft.channel_id, channel_kind=draft.channel.kind,
        text=draft.text, title=draft.title, link=draft.link, publish_at=draft.publish_at, media=tuple(items),
    )
    return replace(content, hash=content_hash(content))


# Published copies are the school's to read: the web server's group may read them, nobody else.
FILE_MODE, FOLDER_MODE = 0o640, 0o750


def restrict_files(folder: Path) -> None:
    """The folder and everything in it readable by the owner and the group only, writable by the owner."""
    if not folder.exists():
        return
    folder.chmod(FOLDER_MODE)
    for path in folder.rglob("*"):
        path.chmod(FOLDER_MODE if path.is_dir() else FILE_MODE)


def derive_published_copies(content: Content, copy_to: Path) -> Content:
    """Turn each frozen photo into the copy that is published: oriented, blurred as decided, stripped."""
    derived = []
    for item in content.media:
        if item.kind == MediaFile.Kind.VIDEO:
            derived.append(_published_video(item, copy_to))
            continue
        destination = copy_to / f"{item.position:03d}-{uuid.uuid4().hex}.jpg"
        try:
            image = photos.load_image(item.source_path)
            blurred = [f.box for f in item.faces if f.blur] + [w.box for w in item.words if w.blur]
            imaging.write_published_copy(image, blurred, destination)
        except Exception as error:
            raise ContentUnreadable(
                _storage_problem(error, item.original_name) or f"The published copy of '{item.original_name}' could not be made: {error}"
            ) from error
        derived.append(replace(item, path=destination, content_type="image/jpeg"))
    return replace(content, media=tuple(derived))


def _published_video(item: MediaItem, copy_to: Path) -> MediaItem:
    """The video as published: the chosen faces pixelated through their tracks, no metadata."""
    destination = copy_to / f"{item.position:03d}-{uuid.uuid4().hex}.mp4"
    # Words read in a frame are taken to be on screen, where they were read, from one reading
    # to the next.
    to_blur = video_copy.blur_list(item, video_copies.read_every())
    thumbnail = destination.with_suffix(".thumbnail.jpg")
    made = _copy_made_for(item)
    try:
        if made is not None:
            # The very file the approver watched, made for exactly these decisions and these bytes.
            shutil.copyfile(made, destination)
        elif to_blur:
            video_copy.blurred(item.source_path, to_blur, destination)
        else:
            video_copy.remux(item.source_path, destination)
        imaging.write_published_copy(video_copy.frame_at(destination, video_copy.thumbnail_time(item)), [], thumbnail)
    except Exception as error:
        raise ContentUnreadable(
            _storage_problem(error, item.original_name) or f"The published copy of '{item.original_name}' could not be made: {error}"
        ) from error
    return replace(item, path=destination, content_type="video/mp4", thumbnail_path=thumbnail)


def _copy_made_for(item: MediaItem) -> Path | None:
    """The published copy the worker made of this video, when it was made from these very bytes
    with these very decisions; else None (and the copy is made now)."""
    media = MediaFile.objects.filter(pk=item.media_id).first()
    if media is None or media.copy_state != MediaFile.Copy.DONE or not media.copy_name:
        return None
    if media.copy_for != video_copies.plan_hash(video_copies.blur_plan(item.sha256, item.tracks, item.words)):
        return None
    path = Path(settings.PREVIEW_DIR) / media.copy_name
    return path if path.exists() else None


def _storage_problem(error: BaseException, name: str) -> str:
    """The words for a server whose disk is full (or read-only), which is not the upload's fault; "" otherwise."""
    import errno

    while error is not None:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS):
            return (f"The server could not write the published copy of '{name}' ({error.strerror}). Nothing was sent to "
                    "the platform. Free space on the server (or ask whoever looks after it), then publish again.")
        error = error.__cause__ or error.__context__
    return ""


def content_hash(content: Content) -> str:
    """The fingerprint an approval is bound to: text, title, link, channel, schedule, every file's bytes."""
    payload = {
        "channel": content.channel_id,
        "kind": content.channel_kind,
        "text": content.text,
        "title": content.title,
        "link": content.link,
        "publish_at": content.publish_at.astimezone(dt_timezone.utc).isoformat() if content.publish_at else None,
        "media": [
            {
                "sha256": m.sha256, "alt_text": m.alt_text, "kind": m.kind,
                "faces": sorted(
                    [list(f.box), f.source, f.identified_pupil_id, f.blur] for f in m.faces
                ),
                "words_blurred": sorted([*w.box, w.time or 0.0] for w in m.words if w.blur),
                "tracks": sorted([t.start, t.end, list(t.box), t.identified_pupil_id, t.blur] for t in m.tracks),
                "thumbnail_time": m.thumbnail_time,
            }
            for m in content.media
        ],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def run_gates(draft: Draft, phase: str, by, content: Content | None = None, only: tuple[str, ...] = ()) -> GateRun:
    """Run every gate (or only those named) over the exact content and store each result.
    Anything that cannot run fails."""
    now = timezone.now()
    results, unreadable = [], None
    if content is None:
        try:
            content = freeze(draft)
        except ContentUnreadable as error:
            unreadable = str(error)
    gates = [gate for gate in PIPELINE if not only or gate.id in only]
    for gate in gates:
        position = PIPELINE.index(gate)
        if unreadable:
            status, message = FAIL, f"Could not be checked: {unreadable}"
        else:
            try:
                outcome = gate.check(Context(draft=draft, content=content, phase=phase, now=now, school=settings.SCHOOL))
                status, message = outcome.status, outcome.message
            except Exception as error:  # a gate that cannot run fails closed
                status, message = FAIL, f"This check could not run ({type(error).__name__}: {error}), so the draft cannot go further."
        results.append(GateResult(position=position, gate_id=gate.id, clause=gate.clause, status=status, message=message))
    gate_passed = all(_acceptable(PIPELINE[r.position], r.status, phase) for r in results)
    with transaction.atomic():
        run = GateRun.objects.create(
            draft=draft, phase=phase, run_by=by, run_at=now, content_hash=content.hash if content else "", passed=gate_passed
        )
        for result in results:
            result.run = run
        GateResult.objects.bulk_create(results)
    return run


def _acceptable(gate, status, phase) -> bool:
    """A gate waiting for a person holds nothing up until that person's turn has come."""
    if status == PASS:
        return True
    if status != WAITING:
        return False
    if phase in (GateRun.Phase.SUBMIT, GateRun.Phase.DECISION):
        return gate.decided_by_person or gate.reviewed_by_person
    if phase == GateRun.Phase.APPROVE:
        return gate.decided_by_person
    return False


def latest_run(draft: Draft) -> GateRun | None:
    """The draft's last full run of the checks (a decision's partial run is not one)."""
    return draft.gate_runs.exclude(phase=GateRun.Phase.DECISION).prefetch_related("results").first()


# What each kind of decision on the draft's page touches.
FACE_DECISION_GATES = ("image-consent",)
WORDS_DECISION_GATES = ("no-personal-data",)


def recheck_after_decision(draft: Draft, by, gate_ids: tuple[str, ...]) -> GateRun | None:
    """After a decision about a face or words, the checks it touches run again at once, so the
    draft's page shows their answer now rather than at the next approval. Nothing runs for a
    draft never checked (its page says so). The decision's run decides nothing by itself: every
    approval and publication runs every check again."""
    if not draft.gate_runs.exclude(phase=GateRun.Phase.DECISION).exists():
        return None
    return run_gates(draft, GateRun.Phase.DECISION, by, only=gate_ids)


def results_now(draft: Draft, run: GateRun | None) -> list[GateResult]:
    """The last full run's results, each replaced by a newer one where a decision ran it again
    (marked with rechecked_at)."""
    if run is None:
        return []
    newer = {}
    for later in draft.gate_runs.filter(phase=GateRun.Phase.DECISION, run_at__gte=run.run_at).prefetch_related("results").order_by("run_at", "id"):
        for result in later.results.all():
            result.rechecked_at = later.run_at
            newer[result.gate_id] = result
    return [newer.get(result.gate_id, result) for result in run.results.all()]


def failures(run: GateRun) -> list[GateResult]:
    """The results that hold the draft up at this run's phase."""
    gates = {gate.id: gate for gate in PIPELINE}
    return [r for r in run.results.all() if r.gate_id not in gates or not _acceptable(gates[r.gate_id], r.status, run.phase)]


def _summarise(results) -> str:
    return "; ".join(f"{r.gate_id}: {r.message}" for r in results)


def _gate_ids(run: GateRun) -> str:
    """What the audit trail says of a failed run: which gates, and where their words are kept."""
    return f"failed {', '.join(r.gate_id for r in failures(run))} (gate run {run.pk})"


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
    run = run_gates(draft, GateRun.Phase.SUBMIT, by)
    with transaction.atomic():
        # What was checked must be what is submitted: an edit or an upload that landed while the
        # checks ran (they take seconds) means they checked something else.
        locked = Draft.objects.select_for_update().get(pk=draft.pk)
        if run.content_hash:  # (content that could not be read has no hash: its run failed, and says why)
            try:
                now_hash = freeze(locked).hash
            except ContentUnreadable:
                now_hash = ""
            if now_hash != run.content_hash:
                raise ValidationError("The draft changed while its checks ran (a file was added or the text edited). Submit it again.")
        if run.passed:
            draft.transition("submit", by=by, data={"gate_run": run.pk, "content_hash": run.content_hash})
        else:
            draft.transition("fail_checks", by=by, note=_summarise(failures(run)), data={"gate_run": run.pk}, audit_note=_gate_ids(run))
    return run


# --- Approval ------------------------------------------------------------------------------


def can_approve(draft: Draft, user) -> bool:
    return user.pk != draft.author_id and user.has_perm("moderation.approve_draft")


def send_back(draft: Draft, by, comment: str):
    require(by, "moderation.approve_draft", "Only an approver can send a draft back.")
    if by.pk == draft.author_id:
        raise PermissionDenied("You wrote this draft: a second colleague must review it.")
    if not comment.strip():
        raise ValidationError("Say what the author should change.")
    draft.transition("send_back", by=by, note=f"{display_name(by)} asks: {comment.strip()}",
                     audit_note=f"{display_name(by)} asked for changes (the comment is on the draft)")


def approve(draft: Draft, by, confirmed: dict[str, str], comment: str = "", seen_hash: str | None = None) -> Approval:
    """A second colleague approves this exact content, confirming every attestation in words.
    seen_hash: the content hash of the page the approver read (the approve form carries it);
    when the content is no longer that, the approval is refused."""
    require(by, "moderation.approve_draft", "Only an approver can approve a draft.")
    if by.pk == draft.author_id:
        raise PermissionDenied("You wrote this draft: a second colleague must approve it.")
    require_aup(by)
    missing = [key for key, words in attestation_text.ATTESTATIONS if confirmed.get(key) != words]
    if missing:
        raise ValidationError("Confirm every statement before approving.")
    with transaction.atomic():
        locked = Draft.objects.select_for_update().get(pk=draft.pk)
        if locked.status != Draft.Status.AWAITING_APPROVAL:
            raise ValidationError(f"This draft is {locked.get_status_display().lower()} and cannot be approved now.")
        content = freeze(locked)
        if seen_hash is not None and seen_hash != content.hash:
            raise ValidationError("The draft changed after you opened it (a file, the text or a decision about a face). "
                                  "Look at it again before approving: what you approve is what you have seen.")
        run = run_gates(locked, GateRun.Phase.APPROVE, by, content=content)
        if not run.passed:
            raise ValidationError(
                "It cannot be approved yet: " + _summarise(failures(run)) + " Settle these, or send it back to its author."
            )
        approval = Approval.objects.create(
            draft=locked, approver=by, content_hash=content.hash, aup_version=settings.SCHOOL.aup_version,
            attestations=dict(attestation_text.ATTESTATIONS), comment=comment.strip(),
        )
        locked.transition("approve", by=by, note=comment.strip(), data={"approval": approval.pk, "content_hash": content.hash},
                          audit_note="with a comment, kept with the approval")
    draft.refresh_from_db()
    return approval


# --- Publishing ------------------------------------------------------------------------------


class PublishRefused(Exception):
    def __init__(self, message, run=None):
        super().__init__(message)
        self.run = run


class PublishWaiting(PublishRefused):
    """Not published yet: the platform cannot take it now. The worker tries again at retry_at."""

    def __init__(self, message, run=None, retry_at=None):
        super().__init__(message, run)
        self.retry_at = retry_at


def publish(draft: Draft, by) -> PublishedPost:
    """Check every gate again on the exact bytes, then hand them to the channel's connector."""
    require(by, "moderation.publish_draft", "You are not allowed to publish posts.")
    if by.pk != draft.author_id and not by.has_perm("moderation.approve_draft"):
        raise PermissionDenied("Only the author or an approver can publish this draft.")
    now = timezone.now()
    if draft.publish_at and draft.publish_at > now:
        raise ValidationError(
            f"This draft is to be published at {timezone.localtime(draft.publish_at):%d %B %Y, %H:%M}, not before."
        )
    draft.transition("start_publishing", by=by)
    return deliver(draft, by)


def _retry_at(error: connectors.TryLater, attempts: int):
    """The platform's own time, but never sooner than the back-off for this many attempts."""
    if error.reason in ("quota", "ambiguous"):
        return error.retry_at
    minutes = min(settings.PUBLISH_RETRY_MINUTES * 2 ** max(attempts - 1, 0), settings.PUBLISH_RETRY_MAX_MINUTES)
    return max(error.retry_at, timezone.now() + timedelta(minutes=minutes))


def deliver(draft: Draft, by) -> PublishedPost:
    """For a draft that is publishing: freeze, derive, check, send, record.

    The gates run on the exact bytes that are sent. Whatever the platform answers leaves the draft
    in a state that says why: published, waiting for the platform (tried again by the worker), or
    held for a person (`_not_sent` is the one place that decides which).
    """
    copies = settings.PUBLISHED_DIR / f"draft-{draft.pk}-{uuid.uuid4().hex[:12]}"
    content = _frozen_copies(draft, copies, by)
    run = _checked(draft, content, copies, by)
    delivery = _claimed(draft, content, by)
    try:
        result = connectors.for_channel(draft.channel).publish(_outgoing(draft, content), delivery.journal())
    except Exception as error:
        shutil.rmtree(copies, ignore_errors=True)
        raise _not_sent(draft, by, run, delivery, error) from error
    post = _recorded(draft, by, run, content, delivery, result)
    # The originals are no longer needed: only the published copies are kept.
    for item in content.media:
        if item.source_path != item.path:
            item.source_path.unlink(missing_ok=True)
    delete_originals(draft)
    return post


def _frozen_copies(draft: Draft, copies: Path, by) -> Content:
    """Freeze: the draft's files copied as they are; derive: the copies that will be published."""
    try:
        content = derive_published_copies(freeze(draft, copy_to=copies), copies)
        restrict_files(copies)
        return content
    except ContentUnreadable as error:
        shutil.rmtree(copies, ignore_errors=True)
        run = run_gates(draft, GateRun.Phase.PUBLISH, by)
        draft.transition("hold", by=by, note=str(error), data={"gate_run": run.pk})
        raise PublishRefused(str(error), run) from error


def _checked(draft: Draft, content: Content, copies: Path, by) -> GateRun:
    """Check: every gate again, on the copies about to be sent."""
    run = run_gates(draft, GateRun.Phase.PUBLISH, by, content=content)
    if not run.passed:
        shutil.rmtree(copies, ignore_errors=True)
        reasons = _summarise(failures(run))
        draft.transition("hold", by=by, note=reasons, data={"gate_run": run.pk}, audit_note=_gate_ids(run))
        raise PublishRefused("Not published: " + reasons, run)
    return run


def _claimed(draft: Draft, content: Content, by) -> Delivery:
    """The delivery of these exact bytes, claimed by this worker (its journal keeps what was sent)."""
    delivery, _ = Delivery.objects.get_or_create(
        draft=draft, content_hash=content.hash, connector=draft.channel.connector, defaults={"requested_by": by}
    )
    Delivery.objects.filter(pk=delivery.pk).update(
        attempts=F("attempts") + 1, worker=worker_name(), heartbeat_at=timezone.now(), retry_at=None
    )
    delivery.refresh_from_db()
    return delivery


def _outgoing(draft: Draft, content: Content) -> connectors.OutgoingPost:
    channel = draft.channel
    return connectors.OutgoingPost(
        draft_id=draft.pk, content_hash=content.hash, channel_name=channel.name, channel_kind=channel.kind,
        account_id=channel.platform_account_id, privacy=channel.youtube_privacy, text=content.text,
        title=content.title, link=content.link, publish_at=content.publish_at,
        media=tuple(connectors.OutgoingMedia(m.kind, m.path, m.content_type, m.alt_text, m.thumbnail_path) for m in content.media),
        made_for_kids=settings.SCHOOL.youtube_made_for_kids,
    )


def _not_sent(draft: Draft, by, run: GateRun, delivery: Delivery, error: Exception) -> Exception:
    """The draft's next state when the platform did not take the post; returns the exception that says so.

    Reconnect needed: held, and the channel marked. The platform asks us to wait (quota, a busy
    server, an answer that may or may not mean "published"): waiting, with the time of the next
    attempt. The platform refused the post: held for a person. A fault of our own: waiting; the
    journal keeps what was sent, so trying again cannot send it twice.
    """
    channel = draft.channel
    retry_at, data = None, {"gate_run": run.pk}
    if isinstance(error, connectors.ReconnectNeeded):
        connections.mark_reconnect_needed(channel, str(error))
        note = last_error = f"Reconnect needed: {error}"
    elif isinstance(error, connectors.TryLater):
        retry_at = _retry_at(error, delivery.attempts)
        note = str(error) if error.reason == "quota" else f"{error} Next attempt: {timezone.localtime(retry_at):%d %B %Y, %H:%M}."
        last_error = str(error)
        data.update(reason=error.reason, retry_at=retry_at.isoformat())
    elif isinstance(error, connectors.ConnectorError):
        note = f"{channel} did not accept the post: {error}"
        last_error = str(error)
    else:
        logger.exception("Publishing draft %s failed unexpectedly", draft.pk)
        retry_at = timezone.now() + timedelta(minutes=settings.PUBLISH_RETRY_MINUTES)
        note = last_error = (f"Publishing stopped on an unexpected error ({error.__class__.__name__}: {error}). "
                             f"It will be tried again at {timezone.localtime(retry_at):%H:%M}.")
        data["reason"] = "error"
    Delivery.objects.filter(pk=delivery.pk).update(worker="", retry_at=retry_at, last_error=last_error)
    if retry_at is None:
        draft.transition("hold", by=by, note=note, data=data)
        return PublishRefused(f"Not published: {note}", run)
    draft.transition("wait", by=by, note=note, data=data)
    return PublishWaiting(f"Not published yet: {note}", run, retry_at)


def _recorded(draft: Draft, by, run: GateRun, content: Content, delivery: Delivery, result) -> PublishedPost:
    """Record: the published post, its copies and the pupils it shows, and the draft published."""
    channel = draft.channel
    approval = draft.approvals.filter(voided_at__isnull=True, content_hash=content.hash).first()
    with transaction.atomic():
        post = PublishedPost.objects.create(
            draft=draft, channel=channel, connector=channel.connector, platform_post_id=result.platform_post_id,
            platform_url=result.url, published_by=delivery.requested_by, approval=approval, gate_run=run, content_hash=content.hash,
            text=content.text, title=content.title, link=content.link, platform_state=result.platform_state[:300],
            thumbnail_problem=result.thumbnail_problem[:500], for_families_only=not channel.posts_are_public,
        )
        PublishedMedia.objects.bulk_create(
            PublishedMedia(
                post=post, position=m.position, kind=m.kind, stored_name=str(m.path.relative_to(settings.PUBLISHED_DIR)),
                content_type=m.content_type, sha256=m.sha256, alt_text=m.alt_text,
            )
            for m in content.media
        )
        PublishedPupil.objects.bulk_create(
            PublishedPupil(post=post, pupil_id=pupil_id, how=how) for pupil_id, how in pupils_shown(draft).items()
        )
        Delivery.objects.filter(pk=delivery.pk).update(worker="", retry_at=None, last_error="")
        draft.transition(
            "mark_published", by=by, note=f"{channel}: {result.platform_post_id}",
            data={"platform_post_id": result.platform_post_id, "gate_run": run.pk, "content_hash": content.hash,
                  "attempts": delivery.attempts, **({"thumbnail_problem": result.thumbnail_problem} if result.thumbnail_problem else {})},
        )
    return post


# --- Consent changes -----------------------------------------------------------------------


def pupils_shown(draft: Draft) -> dict[int, str]:
    """The pupils whose faces the draft shows unblurred, by how they were identified."""
    shown = {}
    for face in MediaFace.objects.filter(media__draft=draft, blur=False):
        if face.identified_pupil_id:
            shown[face.identified_pupil_id] = PublishedPupil.How.CONFIRMED
        elif face.auto_status == "consented" and face.auto_pupil_id:
            shown.setdefault(face.auto_pupil_id, PublishedPupil.How.AUTOMATIC)
    return shown


def hold_drafts_showing(pupil, by) -> list[Draft]:
    """After a pupil's consent changes: every approved draft showing them is checked again, and held if it fails."""
    from django.db.models import Q

    from moderation import scheduling

    drafts = Draft.objects.filter(status__in=[Draft.Status.APPROVED, Draft.Status.WAITING]).filter(
        Q(media__faces__identified_pupil=pupil) | Q(media__faces__auto_pupil=pupil)
        | Q(media__tracks__identified_pupil=pupil) | Q(media__tracks__auto_pupil=pupil)
    ).distinct()
    held = []
    for draft in drafts:
        run = run_gates(draft, GateRun.Phase.RECHECK, by)
        if not run.passed:
            note = "Consent changed: " + _summarise(failures(run))
            try:
                draft.transition("hold", by=by, note=note, data={"gate_run": run.pk}, audit_note="consent changed: " + _gate_ids(run))
            except IllegalTransition:
                continue  # it moved on meanwhile (published or reopened): nothing to hold
            held.append(draft)
            scheduling.tell_held(draft, note)
    return held


def posts_to_take_down():
    """Published posts showing a pupil who no longer has current written consent for that channel."""

    today = timezone.localdate()
    listed = []
    shown_in_posts = PublishedPupil.objects.filter(post__taken_down_at__isnull=True)
    for shown in shown_in_posts.select_related("post__channel", "pupil").order_by("-post__published_at"):
        consent = PhotoConsent.objects.filter(pupil=shown.pupil, channel_kind=shown.post.channel.kind).select_related("pupil").first()
        if consent is None or consent.has_lapsed(today):
            listed.append((shown.post, shown.pupil, consent))
    return listed


# --- Channels ------------------------------------------------------------------------------

CHANNEL_FIELDS = (
    "name", "connector", "active", "platform_account_id", "dedicated_account_name", "account_email",
    "parents_informed_on", "parents_informed_how", "youtube_privacy",
)


def update_channel(channel: Channel, by, *, login_holders=None, authors=None, **fields) -> list[str]:
    require(by, "connectors.manage_channel", "Only the headteacher can change a channel's record.")
    if fields.get("youtube_privacy") == Channel.Privacy.PUBLIC:
        raise ValidationError("The school's YouTube channel is private: uploads can never be public.")
    if fields.get("youtube_privacy") == Channel.Privacy.UNLISTED and not settings.SCHOOL.allow_youtube_unlisted:
        raise ValidationError("The school's configuration does not allow unlisted YouTube uploads.")
    changed = [name for name in CHANNEL_FIELDS if name in fields and getattr(channel, name) != fields[name]]
    with transaction.atomic():
        for name in changed:
            setattr(channel, name, fields[name])
        is_new = channel.pk is None
        channel.save()
        for label, relation, users in (("login_holders", channel.login_holders, login_holders), ("authors", channel.authors, authors)):
            if users is not None and set(relation.values_list("pk", flat=True)) != {u.pk for u in users}:
                relation.set(users)
                changed.append(label)
        if changed or is_new:
            AuditEntry.objects.create(
                actor=by, action="channel.created" if is_new else "channel.updated", channel=channel,
                summary=f"Channel '{channel}' {'created' if is_new else 'updated'}: " + ", ".join(changed),
                data={"fields": changed},
            )
    return changed


def approve_risk_assessment(channel: Channel, by, *, summary: str, document_reference: str = "") -> RiskAssessment:
    require(by, "connectors.approve_channel", "Only the headteacher can approve a channel's risk assessment.")
    if not has_role(by, HEADTEACHER):
        raise PermissionDenied("Only the headteacher can approve a channel's risk assessment.")
    if not summary.strip():
        raise ValidationError("Summarise the risks considered and how they are controlled.")
    with transaction.atomic():
        assessment = RiskAssessment.objects.create(
            channel=channel, summary=summary.strip(), document_reference=document_reference.strip(), approved_by=by
        )
        AuditEntry.objects.create(
            actor=by, action="channel.risk_assessment_approved", channel=channel,
            summary=f"Risk assessment of '{channel}' approved by {display_name(by)}",
            data={"risk_assessment": assessment.pk},
        )
    return assessment


def channel_problems(channel: Channel) -> list[str]:
    """What blocks every draft for this channel, in words; empty when the record is complete."""
    from moderation.gates import channel_protected, channel_risk_assessed, community_informed, official_channel

    probe = Draft(channel=channel)
    ctx = Context(draft=probe, content=None, phase="check", now=timezone.now(), school=settings.SCHOOL)
    gates = (official_channel.gate, channel_risk_assessed.gate, channel_protected.gate, community_informed.gate)
    return [outcome.message for outcome in (g.check(ctx) for g in gates) if outcome.status != PASS]


__all__ = ["MediaRejected"]
