"""Reports of concern and takedown (policy section 8).

Anyone may report a concern about a published post from the news page, without an account and
without giving any personal data; a member of staff may report from the product. The DSL or the
headteacher sees the report, can take the post down (off the news page at once, and off the
platform through its API, tried again by the worker until the platform confirms), and records the
follow-up. The report, the takedown and each follow-up are audit entries on the post's draft, so the
log shows the post's whole history.
"""

import hashlib
import hmac
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone

from config.school import notify
from config.school.models import AuditEntry
from config.school.roles import DSL, HEADTEACHER
from config.school.tenancy import current_school_id
from connectors import base as connectors
from connectors import services as connections
from consent.models import PhotoConsent
from moderation.aftercare.monitoring import connector_for
from moderation.models import (
    Concern,
    ConcernNote,
    PublishedPost,
    PublishedPupil,
)

MAX_DETAILS = 5000


class TooManyReports(Exception):
    """The news page's concern form was used too often from one address (or in all) this hour."""


def sender_key(address: str) -> str:
    """A keyed hash of the sender's network address: enough to count reports, not to identify anyone."""
    return hmac.new(settings.SECRET_KEY.encode(), (address or "unknown").encode(), hashlib.sha256).hexdigest()


def _require_handler(by):
    if not by.has_perm("moderation.handle_concern"):
        raise PermissionDenied("Only the DSL or the headteacher handles reports of concern and takes posts down.")


def _words(text: str, at_least: int, what: str) -> str:
    text = (text or "").strip()
    if len(text.split()) < at_least:
        raise ValidationError(f"{what} in at least {at_least} words.")
    return text


def report(post: PublishedPost, *, kind: str, details: str, contact: str = "", by=None, sender_address: str = "", now=None) -> Concern:
    """Record a concern about a published post and tell the DSL and the headteacher."""
    now = now or timezone.now()
    if kind not in Concern.Kind.values:
        raise ValidationError("Choose what the concern is about.")
    details = (details or "").strip()
    if not details:
        raise ValidationError("Tell us what worries you about this post.")
    if len(details) > MAX_DETAILS:
        raise ValidationError(f"Please keep it under {MAX_DETAILS:,} characters.")
    if post.is_taken_down and by is None:
        raise ValidationError("This post has already been taken down.")
    source = Concern.Source.STAFF if by is not None else Concern.Source.PUBLIC
    key = "" if by is not None else sender_key(sender_address)
    in_flood = False
    with transaction.atomic():
        if by is None:
            hour_ago = now - timedelta(hours=1)
            recent = Concern.objects.select_for_update().filter(source=Concern.Source.PUBLIC, reported_at__gte=hour_ago)
            if recent.filter(sender_key=key).count() >= settings.CONCERNS_PER_HOUR_PER_SENDER:
                raise TooManyReports("Too many reports have been sent from here in the last hour. Please try again later, or contact the school office.")
            # Never refused because of someone else: past the flood level it is kept and told about with the flood.
            in_flood = recent.count() >= settings.CONCERNS_FLOOD_PER_HOUR
        concern = Concern.objects.create(
            post=post, source=source, kind=kind, details=details, contact=(contact or "").strip()[:300],
            reported_by=by, reported_at=now, sender_key=key, in_flood=in_flood,
        )
        AuditEntry.objects.create(
            actor=by, action="concern.reported", draft=post.draft, channel=post.channel, at=now,
            summary=f"A concern about '{post}' was reported {'by staff' if by else 'from the news page'}: {concern.get_kind_display()}",
            data={"concern": concern.pk, "kind": kind, "source": source},
        )
    if in_flood:
        tell_flood(now)
    else:
        tell(concern)
    return concern


def flood(now=None):
    """The open reports that came in a flood, oldest first."""
    return Concern.objects.filter(in_flood=True, status=Concern.Status.OPEN).select_related("post").order_by("reported_at", "pk")


def tell_flood(now=None) -> bool:
    """One email for a flood (at most one an hour), not one a report; every report of it is then
    marked told. A report of a flood that arrives after that email waits for the next one."""
    now = now or timezone.now()
    untold = Concern.objects.filter(in_flood=True, told_at__isnull=True)
    if not untold.exists() or not notify.once(f"concern-flood-{current_school_id()}-{now:%Y%m%d%H}", "a flood of reports of concern"):
        return False
    count = flood().count()
    posts = sorted({str(c.post) for c in flood()[:200]})
    sent = notify.tell_roles(
        [DSL, HEADTEACHER], f"A flood of reports of concern: {count} open",
        f"More than {settings.CONCERNS_FLOOD_PER_HOUR} reports of concern arrived from the news page within an hour "
        f"({count} open now), about: {'; '.join(posts[:10])}{' and others' if len(posts) > 10 else ''}.\n\n"
        "Every report is kept, and none was refused. On 'Concerns' the flood is shown together, "
        f"genuine reports can be picked out, and the rest closed in one step: {notify.page('concerns')}",
    )
    if sent:
        untold.update(told_at=now)
    return sent


def close_flood(by, outcome: str, keep=()) -> int:
    """Close every open report of a flood at once with one outcome, except those in keep (ids of
    reports the DSL judged genuine). Returns how many were closed."""
    _require_handler(by)
    outcome = _words(outcome, 3, "Say how the flood was dealt with")
    now = timezone.now()
    with transaction.atomic():
        closing = list(flood().exclude(pk__in=list(keep)).select_for_update().values_list("pk", flat=True))
        Concern.objects.filter(pk__in=closing).update(status=Concern.Status.CLOSED, closed_by=by, closed_at=now, outcome=outcome)
        if closing:
            AuditEntry.objects.create(
                actor=by, action="concern.flood_closed",
                summary=f"{len(closing)} reports of concern sent in a flood were closed together",
                data={"concerns": closing},
            )
    return len(closing)


