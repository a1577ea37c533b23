from moderation.gates.base import Gate, failed, passed


class InclusiveMirror(Gate):
    """Section 5: official use "does not exclude members of the community who are unable or unwilling to use social media channels".

    Every published post also appears in the school's own non-social feed: a public web page
    and an Atom feed that the school website or newsletter can carry. Each photo and video
    carries a description so that the mirror serves people who cannot see it too.
    """

    id = "inclusive-mirror"
    title = "Inclusive mirror"

    def check(self, ctx):
        undescribed = [item.original_name for item in ctx.content.media if not item.alt_text.strip()]
        if undescribed:
            return failed("Add a description for people who cannot see it to: " + ", ".join(undescribed) + ".")
        return passed("Will appear on the school's own news page and its Atom feed, without a login.")


gate = InclusiveMirror()
