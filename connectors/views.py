"""The headteacher connects, checks and disconnects a channel's platform account from its page."""

import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from config.school.roles import HEADTEACHER, has_role
from connectors import services
from connectors.base import ConnectorError
from connectors.facebook import connect as facebook_connect
from connectors.forms import FacebookConnectForm
from connectors.models import Channel
from connectors.youtube import client
from connectors.youtube import connect as youtube_connect


def _channel_for_headteacher(request, pk, kind=None) -> Channel:
    if not (request.user.has_perm("connectors.approve_channel") and has_role(request.user, HEADTEACHER)):
        raise PermissionDenied("Only the headteacher connects a channel to its platform.")
    channel = get_object_or_404(Channel, pk=pk)
    if kind and channel.kind != kind:
        raise PermissionDenied(f"'{channel}' is not a {services.PLATFORM_NAMES[kind]}.")
    return channel


@require_POST
def check(request, pk):
    channel = _channel_for_headteacher(request, pk)
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
    channel = _channel_for_headteacher(request, pk)
    services.disconnect(channel, by=request.user)
    messages.success(request, f"'{channel}' is disconnected: its tokens are erased and its posts go to the local outbox.")
    return redirect("channel", pk=pk)


def connect_facebook(request, pk):

    channel = _channel_for_headteacher(request, pk, "facebook")
    form = FacebookConnectForm(request.POST or None, initial={"app_id": settings.FACEBOOK_APP_ID, "page_id": channel.platform_account_id})
    if request.method == "POST" and form.is_valid():
        try:
            connection = facebook_connect.connect(channel, by=request.user, **form.cleaned_data)
        except ConnectorError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Connected to the Facebook Page '{connection.account_name}'. Posts for this channel now go to Facebook.")
            return redirect("channel", pk=pk)
    return render(request, "connectors/connect_facebook.html", {"channel": channel, "form": form, "permissions": facebook_connect.PERMISSIONS})


def _youtube_flow(request, state=None):
    from google_auth_oauthlib.flow import Flow


    if not settings.GOOGLE_OAUTH_CLIENT_FILE:
        raise ConnectorError(
            "Connecting from this page needs an OAuth client of the 'Web application' type, whose JSON file GOOGLE_OAUTH_CLIENT_FILE names "
            "(see the README). Without it, use `python manage.py connect_youtube` on the server."
        )
    try:
        flow = Flow.from_client_secrets_file(settings.GOOGLE_OAUTH_CLIENT_FILE, scopes=client.SCOPES, state=state)
    except (OSError, ValueError, KeyError) as error:
        raise ConnectorError(f"The OAuth client file could not be read: {error}") from error
    flow.redirect_uri = request.build_absolute_uri(reverse("connect_youtube_done"))
    return flow


@require_POST
def connect_youtube(request, pk):
    channel = _channel_for_headteacher(request, pk, "youtube")
    try:
        flow = _youtube_flow(request)
    except ConnectorError as error:
        messages.error(request, str(error))
        return redirect("channel", pk=pk)
    address, state = flow.authorization_url(prompt="consent", access_type="offline")
    request.session["youtube_connect"] = {"channel": channel.pk, "state": state, "verifier": flow.code_verifier}
    return redirect(address)


def connect_youtube_done(request):

    pending = request.session.pop("youtube_connect", None)
    if not pending or request.GET.get("state") != pending["state"]:
        raise PermissionDenied("This answer from Google does not belong to a connection started here. Start again from the channel's page.")
    channel = _channel_for_headteacher(request, pending["channel"], "youtube")
    if "error" in request.GET:
        messages.error(request, f"Google did not connect the channel: {request.GET['error']}.")
        return redirect("channel", pk=channel.pk)
    try:
        flow = _youtube_flow(request, state=pending["state"])
        flow.code_verifier = pending["verifier"]
        flow.fetch_token(code=request.GET.get("code", ""))
        if not flow.credentials.refresh_token:
            raise ConnectorError("Google gave no refresh token. Remove the app's access in the Google account and connect again.")
        connection = youtube_connect.connect(channel, json.loads(flow.credentials.to_json()), by=request.user)
    except ConnectorError as error:
        messages.error(request, f"Not connected: {error}")
    except Exception as error:  # oauthlib's refusals (a used code, a wrong client): say so, change nothing
        messages.error(request, f"Not connected: Google refused the answer ({error.__class__.__name__}: {error}).")
    else:
        messages.success(request, f"Connected to the YouTube channel '{connection.account_name}'. Videos for this channel now go to YouTube, private.")
    return redirect("channel", pk=channel.pk)
