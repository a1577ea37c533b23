from moderation.accounts.services import has_accepted_aup
from moderation.gates.base import Gate, failed, passed


class AuthorisedAuthor(Gate):
    """Section 5: do not engage in activities on behalf of the setting unless authorised; read and understand the AUP.

    The author is authorised for this channel and has accepted the current Acceptable Use Policy.
    """

    id = "authorised-author"
    title = "Authorised author"

    def check(self, ctx):
        draft, author = ctx.draft, ctx.draft.author
        name = author.get_full_name() or author.username
        if not author.is_active:
            return failed(f"{name}'s account is disabled.")
        if not author.has_perm("moderation.add_draft") or not draft.channel.authors.filter(pk=author.pk).exists():
            return failed(
                f"{name} is not authorised to post on '{draft.channel}'. The headteacher can add them on the channel's page."
            )
        if not has_accepted_aup(author):
            return failed(
                f"{name} has not accepted version {ctx.school.aup_version} of the Acceptable Use Policy. "
                "They must accept it from their home page."
            )
        return passed(f"{name} is authorised for '{draft.channel}' and accepted AUP version {ctx.school.aup_version}.")


gate = AuthorisedAuthor()
