"""Timed publishing (policy section 5): an approved draft with a publish time is published at that
time, by the worker, and only after every gate passes again at that moment.

The database is the truth: a draft is due when it is approved and its time has come. The worker's
clock only enqueues the task `publish_at_its_time` at the right moment (moderation.upkeep.worker);
whichever worker runs the task decides again from the database; a worker that was down publishes
what fell due meanwhile as soon as it starts. Only one worker can publish a draft: each claims it by
moving it from approved to publishing in one conditional UPDATE (Draft.transition).
"""

import logging

from django.utils import timezone
from django_tasks import task

from config.school import notify
from config.school.tenancy import in_its_school
from moderation.models import Draft, IllegalTransition
from moderation.publishing import services as publishing

logger = logging.getLogger(__name__)


def scheduled_drafts():
    """Approved drafts waiting for their publish time (or past it, not yet published)."""
    return Draft.objects.filter(status=Draft.Status.APPROVED, publish_at__isnull=False)


def due_drafts(now=None):
    return scheduled_drafts().filter(publish_at__lte=now or timezone.now()).order_by("publish_at", "pk")


@in_its_school(Draft)
def publish_scheduled(draft_id: int, now=None) -> str:
    """Publish one draft whose time has come. Returns what happened, in words (for the worker's log)."""
    now = now or timezone.now()
    draft = Draft.objects.select_related("channel", "author").filter(pk=draft_id).first()
    if draft is None or draft.status != Draft.Status.APPROVED or draft.publish_at is None:
        return "no longer scheduled"
    if draft.publish_at > now:
        return "not due yet"
    approval = draft.approvals.filter(voided_at__isnull=True).select_related("approver").first()
    # Whoever approved it asked for it to go out at this time: the post is published in their name.
    by = approval.approver if approval else draft.author
    try:
        draft.transition(
            "start_publishing", by=None,
            note=f"its publish time ({timezone.localtime(draft.publish_at):%d %B %Y, %H:%M}) was reached: every check runs again",
            data={"scheduled_for": draft.publish_at.isoformat()},
        )
    except IllegalTransition:
        return "taken by another worker, withdrawn or reopened"
    try:
        post = publishing.deliver(draft, by)
    except publishing.PublishWaiting as waiting:
        # The platform cannot take it now; the worker tries again by itself (moderation.publishing).
        return str(waiting)
    except publishing.PublishRefused as refused:
        tell_held(draft, str(refused), approval)
        return str(refused)
    return f"published as {post.platform_post_id}"


def tell_held(draft: Draft, reason: str, approval=None) -> None:
    """Tell the author and the approver, once per hold, that a scheduled post did not go out."""
    approval = approval or draft.approvals.filter(voided_at__isnull=True).select_related("approver").first()
    held_at = draft.audit_entries.filter(action="draft.hold").values_list("pk", flat=True).first()
    subject = f"Not published: {draft}"
    if not notify.once(f"held:{draft.pk}:{held_at}", subject):
        return
    recipients = [draft.author.email] + ([approval.approver.email] if approval else [])
    when = f" at {timezone.localtime(draft.publish_at):%d %B %Y, %H:%M}" if draft.publish_at else ""
    notify.email(
        recipients, subject,
        f"The post '{draft}' was due to be published{when}, but it was held:\n\n{reason}\n\n"
        "Nothing was sent to the platform. Open the draft to see every check, fix what it says and publish it again: "
        f"{notify.page('draft', draft.pk)}",
    )


# In the quick queue, beside the rounds: a post due at 9:00 does not wait behind a long video.
@task(queue_name="publishing")
def publish_at_its_time(draft_id: int) -> str:
    """The task the worker's clock enqueues at a draft's publish time."""
    outcome = publish_scheduled(draft_id)
    logger.info("Scheduled draft %s: %s", draft_id, outcome)
    return outcome


def publish_due(now=None) -> int:
    """Every draft whose time has come, oldest first: what a starting worker does, and every round."""
    published = 0
    for draft_id in list(due_drafts(now).values_list("pk", flat=True)):
        outcome = publish_scheduled(draft_id, now)
        logger.info("Scheduled draft %s: %s", draft_id, outcome)
        published += outcome.startswith("published")
    return published
