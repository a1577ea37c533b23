"""The headteacher checks and disconnects a channel's platform account from its page; each platform's
package has its own page for connecting (connectors/facebook/views.py, connectors/youtube/views.py)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from config.school.roles import HEADTEACHER, has_role
from connectors import services
from connectors.models import Channel


def channel_for_headteacher(request, pk, kind=None) -> Channel:
    if not (request.user.has_perm("connectors.approve_channel") and has_role(request.user, HEADTEACHER)):
        raise PermissionDenied("Only the headteacher connects a channel to its platform.")
    channel = get_object_or_404(Channel, pk=pk)
    if kind and channel.kind != kind:
        raise PermissionDenied(f"'{channel}' is not a {services.PLATFORM_NAMES[kind]}.")
    return channel


@require_POST
def check(request, pk):
    channel = channel_for_headteacher(request, pk)
    connection = services.check_connection(channel)
    if connection is None:
        messages.error(request, "This channel is not connected to a platform.")
    elif connection.usable and not connection.problem:
        messages.success(request, f"The connection works: Facebook or YouTube accepted the stored token for '{connection.account_name}'.")
    else:
        messages.error(request, f"{connection.get_status_display()}: {connection.problem}")
    return redirect("channel", pk=pk)


@require_POST
def disconnect(request, pk):
    channel = channel_for_headteacher(request, pk)
    services.disconnect(channel, by=request.user)
    messages.success(request, f"'{channel}' is disconnected: its tokens are erased and its posts go to the local outbox.")
    return redirect("channel", pk=pk)
