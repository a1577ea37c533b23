from config.school.roles import LEADERSHIP
from config.school.tenancy import people
from moderation.gates.base import Gate, failed, passed


class ChannelProtected(Gate):
    """Section 5: channels are distinct dedicated accounts, registered with setting-provided email, and leadership hold the login details.

    The channel record names a dedicated account registered with an address in the school's
    own email domain(s), and at least one leadership user who holds access.
    """

    id = "channel-protected"
    title = "Channel protected"

    def check(self, ctx):
        channel = ctx.draft.channel
        missing = []
        if not channel.dedicated_account_name.strip():
            missing.append("the dedicated account it uses")
        email = channel.account_email.strip().lower()
        domain = email.rpartition("@")[2]
        if not email:
            missing.append("the school email address the account is registered with")
        elif domain not in ctx.school.email_domains:
            allowed = ", ".join(ctx.school.email_domains) or "(none configured)"
            return failed(
                f"'{channel}' is registered with {email}, which is not a school address ({allowed}). "
                "Register the account with a school address and record it on the channel's page."
            )
        holders = channel.login_holders.filter(pk__in=people(*LEADERSHIP, school=channel.school_id), is_active=True)
        if not holders.exists():
            missing.append("at least one member of the leadership team who holds the login details")
        if missing:
            return failed(f"The record of '{channel}' does not name " + "; ".join(missing) + ". The headteacher must complete it on the channel's page.")
        names = ", ".join(u.get_full_name() or u.username for u in holders)
        return passed(f"Dedicated account registered with {email}; login details held by {names}.")


gate = ChannelProtected()
