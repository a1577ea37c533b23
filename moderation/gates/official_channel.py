from connectors.base import shape_problem
from connectors.models import Channel
from moderation.gates.base import Gate, failed, passed


class OfficialChannel(Gate):
    """Section 5: "official social media channels are Facebook and a private YouTube channel".

    The draft targets an active, registered Facebook Page or YouTube channel, and a YouTube
    upload is always private (unlisted only where the school's configuration allows it). The
    post is one the channel can carry: a YouTube post is one video; a Facebook post holds
    photos or one video.
    """

    id = "official-channel"
    title = "Official channel"

    def check(self, ctx):
        channel = ctx.draft.channel
        if not channel.active:
            return failed(f"'{channel}' is no longer an active channel. Choose one of the school's current channels.")
        if channel.kind not in Channel.Kind.values:
            return failed(f"'{channel}' is not a Facebook Page or a YouTube channel.")
        if ctx.draft.pk:  # a saved draft; the channel page checks an empty one
            kinds = [m.kind for m in ctx.content.media] if ctx.content else list(ctx.draft.media.values_list("kind", flat=True))
            problem = shape_problem(channel.kind, kinds)
            if problem:
                return failed(problem)
        if channel.kind == Channel.Kind.YOUTUBE:
            privacy = channel.youtube_privacy
            if privacy == Channel.Privacy.PUBLIC:
                return failed(f"'{channel}' is set to public. The headteacher must set it to private on the channel page.")
            if privacy == Channel.Privacy.UNLISTED and not ctx.school.allow_youtube_unlisted:
                return failed(
                    f"'{channel}' is set to unlisted, which the school's configuration does not allow. "
                    "The headteacher must set it to private on the channel page."
                )
            return passed(f"'{channel}' is an official YouTube channel; uploads are {privacy}.")
        return passed(f"'{channel}' is the school's official Facebook Page.")


gate = OfficialChannel()
