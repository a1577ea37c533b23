"""What the worker does for publishing: publish again what waited for its platform, resume what a
stopped process left half-way, read how YouTube's processing went, and check the connections daily.

Every decision is taken from the database (the draft's status and its delivery's journal), so a
worker started after a crash carries on where the last one stopped and sends nothing twice.
"""

import logging
import socket
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from connectors import base as connectors
from connectors import services as connections
from connectors.models import Delivery
from moderation import services
from moderation.analysis import _alive
from config.school.models import AuditEntry
from moderation.models import Draft, IllegalTransition, PublishedPost
from moderation.monitoring import connector_for

logger = logging.getLogger(__name__)

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
            services.deliver(draft, by)
        except services.PublishRefused as outcome:
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
            if _alive(int(delivery.worker[len(host):])) and (delivery.heartbeat_at or now) > stale:
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
    if video is None or not video.thumbnail_path.exists():
        raise ValidationError("The checked thumbnail is no longer kept: choose one on a new draft.")
    try:
        connector_for(post).set_thumbnail(post.platform_post_id, video.thumbnail_path)
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
