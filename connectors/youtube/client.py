"""google-api-python-client, set up the way the product needs it: built offline from the bundled
discovery document with its root address a setting (an emulator in the tests), an HTTP client that
leaves 308 to the resumable protocol, and a timeout on every call."""

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import googleapiclient
import httplib2
from django.conf import settings
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build_from_document

SCOPES = ["https://www.googleapis.com/auth/youtube.force-ssl"]  # insert, thumbnails, delete and comments


@lru_cache(maxsize=1)
def _bundled_document() -> str:
    return (Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "youtube.v3.json").read_text()


def document(root_url: str) -> dict:
    doc = json.loads(_bundled_document())
    root = root_url if root_url.endswith("/") else root_url + "/"
    doc["rootUrl"] = doc["mtlsRootUrl"] = doc["baseUrl"] = root
    return doc


def plain_http() -> httplib2.Http:
    http = httplib2.Http(timeout=settings.CONNECTOR_TIMEOUT)
    # 308 means "resume incomplete" to YouTube's uploads, not a redirect.
    http.redirect_codes = http.redirect_codes - {308}
    return http


def credentials(info: dict) -> Credentials:
    """The stored tokens as credentials. Built by hand because from_authorized_user_info always
    puts Google's own token address in, and the token address is a setting here."""
    expiry = info.get("expiry")
    return Credentials(
        token=info.get("token"), refresh_token=info["refresh_token"], token_uri=settings.GOOGLE_TOKEN_URI,
        client_id=info["client_id"], client_secret=info["client_secret"], scopes=info.get("scopes") or SCOPES,
        # A stored token without its expiry is treated as expired: the first call refreshes it.
        expiry=datetime.strptime(expiry.rstrip("Z").split(".")[0], "%Y-%m-%dT%H:%M:%S") if expiry else datetime(1970, 1, 1),
    )


def service(creds: Credentials):
    http = AuthorizedHttp(creds, http=plain_http())
    return build_from_document(document(settings.YOUTUBE_API_URL), http=http), http


class RecordingHttp:
    """Passes requests through, and reports a resumable upload's address the moment the server gives
    it, before the first byte of the video is sent."""

    def __init__(self, http, on_location):
        self.http, self.on_location = http, on_location

    def request(self, uri, method="GET", body=None, headers=None, **kwargs):
        resp, content = self.http.request(uri, method, body=body, headers=headers, **kwargs)
        if method == "POST" and resp.status == 200 and "location" in resp:
            self.on_location(resp["location"])
        return resp, content
