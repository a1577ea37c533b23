from django.utils import formats

from moderation.gates.base import Gate, failed, passed


class CommunityInformed(Gate):
    """Section 5: parents/carers and children are informed of official social media use.

    The channel records when and how parents and carers were informed (the date and the notice).
    """

    id = "community-informed"
    title = "Community informed"

    def check(self, ctx):
        channel = ctx.draft.channel
        informed_on, how = channel.parents_informed_on, channel.parents_informed_how.strip()
        if not informed_on or not how:
            return failed(
                f"The record of '{channel}' does not say when and how parents and carers were told about it. "
                "The headteacher must record the date and the notice on the channel's page."
            )
        if informed_on > ctx.now.date():
            return failed(f"Parents and carers of '{channel}' are to be informed on {informed_on}; nothing can be posted before then.")
        return passed(f"Parents and carers informed on {formats.date_format(informed_on, 'j F Y')}: {how}")


gate = CommunityInformed()
