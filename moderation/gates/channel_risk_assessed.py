from django.utils import formats

from moderation.gates.base import Gate, failed, passed
from moderation.reviews import services as reviews


class ChannelRiskAssessed(Gate):
    """Section 5: "formally risk assessed and approved by the headteacher prior to use"; section 7: reviewed at least annually.

    The channel has a risk assessment approved by a user with the headteacher role, less than
    12 months old, and the policy itself was reviewed less than 12 months ago (moderation.reviews).
    """

    id = "channel-risk-assessed"
    title = "Channel risk assessed"

    def check(self, ctx):
        policy = reviews.policy_problem(ctx.now)
        if policy:
            return failed(policy)
        channel = ctx.draft.channel
        assessment = channel.current_risk_assessment
        if assessment is None:
            return failed(
                f"'{channel}' has no approved risk assessment. The headteacher must record and approve one "
                "on the channel's page before anything is posted."
            )
        expires = assessment.expires_at(ctx.school.risk_assessment_months)
        if ctx.now >= expires:
            return failed(
                f"The risk assessment of '{channel}' expired on {formats.date_format(expires, 'j F Y')}. "
                "The headteacher must review it and approve it again on the channel's page."
            )
        return passed(
            f"Approved by {assessment.approved_by.get_full_name() or assessment.approved_by.username} "
            f"on {formats.date_format(assessment.approved_at, 'j F Y')}; valid until "
            f"{formats.date_format(expires, 'j F Y')}. The policy's own review is due {reviews.policy_review().due_words}."
        )


gate = ChannelRiskAssessed()
