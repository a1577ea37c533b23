"""Publishing: freeze, derive the published copies, check again, send, record.

Also what the worker does for publishing: publish again what waited for its platform, resume what
a stopped process left half-way, read how YouTube's processing went, and check the connections
daily. Every decision is taken from the database (the draft's status and its delivery's journal),
so a worker started after a crash carries on where the last one stopped and sends nothing twice.
"""

import logging
import shutil
import socket
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from config.school import files
from config.school.models import AuditEntry
from config.school.people import require
from connectors import base as connectors
from connectors import services as connections
from connectors.models import Delivery, worker_name
from moderation.aftercare.monitoring import connector_for
from moderation.drafts.services import delete_originals
from moderation.gates import pipeline
from moderation.gates.base import Content, MediaItem
from moderation.models import (
    Draft,
    GateRun,
    IllegalTransition,
    MediaFace,
    MediaFile,
    PublishedMedia,
    PublishedPost,
    PublishedPupil,
)
from moderation.publishing import video_copies
from moderation.publishing.models import THUMBNAIL
from moderation.upkeep import tasks
from pixels import imaging, photos, video_copy

logger = logging.getLogger(__name__)


def derive_published_copies(content: Content, batch: str) -> Content:
    """Turn each frozen photo into the copy that is published: oriented, blurred as decided, stripped.
    The copies are written under the stored name `batch`/..., ready to be kept (`keep_published`)."""
    derived = []
    for item in content.media:
        if item.kind == MediaFile.Kind.VIDEO:
            derived.append(_published_video(item, batch))
            continue
        try:
            destination = files.new_file(files.PUBLISHED, f"{batch}/{item.position:03d}-{uuid.uuid4().hex}.jpg")
            image = photos.load_image(item.source_path)
            blurred = [f.box for f in item.faces if f.blur] + [w.box for w in item.words if w.blur]
            imaging.write_published_copy(image, blurred, destination)
        except Exception as error:
            raise pipeline.ContentUnreadable(
                pipeline.storage_problem(error, item.original_name) or f"The published copy of '{item.original_name}' could not be made: {error}"
            ) from error
        derived.append(replace(item, path=destination, content_type="image/jpeg"))
    return replace(content, media=tuple(derived))


