"""Connecting a channel to its platform, checking the connection, and saying when it broke.

Views, management commands and the worker call these; the connectors themselves only talk to the
platforms.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connectors import base
from connectors.models import Connection
from config.school.notify import page, tell_roles
from config.school.roles import HEADTEACHER
from config.school.models import AuditEntry

logger = logging.getLogger(__name__)

PLATFORM_NAMES = {"facebook": "Facebook Page", "youtube": "YouTube channel"}


def usable_connection(channel, platform: str) -> Connection:
    """The channel's connection, or ReconnectNeeded saying what the headteacher must do."""
    connection = Connection.objects.filter(channel=channel, platform=platform).first()
    command = f"python manage.py connect_{platform} --channel \"{channel.name}\""
    if connection is None:
        raise base.ReconnectNeeded(
            f"'{channel}' is not connected to its {PLATFORM_NAMES[platform]} yet: the headteacher connects it from the channel's page or with `{command}`."
        )
    if not connection.usable:
        raise base.ReconnectNeeded(
            f"'{channel}' must be reconnected to its {PLATFORM_NAMES[platform]} before anything is published: {connection.problem}"
        )
    return connection


def save_connection(channel, *, platform: str, account_id: str, account_name: str, credentials: dict, by) -> Connection:
    """Store a new or renewed connection (tokens encrypted) and log who made it."""
    if channel.kind != platform:
        raise ValueError(f"'{channel}' is a {channel.get_kind_display()}, not a {PLATFORM_NAMES[platform]}.")
    with transaction.atomic():
        connection = Connection.objects.filter(channel=channel).first() or Connection(channel=channel)
        connection.platform, connection.account_id, connection.account_name = platform, account_id, account_name
        connection.set_credentials(credentials)
        connection.status, connection.problem = Connection.Status.CONNECTED, ""
        connection.connected_by, connection.connected_at, connection.checked_at = by, timezone.now(), timezone.now()
        connection.save()
        if channel.platform_account_id != account_id or channel.connector != platform:
            type(channel).objects.filter(pk=channel.pk).update(platform_account_id=account_id, connector=platform)
            channel.platform_account_id, channel.connector = account_id, platform
        AuditEntry.objects.create(
            actor=by, action="channel.connected", channel=channel,
            summary=f"'{channel}' connected to the {PLATFORM_NAMES[platform]} '{account_name}' ({account_id})",
            data={"platform": platform, "account_id": account_id},
        )
    return connection


def mark_reconnect_needed(channel, problem: str) -> bool:
    """Flag the channel and tell the headteacher, once per breakage. True when newly flagged."""
    with transaction.atomic():
        flagged = Connection.objects.filter(channel=channel, status=Connection.Status.CONNECTED).update(
            status=Connection.Status.RECONNECT_NEEDED, problem=problem, checked_at=timezone.now()
        )
        if not flagged:
            return False
        AuditEntry.objects.create(
            actor=None, action="channel.reconnect_needed", channel=channel,
            summary=f"'{channel}' needs reconnecting: {problem}", data={"problem": problem},
        )
    tell_headteachers(
        f"{channel}: reconnect needed",
        f"The product can no longer publish to '{channel}'.\n\n{problem}\n\nPosts for this channel are held until it is "
        f"reconnected. Reconnect it from the channel's page, {page('channel', channel.pk)}, or run python manage.py "
        f"connect_{channel.kind} --channel \"{channel.name}\".",
    )
    return True


def tell_headteachers(subject: str, body: str) -> None:
    tell_roles([HEADTEACHER], subject, body)


def check_connection(channel) -> Connection | None:
    """Ask the platform whether the stored token still works; record the answer."""
    connection = Connection.objects.filter(channel=channel).first()
    if connection is None or channel.connector != connection.platform:
        return connection
    try:
        name = base.for_channel(channel).check()
    except base.ReconnectNeeded as error:
        mark_reconnect_needed(channel, str(error))
    except base.ConnectorError as error:  # the platform is down: say so, but do not flag the token
        Connection.objects.filter(pk=connection.pk).update(checked_at=timezone.now(), problem=f"Last check failed: {error}")
    else:
        Connection.objects.filter(pk=connection.pk).update(
            checked_at=timezone.now(), problem="", **({"account_name": name} if name else {})
        )
    connection.refresh_from_db()
    return connection


def check_due_connections(now=None) -> int:
    """The daily check: every connection not checked for CONNECTION_CHECK_HOURS."""
    now = now or timezone.now()
    due = Connection.objects.filter(status=Connection.Status.CONNECTED).exclude(
        checked_at__gte=now - timedelta(hours=settings.CONNECTION_CHECK_HOURS)
    ).select_related("channel")
    count = 0
    for connection in due:
        check_connection(connection.channel)
        count += 1
    return count


def disconnect(channel, *, by) -> None:
    """Erase the channel's tokens; its posts go to the local outbox again."""
    with transaction.atomic():
        Connection.objects.filter(channel=channel).delete()
        type(channel).objects.filter(pk=channel.pk).update(connector="outbox")
        channel.connector = "outbox"
        AuditEntry.objects.create(
            actor=by, action="channel.disconnected", channel=channel,
            summary=f"'{channel}' disconnected from its platform: tokens erased, posts go to the local outbox",
        )
