from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from config.school.roles import HEADTEACHER, has_role
from connectors.models import Channel


def channel_named(name: str, kind: str) -> Channel:
    channel = Channel.objects.filter(name=name).first()
    if channel is None:
        known = ", ".join(Channel.objects.filter(kind=kind).values_list("name", flat=True)) or "none"
        raise CommandError(f"There is no channel called '{name}'. The {kind} channels are: {known}.")
    if channel.kind != kind:
        raise CommandError(f"'{name}' is a {channel.get_kind_display()}, not a {kind} channel.")
    return channel


def headteacher(username: str):
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None or not has_role(user, HEADTEACHER):
        raise CommandError(f"'{username}' is not an active headteacher account: only the headteacher connects a channel.")
    return user
