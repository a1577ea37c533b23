"""Connecting the school's private YouTube channel with Google's OAuth flow for installed apps.

The school makes an OAuth client of the "Desktop app" type in its Google Cloud project and
downloads its JSON. The flow opens Google's consent page in a browser, listens on a local port
for the answer, and gets a refresh token. Only the tokens are stored, encrypted.
"""

import json

from django.conf import settings
from google_auth_oauthlib.flow import InstalledAppFlow

from connectors import services
from connectors.base import ConnectorError
from connectors.models import Connection
from connectors.youtube import client
from connectors.youtube.connector import YouTubeConnector


def flow_from_file(path) -> InstalledAppFlow:
    try:
        return InstalledAppFlow.from_client_secrets_file(str(path), scopes=client.SCOPES)
    except (OSError, ValueError, KeyError) as error:
        raise ConnectorError(f"The OAuth client file {path} could not be read: {error}. Download it again from the Google Cloud console (type: Desktop app).") from error


def authorise(flow: InstalledAppFlow, *, open_browser: bool, say) -> dict:
    creds = flow.run_local_server(
        port=0, prompt="consent", access_type="offline", open_browser=open_browser,
        authorization_prompt_message="Open this address in a browser signed in to the school's YouTube account:\n{url}",
        success_message="The school's YouTube channel is connected. You can close this window.",
    )
    say("Google answered; checking the channel.")
    if not creds.refresh_token:
        raise ConnectorError("Google gave no refresh token. Remove the app's access in the Google account and connect again.")
    return json.loads(creds.to_json())


def connect(channel, info: dict, *, by):
    info = {**info, "token_uri": settings.GOOGLE_TOKEN_URI}
    probe = Connection(channel=channel, platform="youtube", account_id="")
    probe.set_credentials(info)
    connector = YouTubeConnector(channel, probe)
    answer = connector._execute("name the channel", connector.api.channels().list(part="id,snippet", mine=True), 1)
    items = answer.get("items") or []
    if not items:
        raise ConnectorError("That Google account has no YouTube channel. Sign in with the school's channel account.")
    if channel.platform_account_id and items[0]["id"] != channel.platform_account_id:
        raise ConnectorError(f"That account manages channel {items[0]['id']}, not {channel.platform_account_id} named on the channel's record.")
    return services.save_connection(
        channel, platform="youtube", account_id=items[0]["id"], account_name=items[0]["snippet"].get("title", ""),
        credentials=json.loads(connector.creds.to_json()), by=by,
    )
