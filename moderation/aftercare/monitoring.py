"""Comments on published posts, read on a schedule (policy section 5, last bullet: inform the DSL
and the headteacher of criticism, inappropriate content or contact from children).

Each new comment is checked with the text gates (personal data, a pupil's name, abusive language)
and for signs that a child wrote it. Anything of concern is raised to the DSL and the headteacher,
on their home page and by email. The product only reads comments: it never replies, and never sends
private or direct messages (no connector has a way to).
"""

import logging
import re
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.school import notify
from config.school.models import AuditEntry
from config.school.roles import DSL, HEADTEACHER
from connectors import base as connectors
from connectors import services as connections
from moderation.models import PlatformComment, PublishedPost
from moderation.text import language, personal_data

logger = logging.getLogger(__name__)

# Words a child might use about themselves. A match is a reason for a person to look, never a verdict.
CHILD_SIGNS = (
    r"\bi(?:'?m| am)\s+(?:only\s+)?(?:[4-9]|1[0-2])\b(?![:.%]|\s*(?:am|pm|o'?clock|min|hour|hr|day|week|month|th|st|nd|rd))",
    r"\bi(?:'?m| am)\s+(?:[4-9]|1[0-2])\s+(?:years?|yrs?)\s+old\b",
    r"\b(?:[4-9]|1[0-2])\s+(?:years?|yrs?)\s+old\b.*\bme\b",
    r"\bi(?:'?m| am) in (?:year|yr|class|reception)\b",
    r"\bmy (?:teacher|class ?mates?|class|best friend in class)\b",
    r"\bi go to (?:this|your|that) school\b",
    r"\bmy (?:mum|mummy|mam|dad|daddy|nan|nanny) (?:says|said|let me|lets me)\b",
    r"\bcan i be in (?:the|a|your) (?:video|photo|picture|post)\b",
    r"\b(?:add|message|dm|follow) me\b",
    r"\bmy (?:snap|snapchat|insta|instagram|tiktok|roblox)\b",
)


def child_signs(text: str) -> list[str]:
    patterns = getattr(settings, "COMMENT_CHILD_SIGNS", CHILD_SIGNS)
    return [m.group() for p in patterns if (m := re.search(p, text or "", re.IGNORECASE))]


def concerns_in(text: str, author: str, names: personal_data.Names) -> list[dict]:
    """Why a comment is of concern, one entry a reason; empty when nothing was found."""
    reasons = []
    for finding in personal_data.find(text, "comment", names):
        kind = "pupil-name" if finding.kind == "full-name" else "personal-data"
        why = "names a pupil from the register" if kind == "pupil-name" else f"gives {finding.rule}"
        reasons.append({"kind": kind, "text": finding.text, "why": why})
    for finding in language.flags(text, "comment"):
        reasons.append({"kind": "language", "text": finding.text, "why": finding.rule})
    for finding in personal_data.full_names(author, "the commenter's name", names):
        reasons.append({"kind": "child", "text": finding.text, "why": "the commenter's name is a pupil's name: a child may have written it"})
    signs = child_signs(text)
    if signs:
        reasons.append({"kind": "child", "text": " … ".join(signs), "why": "reads as if a child wrote it"})
    return reasons


def connector_for(post: PublishedPost) -> connectors.Connector:
    """The connector that published the post (the channel may have been connected or disconnected since)."""
    if post.connector == post.channel.connector:
        return connectors.for_channel(post.channel)
    if post.connector == "outbox":
        return connectors.get("outbox")
    raise connectors.ConnectorError(
        f"'{post.channel}' no longer publishes through {post.connector}: reconnect it to read or remove this post."
    )


def posts_to_watch(now=None):
    since = (now or timezone.now()) - timedelta(days=settings.COMMENT_MONITOR_DAYS)
    return PublishedPost.objects.filter(taken_down_at__isnull=True, published_at__gte=since).select_related("channel", "draft")


