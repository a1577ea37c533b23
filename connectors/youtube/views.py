"""The headteacher connects the school's YouTube channel from the channel's page, through Google's
OAuth consent screen."""

import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST
from google_auth_oauthlib.flow import Flow

from connectors.base import ConnectorError
from connectors.views import channel_for_headteacher
from connectors.youtube import client, connect


def _youtube_flow(request, state=None):
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
    channel = channel_for_headteacher(request, pk, "youtube")
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
    channel = channel_for_headteacher(request, pending["channel"], "youtube")
    if "error" in request.GET:
        messages.error(request, f"Google did not connect the channel: {request.GET['error']}.")
        return redirect("channel", pk=channel.pk)
    try:
        flow = _youtube_flow(request, state=pending["state"])
        flow.code_verifier = pending["verifier"]
        flow.fetch_token(code=request.GET.get("code", ""))
        if not flow.credentials.refresh_token:
            raise ConnectorError("Google gave no refresh token. Remove the app's access in the Google account and connect again.")
        connection = connect.connect(channel, json.loads(flow.credentials.to_json()), by=request.user)
    except ConnectorError as error:
        messages.error(request, f"Not connected: {error}")
    except Exception as error:  # oauthlib's refusals (a used code, a wrong client): say so, change nothing
        messages.error(request, f"Not connected: Google refused the answer ({error.__class__.__name__}: {error}).")
    else:
        messages.success(request, f"Connected to the YouTube channel '{connection.account_name}'. Videos for this channel now go to YouTube, private.")
    return redirect("channel", pk=channel.pk)
