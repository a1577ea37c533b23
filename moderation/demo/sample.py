"""A channel whose record passes every channel gate, for the benchmarks, the load test and the
tests (the demo school, `seed_demo`, writes its own fuller records)."""

import datetime

from connectors.models import Channel
from moderation.models import PolicyReview
from moderation.reviews import services as reviews


def complete_channel(head, *, kind=Channel.Kind.FACEBOOK, name=None, authors=()) -> Channel:
    """A channel with its record complete, its risk assessment approved by `head` (a headteacher)
    and, if none is recorded yet, a review of the policy."""
    channel = Channel(kind=kind)
    reviews.update_channel(
        channel, head,
        name=name or f"School {kind}",
        connector="outbox",
        active=True,
        dedicated_account_name="Aycliffe Community Primary School",
        account_email=f"{kind}@aycliffe.kent.sch.uk",
        parents_informed_on=datetime.date(2026, 9, 4),
        parents_informed_how="Letter home, September 2026",
        login_holders=[head],
        authors=list(authors),
    )
    reviews.approve_risk_assessment(channel, head, summary="Risks considered and controlled.")
    if not PolicyReview.objects.exists():
        reviews.record_policy_review(head, version="2026-1", notes="Reviewed with the governors.")
    return channel