def read_comments(now=None) -> list[PlatformComment]:
    """One round: read every watched post's comments, keep the new ones, raise those of concern."""
    now = now or timezone.now()
    names = personal_data.Names.from_register()
    raised = []
    for post in posts_to_watch(now):
        try:
            comments = list(connector_for(post).comments(post.platform_post_id))
        except connectors.ReconnectNeeded as error:
            connections.mark_reconnect_needed(post.channel, str(error))
            PublishedPost.objects.filter(pk=post.pk).update(comments_error=str(error)[:500])
            continue
        except connectors.ConnectorError as error:
            PublishedPost.objects.filter(pk=post.pk).update(comments_error=f"Comments not read: {error}"[:500])
            continue
        except Exception as error:  # an answer that could not be understood: the other posts are still read
            logger.exception("Comments of post %s could not be read", post.pk)
            PublishedPost.objects.filter(pk=post.pk).update(
                comments_error=f"Comments not read: the answer could not be understood ({error.__class__.__name__}: {error})"[:500]
            )
            continue
        for comment in comments:
            stored = _keep(post, comment, names, now)
            if stored is not None and stored.status == PlatformComment.Status.CONCERN:
                raised.append(stored)
        PublishedPost.objects.filter(pk=post.pk).update(comments_read_at=now, comments_error="")
    if raised:
        _tell(raised)
    return raised


def _keep(post, comment: connectors.Comment, names, now) -> PlatformComment | None:
    """Store a comment seen for the first time, with what is of concern in it; None if already kept."""
    if PlatformComment.objects.filter(post=post, comment_id=comment.comment_id).exists():
        return None
    reasons = concerns_in(comment.text, comment.author, names)
    status = PlatformComment.Status.CONCERN if reasons else PlatformComment.Status.CLEAR
    try:
        with transaction.atomic():
            stored = PlatformComment.objects.create(
                post=post, comment_id=comment.comment_id, parent_id=comment.parent_id, author=comment.author[:200],
                text=comment.text, written_at=comment.created_at, read_at=now, status=status, reasons=reasons,
            )
            if reasons:
                AuditEntry.objects.create(
                    actor=None, action="comment.concern", draft=post.draft, channel=post.channel,
                    summary=f"A comment on '{post}' was raised to the DSL: " + "; ".join(r["why"] for r in reasons),
                    data={"comment": stored.pk, "kinds": sorted({r["kind"] for r in reasons})},
                )
    except IntegrityError:  # another worker kept it first
        return None
    return stored


def _tell(raised: list[PlatformComment]) -> None:
    lines = []
    for comment in raised:
        lines.append(
            f"- On '{comment.post}' ({comment.post.channel}), {comment.author or 'someone'} wrote: “{comment.text[:300]}”\n  "
            + "; ".join(r["why"] for r in comment.reasons)
        )
    notify.tell_roles(
        [DSL, HEADTEACHER], f"{len(raised)} comment{'s' if len(raised) > 1 else ''} of concern",
        "Comments on the school's published posts need a look (policy section 5):\n\n" + "\n".join(lines)
        + f"\n\nDeal with each on 'Concerns': {notify.page('concerns')}\nThe product has not replied to anyone.",
    )


def deal_with(comment: PlatformComment, by, note: str) -> None:
    from django.core.exceptions import PermissionDenied, ValidationError

    if not by.has_perm("moderation.handle_concern"):
        raise PermissionDenied("Only the DSL or the headteacher deals with comments of concern.")
    if len(note.split()) < 3:
        raise ValidationError("Say in a few words what was done about it.")
    with transaction.atomic():
        moved = PlatformComment.objects.filter(pk=comment.pk, status=PlatformComment.Status.CONCERN).update(
            status=PlatformComment.Status.DEALT_WITH, dealt_with_by=by, dealt_with_at=timezone.now(), dealt_with_note=note.strip()
        )
        if not moved:
            raise ValidationError("This comment was already dealt with.")
        AuditEntry.objects.create(
            actor=by, action="comment.dealt_with", draft=comment.post.draft, channel=comment.post.channel,
            summary=f"A comment of concern on '{comment.post}' was dealt with", data={"comment": comment.pk},
        )
    comment.refresh_from_db()
