"""The headteacher's reviews: channels set up and their risk assessments approved, and the annual
reviews (policy section 7).

The policy itself and each channel's risk assessment fall due 12 months after their last review.
The headteacher is reminded 30 days ahead; once overdue, the channel is blocked (the
`channel-risk-assessed` gate fails), and the policy's review blocks every channel.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import formats, timezone

from config.school import notify
from config.school.models import AuditEntry
from config.school.people import display_name, require
from config.school.roles import HEADTEACHER, has_role
from config.school.tenancy import current_school
from connectors.models import Channel
from moderation.models import (
    PolicyReview,
    RiskAssessment,
)

CHANNEL_FIELDS = (
    "name", "connector", "active", "platform_account_id", "dedicated_account_name", "account_email",
    "parents_informed_on", "parents_informed_how", "youtube_privacy",
)


def update_channel(channel: Channel, by, *, login_holders=None, authors=None, **fields) -> list[str]:
    require(by, "connectors.manage_channel", "Only the headteacher can change a channel's record.")
    if fields.get("youtube_privacy") == Channel.Privacy.PUBLIC:
        raise ValidationError("The school's YouTube channel is private: uploads can never be public.")
    if fields.get("youtube_privacy") == Channel.Privacy.UNLISTED and not current_school().allow_youtube_unlisted:
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


@dataclass(frozen=True)
class Review:
    what: str  # "the social media policy", "the risk assessment of 'School Facebook'"
    key: str  # stable: "policy:3", "channel:2:assessment:7"
    due_at: datetime | None  # None: never reviewed
    channel: Channel | None = None

    def overdue(self, now) -> bool:
        return self.due_at is None or now >= self.due_at

    def due_soon(self, now) -> bool:
        return not self.overdue(now) and self.due_at - now <= timedelta(days=settings.REVIEW_REMINDER_DAYS)

    @property
    def due_words(self) -> str:
        return formats.date_format(timezone.localtime(self.due_at), "j F Y") if self.due_at else "never reviewed"


def latest_policy_review() -> PolicyReview | None:
    return PolicyReview.objects.select_related("reviewed_by").first()


def policy_review() -> Review:
    latest = latest_policy_review()
    return Review("the social media policy", f"policy:{latest.pk if latest else 0}", latest.due_at(current_school().risk_assessment_months) if latest else None)


def channel_review(channel: Channel) -> Review:
    assessment = channel.current_risk_assessment
    return Review(
        f"the risk assessment of '{channel}'", f"channel:{channel.pk}:assessment:{assessment.pk if assessment else 0}",
        assessment.expires_at(channel.school.risk_assessment_months) if assessment else None, channel,
    )


def all_reviews() -> list[Review]:
    return [policy_review()] + [channel_review(c) for c in Channel.objects.filter(active=True)]


def policy_problem(now) -> str:
    """Why the policy's review blocks publishing, in words; "" when it is in date."""
    review = policy_review()
    if review.due_at is None:
        return ("The social media policy has no recorded review. The headteacher records the policy's annual review "
                "on the 'Reviews' page before anything is posted.")
    if review.overdue(now):
        return (f"The social media policy's annual review was due on {review.due_words}. The headteacher must review it "
                "and record the review on the 'Reviews' page.")
    return ""


def record_policy_review(by, *, version: str, notes: str = "") -> PolicyReview:
    if not (by.has_perm("moderation.add_policyreview") and has_role(by, HEADTEACHER)):
        raise PermissionDenied("Only the headteacher records the policy's review.")
    if not version.strip():
        raise ValidationError("Give the version or date of the policy that was reviewed.")
    with transaction.atomic():
        review = PolicyReview.objects.create(reviewed_by=by, version=version.strip(), notes=notes.strip())
        AuditEntry.objects.create(
            actor=by, action="policy.reviewed",
            summary=f"The social media policy (version {review.version}) was reviewed; next review due "
                    f"{formats.date_format(review.due_at(review.school.risk_assessment_months), 'j F Y')}",
            data={"policy_review": review.pk},
        )
    return review


def send_reminders(now=None) -> list[str]:
    """Remind the headteacher of each review due within 30 days, and say when one is overdue: once each."""
    now = now or timezone.now()
    sent = []
    for review in all_reviews():
        if review.due_soon(now):
            key, subject = f"review-due:{review.key}", f"Review due by {review.due_words}: {review.what}"
            body = (f"{review.what[0].upper()}{review.what[1:]} falls due for its annual review on {review.due_words} "
                    "(policy section 7). Once it is overdue, nothing more is published ")
            body += ("on this channel" if review.channel else "on any channel") + " until the review is recorded."
        elif review.overdue(now) and review.due_at is not None:
            key, subject = f"review-overdue:{review.key}", f"Overdue: {review.what}"
            body = (f"{review.what[0].upper()}{review.what[1:]} was due for its annual review on {review.due_words}. "
                    + ("Posts for this channel" if review.channel else "Posts for every channel") + " are blocked until it is reviewed.")
        else:
            continue
        if notify.once(key, subject):
            AuditEntry.objects.create(
                actor=None, action="review.reminder", channel=review.channel, summary=subject, data={"key": review.key},
            )
            notify.tell_roles([HEADTEACHER], subject, f"{body}\n\nReview it: {notify.page('reviews')}")
            sent.append(subject)
    return sent