def tell(concern: Concern) -> bool:
    """Email the DSL and the headteacher about a concern; record that they were told. When the
    email cannot be sent, the concern waits on their page marked so, and the worker tries again."""
    post = concern.post
    sent = notify.tell_roles(
        [DSL, HEADTEACHER], f"Concern reported: {post}",
        f"A concern about a published post on {post.channel} was reported "
        f"{'by a member of staff' if concern.reported_by_id else 'from the news page'} ({concern.get_kind_display().lower()}):\n\n"
        f"{concern.details}\n\n"
        f"See it, take the post down if needed, and record what was done: {notify.page('concern', concern.pk)}",
    )
    Concern.objects.filter(pk=concern.pk).update(
        told_at=timezone.now() if sent else None, telling_attempts=models.F("telling_attempts") + 1,
    )
    concern.refresh_from_db(fields=["told_at", "telling_attempts"])
    return sent


def tell_untold() -> int:
    """The worker's round: concerns whose email could not be sent are sent again. Returns how many went."""
    told = sum(tell(concern) for concern in Concern.objects.filter(told_at__isnull=True, in_flood=False).select_related("post__channel"))
    return told + (1 if tell_flood() else 0)


def take_down(post: PublishedPost, by, reason: str, concern: Concern | None = None) -> str:
    """Take a published post down: off the news page at once, then off the platform. Returns what happened."""
    _require_handler(by)
    reason = _words(reason, 3, "Give the reason for taking it down")
    with transaction.atomic():
        taken = PublishedPost.objects.filter(pk=post.pk, taken_down_at__isnull=True).update(
            taken_down_at=timezone.now(), taken_down_by=by, takedown_reason=reason
        )
        if not taken:
            raise ValidationError("This post has already been taken down.")
        AuditEntry.objects.create(
            actor=by, action="post.taken_down", draft=post.draft, channel=post.channel,
            summary=f"'{post}' taken down from the news page and {post.channel} (the reason is kept with the post)",
            data={"post": post.pk, **({"concern": concern.pk} if concern else {})},
        )
        if concern is not None:
            ConcernNote.objects.create(concern=concern, written_by=by, text=f"Post taken down: {reason}")
    post.refresh_from_db()
    return remove_from_platform(post)


def remove_from_platform(post: PublishedPost) -> str:
    """Ask the platform to delete a post taken down; record its answer. The worker repeats it until it is done."""
    try:
        connector_for(post).delete(post.platform_post_id)
    except connectors.ConnectorError as error:
        if isinstance(error, connectors.ReconnectNeeded):
            connections.mark_reconnect_needed(post.channel, str(error))
        message = f"It is off the news page, but {post.channel} has not removed it yet: {error} It will be tried again."
        PublishedPost.objects.filter(pk=post.pk).update(takedown_error=message[:1000])
        post.refresh_from_db()
        return message
    with transaction.atomic():
        done = PublishedPost.objects.filter(pk=post.pk, removed_from_platform_at__isnull=True).update(
            removed_from_platform_at=timezone.now(), takedown_error=""
        )
        if done:
            AuditEntry.objects.create(
                actor=None, action="post.removed_from_platform", draft=post.draft, channel=post.channel,
                summary=f"{post.channel} confirmed that '{post}' ({post.platform_post_id}) is removed",
                data={"post": post.pk, "platform_post_id": post.platform_post_id},
            )
    post.refresh_from_db()
    return f"Taken down from the news page and from {post.channel}."


def retry_takedowns() -> int:
    """The worker's duty: ask the platform again for every post taken down but not yet removed there."""
    pending = PublishedPost.objects.filter(taken_down_at__isnull=False, removed_from_platform_at__isnull=True).select_related("channel", "draft")
    return sum(1 for post in pending if remove_from_platform(post).startswith("Taken down"))


def add_note(concern: Concern, by, text: str) -> ConcernNote:
    _require_handler(by)
    text = _words(text, 3, "Write the follow-up")
    with transaction.atomic():
        note = ConcernNote.objects.create(concern=concern, written_by=by, text=text)
        AuditEntry.objects.create(
            actor=by, action="concern.follow_up", draft=concern.post.draft, channel=concern.post.channel,
            summary=f"Follow-up recorded on the concern about '{concern.post}'", data={"concern": concern.pk, "note": note.pk},
        )
    return note


def close(concern: Concern, by, outcome: str) -> None:
    _require_handler(by)
    outcome = _words(outcome, 3, "Say how it was resolved")
    with transaction.atomic():
        closed = Concern.objects.filter(pk=concern.pk, status=Concern.Status.OPEN).update(
            status=Concern.Status.CLOSED, closed_by=by, closed_at=timezone.now(), outcome=outcome
        )
        if not closed:
            raise ValidationError("This concern is already closed.")
        AuditEntry.objects.create(
            actor=by, action="concern.closed", draft=concern.post.draft, channel=concern.post.channel,
            summary=f"The concern about '{concern.post}' was closed", data={"concern": concern.pk},
        )
    concern.refresh_from_db()


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