def _published_video(item: MediaItem, batch: str) -> MediaItem:
    """The video as published: the chosen faces pixelated through their tracks, no metadata."""
    # Words read in a frame are taken to be on screen, where they were read, from one reading
    # to the next.
    to_blur = video_copy.blur_list(item, video_copies.read_every())
    try:
        destination = files.new_file(files.PUBLISHED, f"{batch}/{item.position:03d}-{uuid.uuid4().hex}.mp4")
        thumbnail = destination.with_suffix(THUMBNAIL)
        made = _copy_made_for(item)
        if made is not None:
            # The very file the approver watched, made for exactly these decisions and these bytes.
            shutil.copyfile(made, destination)
        elif to_blur:
            video_copy.blurred(item.source_path, to_blur, destination)
        else:
            video_copy.remux(item.source_path, destination)
        imaging.write_published_copy(video_copy.frame_at(destination, video_copy.thumbnail_time(item)), [], thumbnail)
    except Exception as error:
        raise pipeline.ContentUnreadable(
            pipeline.storage_problem(error, item.original_name) or f"The published copy of '{item.original_name}' could not be made: {error}"
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
    try:
        path = files.here(files.COPIES, media.copy_name)
    except FileNotFoundError:
        return None
    return path if path.exists() else None


def published_names(content: Content) -> list[str]:
    """The stored names of the published copies (and thumbnails) of this content."""
    paths = [p for m in content.media for p in (m.path, m.thumbnail_path) if p is not None and p != m.source_path]
    return [files.name_of(files.PUBLISHED, p) for p in paths]


def keep_published(content: Content) -> None:
    """The published copies are kept for the news page, before anything is sent: a post whose
    copy could not be kept is not sent."""
    for name in published_names(content):
        files.keep(files.PUBLISHED, name)


def discard_published(content: Content, batch: str) -> None:
    """The copies of a post that was not sent are deleted."""
    for name in published_names(content):
        files.remove(files.PUBLISHED, name)
    files.remove_folder(files.PUBLISHED, batch)


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
    batch = f"draft-{draft.pk}-{uuid.uuid4().hex[:12]}"
    # The frozen originals: this worker's own, deleted once the post is out or refused.
    frozen = Path(settings.WORK_DIR) / "publishing" / batch  # made by freeze, readable by this user only
    try:
        content = _frozen_copies(draft, frozen, batch, by)
        run = _checked(draft, content, batch, by)
        _kept(draft, content, batch, run, by)
        delivery = _claimed(draft, content, by)
        try:
            result = connectors.for_channel(draft.channel).publish(_outgoing(draft, content), delivery.journal())
        except Exception as error:
            discard_published(content, batch)
            raise _not_sent(draft, by, run, delivery, error) from error
        post = _recorded(draft, by, run, content, delivery, result)
    finally:
        shutil.rmtree(frozen, ignore_errors=True)
    # The originals are no longer needed: only the published copies are kept.
    delete_originals(draft)
    return post


def _frozen_copies(draft: Draft, frozen: Path, batch: str, by) -> Content:
    """Freeze: the draft's files copied as they are; derive: the copies that will be published."""
    try:
        content = pipeline.freeze(draft, copy_to=frozen)
        return derive_published_copies(content, batch)
    except pipeline.ContentUnreadable as error:
        files.remove_folder(files.PUBLISHED, batch)
        run = pipeline.run_gates(draft, GateRun.Phase.PUBLISH, by)
        draft.transition("hold", by=by, note=str(error), data={"gate_run": run.pk})
        raise PublishRefused(str(error), run) from error


def _kept(draft: Draft, content: Content, batch: str, run: GateRun, by) -> None:
    """Keep: the copies about to be sent, stored for the news page; when the file storage does not
    take them, nothing is sent and the draft is held, saying why."""
    try:
        keep_published(content)
    except OSError as error:
        discard_published(content, batch)
        note = (f"Not published: the published copies could not be stored ({error}). Nothing was sent to the "
                "platform. Ask whoever looks after the server to check the file storage, then publish again.")
        draft.transition("hold", by=by, note=note, data={"gate_run": run.pk})
        raise PublishRefused(note, run) from error


def _checked(draft: Draft, content: Content, batch: str, by) -> GateRun:
    """Check: every gate again, on the copies about to be sent."""
    run = pipeline.run_gates(draft, GateRun.Phase.PUBLISH, by, content=content)
    if not run.passed:
        discard_published(content, batch)
        reasons = pipeline.summary(pipeline.failures(run))
        draft.transition("hold", by=by, note=reasons, data={"gate_run": run.pk}, audit_note=pipeline.gate_ids(run))
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
        made_for_kids=draft.school.youtube_made_for_kids,
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
                post=post, position=m.position, kind=m.kind, stored_name=files.name_of(files.PUBLISHED, m.path),
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


def pupils_shown(draft: Draft) -> dict[int, str]:
    """The pupils whose faces the draft shows unblurred, by how they were identified."""
    shown = {}
    for face in MediaFace.objects.filter(media__draft=draft, blur=False):
        if face.identified_pupil_id:
            shown[face.identified_pupil_id] = PublishedPupil.How.CONFIRMED
        elif face.auto_status == "consented" and face.auto_pupil_id:
            shown.setdefault(face.auto_pupil_id, PublishedPupil.How.AUTOMATIC)
    return shown


STILL_PROCESSING = "YouTube is still processing the video."


def latest_delivery(draft: Draft) -> Delivery | None:
    return draft.deliveries.order_by("-pk").first()


def retry_waiting(now=None) -> int:
    """Publish again each waiting draft whose time has come. Returns how many were tried."""
    now = now or timezone.now()
    tried = 0
    for draft in Draft.objects.filter(status=Draft.Status.WAITING).select_related("channel", "author").order_by("updated_at"):
        delivery = latest_delivery(draft)
        if delivery is not None and delivery.retry_at and delivery.retry_at > now:
            continue
        # Every waiting draft has a next attempt: one whose process stopped before it recorded a
        # delivery (between "publishing" and the connector) is tried now, in the approver's name,
        # as a scheduled post is.
        by = delivery.requested_by if delivery is not None else _approver_or_author(draft)
        try:
            draft.transition("start_publishing", by=by, note="tried again automatically")
        except IllegalTransition:
            continue  # another worker took it, or someone withdrew it
        tried += 1
        try:
            deliver(draft, by)
        except PublishRefused as outcome:
            logger.info("Draft %s: %s", draft.pk, outcome)
    return tried


def _approver_or_author(draft: Draft):
    approval = draft.approvals.filter(voided_at__isnull=True).select_related("approver").first()
    return approval.approver if approval else draft.author


def recover_interrupted(now=None) -> int:
    """Drafts left publishing by a process that stopped: they wait, to be tried again at once.

    A publish belongs to the process named in its delivery; it is taken to have stopped when that
    process is gone from this host, or when nothing has been heard of it for PUBLISH_STALE_MINUTES.
    """
    now = now or timezone.now()
    stale = now - timedelta(minutes=settings.PUBLISH_STALE_MINUTES)
    host = socket.gethostname() + ":"
    recovered = 0
    for draft in Draft.objects.filter(status=Draft.Status.PUBLISHING):
        delivery = latest_delivery(draft)
        if delivery is None or (delivery.heartbeat_at or delivery.created_at) < draft.updated_at - timedelta(seconds=1):
            # Stopped before reaching the platform (while checking the gates), or not heard of since.
            if draft.updated_at > stale:
                continue
        elif delivery.worker.startswith(host) and delivery.worker[len(host):].isdigit():
            if not tasks.gone(delivery.worker) and (delivery.heartbeat_at or now) > stale:
                continue
        elif (delivery.heartbeat_at or draft.updated_at) > stale:
            continue
        try:
            draft.transition(
                "wait", by=None, note="Publishing was interrupted (the process doing it stopped). It carries on from where it stopped.",
                data={"reason": "interrupted"},
            )
        except IllegalTransition:
            continue
        if delivery is not None:
            Delivery.objects.filter(pk=delivery.pk).update(worker="", retry_at=now)
        recovered += 1
    return recovered


def refresh_platform_states() -> int:
    """Ask the platform about posts it was still processing (YouTube), and record the answer."""
    refreshed = 0
    for post in PublishedPost.objects.filter(platform_state=STILL_PROCESSING).select_related("channel"):
        try:
            state = connectors.for_channel(post.channel).platform_state(post.platform_post_id)
        except connectors.ConnectorError as error:
            logger.info("Processing state of %s not read: %s", post.platform_post_id, error)
            continue
        PublishedPost.objects.filter(pk=post.pk).update(platform_state=state[:300])
        refreshed += 1
    return refreshed


def run_due(now=None) -> None:
    """One round of the worker's publishing duties."""
    recover_interrupted(now)
    retry_waiting(now)
    refresh_platform_states()
    connections.check_due_connections(now)


def set_thumbnail_again(post: PublishedPost, by) -> str:
    """Send a published video's checked thumbnail to its platform once more: after the platform
    refused it (a YouTube channel that was not verified yet). Returns what happened, in words."""
    if not by.has_perm("moderation.publish_draft"):
        raise PermissionDenied("Only staff who publish may set a thumbnail.")
    if not post.thumbnail_problem:
        raise ValidationError("The platform already has this video's thumbnail.")
    if post.is_taken_down:
        raise ValidationError("This post has been taken down.")
    video = post.media.filter(kind="video").first()
    try:
        thumbnail = video.thumbnail_path if video is not None else None
    except FileNotFoundError:
        thumbnail = None
    if thumbnail is None or not thumbnail.exists():
        raise ValidationError("The checked thumbnail is no longer kept: choose one on a new draft.")
    try:
        connector_for(post).set_thumbnail(post.platform_post_id, thumbnail)
    except connectors.ConnectorError as error:
        if isinstance(error, connectors.ReconnectNeeded):
            connections.mark_reconnect_needed(post.channel, str(error))
        PublishedPost.objects.filter(pk=post.pk).update(thumbnail_problem=str(error)[:500])
        post.refresh_from_db()
        raise ValidationError(f"{post.channel} did not take the thumbnail: {error}") from error
    PublishedPost.objects.filter(pk=post.pk).update(thumbnail_problem="")
    AuditEntry.objects.create(
        actor=by, action="post.thumbnail_set", draft=post.draft, channel=post.channel,
        summary=f"The checked thumbnail of '{post}' was set on {post.channel}", data={"post": post.pk},
    )
    post.refresh_from_db()
    return f"{post.channel} now shows the checked thumbnail."
