from django import template

register = template.Library()


@register.filter
def person(user, nobody="the system"):
    """A user as a school office would name them; `nobody` when there is no user (a command, the worker)."""
    if not user:
        return nobody
    return user.get_full_name() or user.username
