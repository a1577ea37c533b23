"""facebook-sdk, set up the way the product needs it: a configured Graph version and address,
a timeout on every call, and the HTTP status of the last answer kept for the error handling."""

import facebook
import requests
from django.conf import settings


class GraphSession(requests.Session):
    """Sends the SDK's calls to the configured Graph address (an emulator in the tests) and keeps
    the last answer, whose HTTP status the SDK's errors do not carry."""

    def __init__(self, base_url: str):
        super().__init__()
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.last_response: requests.Response | None = None

    def request(self, method, url, *args, **kwargs):
        if url.startswith(facebook.FACEBOOK_GRAPH_URL):
            url = self.base_url + url[len(facebook.FACEBOOK_GRAPH_URL):]
        self.last_response = None
        response = super().request(method, url, *args, **kwargs)
        self.last_response = response
        return response


def graph(access_token: str | None) -> facebook.GraphAPI:
    session = GraphSession(settings.FACEBOOK_GRAPH_URL)
    # The SDK accepts only versions up to 3.1 when it is built; the version is only used in paths.
    api = facebook.GraphAPI(access_token=access_token, timeout=settings.CONNECTOR_TIMEOUT, version="3.1", session=session)
    api.version = settings.FACEBOOK_GRAPH_VERSION
    return api
